"""Small leaks and hardening: answers that tell existing from missing ids, sessions outliving a
password change, a lockout anyone can cause, framing, world-readable data files, disk full."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.security.gradio_raw import signed_in
from tests.ui.server import PASSWORDS, Running, serve
from tests.ui.test_handlers import client

ROOT = Path(__file__).resolve().parents[2]


def test_feedback_on_someone_elses_answer_reads_like_a_missing_one(web: Running) -> None:
    alice = web.service.actor("alice")
    answer = web.service.ask("When does the cafeteria serve lunch?", alice)
    assert answer.message_id is not None
    bob = client(web, "bob")
    messages = []
    for message_id in (answer.message_id, 10**9):
        with pytest.raises(AppError) as refused:
            bob.predict(message_id, True, api_name="/rate")
        messages.append(str(refused.value).replace(str(message_id), "N"))
    assert messages[0] == messages[1]


def test_a_password_change_ends_existing_sessions(tmp_path: Path) -> None:
    with serve(tmp_path) as web:
        page = signed_in(web, "alice")
        assert page.get("/documents/1/file").status_code == 200
        assert page.get("/config").status_code == 200
        web.service.accounts.set_password("alice", "alice-new-password", web.service.actor(None))  # kb users passwd
        assert page.get("/documents/1/file").status_code == 401
        assert page.get("/gradio_api/info").status_code == 401
        assert page.get("/config").status_code == 401
        Client(web.url, auth=("alice", "alice-new-password"), verbose=False).predict(api_name="/whoami")


def test_wrong_passwords_from_one_address_do_not_lock_the_owner_out(web: Running) -> None:
    attacker = httpx.Client(base_url=web.url, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    for _ in range(8):
        assert attacker.post("/login", data={"username": "admin", "password": "guess"}).status_code == 400
    right = {"username": "admin", "password": PASSWORDS["admin"]}
    assert attacker.post("/login", data=right).status_code == 400  # that address is slowed down
    assert httpx.post(f"{web.url}/login", data=right).status_code == 200  # the owner, elsewhere, is not


def test_the_page_cannot_be_framed(web: Running) -> None:
    for path in ("/", "/login", "/v1/models"):
        response = httpx.get(f"{web.url}{path}")
        assert response.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
        assert response.headers["x-content-type-options"] == "nosniff"


def test_data_files_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    env = {**os.environ, "KB_DATA_DIR": str(tmp_path / "data"), "KB_EMBEDDER": "hashing-64", "PYTHONPATH": str(ROOT)}
    note = tmp_path / "note.txt"
    note.write_text("The library opens at nine.", encoding="utf-8")
    command = [sys.executable, "-c", "from app.cli import main; main()", "ingest", "--no-progress", str(note)]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)
    files = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert files and all(p.stat().st_mode & 0o077 == 0 for p in files), [
        (str(p), oct(p.stat().st_mode)) for p in files if p.stat().st_mode & 0o077
    ]


@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    folder = tmp_path / "small"
    folder.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_is_a_clear_refusal_and_loses_nothing(small_disk: Path) -> None:
    with serve(small_disk) as web:
        admin = web.service.actor(None)
        api = httpx.Client(
            base_url=web.url, headers={"Authorization": f"Bearer {web.service.create_api_key(admin)}"}, timeout=120
        )
        before = {d.file_name for d in web.service.list_documents(admin)}
        filler = small_disk / "filler"
        with filler.open("wb") as out:  # fill the disk to the last block
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass
        minutes = ("Minutes of the board meeting: the budget for 2027 was approved. " * 3000).encode()
        response = api.post("/v1/documents", files={"file": ("minutes.txt", minutes)})
        assert response.status_code == 503, response.text
        assert "disk is full" in response.json()["error"]["message"]
        assert {d.file_name for d in web.service.list_documents(admin)} == before
        filler.unlink()
        response = api.post("/v1/documents", files={"file": ("minutes.txt", minutes)})
        assert response.status_code == 200 and response.json()[0]["outcome"] == "ok", response.text
        docs = [d.file_name for d in web.service.list_documents(admin)]
        assert docs.count("minutes.txt") == 1
        assert web.kb.check() == []
