"""Writers at once against a running server, on SQLite and on PostgreSQL: API uploads, page
uploads and shell commands (`kb ingest`, `kb keys create|revoke`, `kb users passwd`) from other
processes. Every document ends up ready exactly once, a key made in the shell works on the server
at once and stops at once when revoked, and everything acknowledged is still there after a
restart (the database never splits between the shell and the server)."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file

from app.wiring import open_service
from tests.app.fake_llm import FakeEngine
from tests.reliability.test_kill_server import ROOT, _settings, server


def kb(data_dir: Path, database_url: str | None, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "KB_DATA_DIR": str(data_dir), "KB_EMBEDDER": "hashing-64", "PYTHONPATH": str(ROOT)}
    env.pop("KB_DATABASE_URL", None)
    if database_url:
        env["KB_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-c", "from ui.cli import main; main()", *args],
        env=env, input=stdin, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_api_page_and_shell_write_at_once(
    database: str, data_dir: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue("postgres_url")) if database == "postgresql" else None
    with open_service(_settings(data_dir, url), engine=FakeEngine()) as service:
        admin = service.actor(None)
        key = service.create_api_key(admin)
        service.accounts.set_password("admin", "admin-password-1", admin)
    files = {}
    for origin, count in (("api", 6), ("page", 2), ("shell", 3)):
        for n in range(count):
            path = tmp_path / origin / f"{origin}-{n}.txt"
            path.parent.mkdir(exist_ok=True)
            path.write_text(f"Note {n} from the {origin}: the {origin} meeting {n} is in room {n + 10}.", "utf-8")
            files[path.name] = path
    statuses: list[str] = []
    with server(data_dir, url, key) as (_, base):
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=300)

        def api_upload(n: int) -> None:
            path = files[f"api-{n}.txt"]
            response = api.post("/v1/documents", files={"file": (path.name, path.read_bytes())})
            statuses.append(f"api {response.status_code}")

        def page_upload() -> None:
            # The login hashes a password while the server ingests: httpx's 5 s default once ran out.
            timeout = {"timeout": 300}
            page = Client(base, auth=("admin", "admin-password-1"), verbose=False, httpx_kwargs=timeout)
            page.predict([handle_file(files[f"page-{n}.txt"]) for n in range(2)], [], api_name="/upload")
            statuses.append("page done")

        def shell_ingest() -> None:
            kb(data_dir, url, "ingest", "--no-progress", *(str(files[f"shell-{n}.txt"]) for n in range(3)))
            statuses.append("shell done")

        threads = [threading.Thread(target=api_upload, args=(n,)) for n in range(6)]
        threads += [threading.Thread(target=page_upload), threading.Thread(target=shell_ingest)]
        for t in threads:
            t.start()
        shell_key = kb(data_dir, url, "keys", "create").strip().splitlines()[-1]  # meanwhile, in the shell
        assert httpx.get(f"{base}/v1/models", headers={"Authorization": f"Bearer {shell_key}"}).status_code == 200
        key_id = kb(data_dir, url, "keys", "list").strip().splitlines()[-1].split("\t")[0]
        kb(data_dir, url, "keys", "revoke", key_id)
        assert httpx.get(f"{base}/v1/models", headers={"Authorization": f"Bearer {shell_key}"}).status_code == 401
        for t in threads:
            t.join(timeout=600)
        assert sorted(statuses) == sorted(["api 200"] * 6 + ["page done", "shell done"]), statuses
    with server(data_dir, url, key) as (_, base):  # after a restart: everything acknowledged is there
        listed = httpx.get(f"{base}/v1/documents", headers={"Authorization": f"Bearer {key}"}).json()
        names = [d["file_name"] for d in listed]
        assert sorted(names) == sorted(files), names
        assert all(d["status"] == "ready" for d in listed)
        assert httpx.get(f"{base}/v1/models", headers={"Authorization": f"Bearer {shell_key}"}).status_code == 401
    with open_service(_settings(data_dir, url), engine=FakeEngine()) as service:
        assert service.kb.check() == []
