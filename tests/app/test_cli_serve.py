"""`kb serve` (what `make run` starts) comes up on loopback with the web page behind sign-in and
the API behind keys; on a first start it prints a one-time admin password that signs in."""

import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
KB = Path(sys.executable).with_name("kb")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kb_serve_starts_on_loopback_and_requires_authentication(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "KB_DATA_DIR": str(tmp_path),
        "KB_DEVICE": "cpu",
        "KB_EMBEDDER": "hashing-64",
        "PYTHONUNBUFFERED": "1",
    }
    server = subprocess.Popen(
        [str(KB), "serve", "--port", str(port)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.decode() for line in server.stdout or ()), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, "".join(lines)
            try:
                response = httpx.get(f"{base}/v1/models", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "kb serve did not come up"
                time.sleep(1)
        assert response.status_code == 401
        assert httpx.get(f"{base}/openapi.json", timeout=5).status_code == 200
        page = httpx.get(f"{base}/", timeout=10)
        assert page.status_code == 200 and '"auth_required":true' in page.text  # the sign-in form
        assert httpx.get(f"{base}/config", timeout=5).status_code == 401
        found = re.search(r"sign in as 'admin' with the password (\S+)", "".join(lines))
        assert found, "".join(lines)
        with httpx.Client(base_url=base, timeout=10) as browser:
            assert browser.post("/login", data={"username": "admin", "password": "wrong"}).status_code == 400
            assert browser.post("/login", data={"username": "admin", "password": found.group(1)}).status_code == 200
            assert browser.get("/config").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
