"""`kb serve` (what `make run` starts) comes up on loopback, serves the API and demands a key."""

import os
import socket
import subprocess
import sys
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
    env = {**os.environ, "KB_DATA_DIR": str(tmp_path), "KB_DEVICE": "cpu", "KB_EMBEDDER": "hashing-64"}
    server = subprocess.Popen(
        [str(KB), "serve", "--port", str(port)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "kb serve did not come up"
                time.sleep(1)
        assert response.status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
