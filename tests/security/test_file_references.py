"""A signed-in member must never make the server read, copy or serve its own files through the
page: forged Gradio file references (any path, the data folder, another user's upload, URLs) are
refused before Gradio touches them, and nothing lands in the upload cache or the knowledge base."""

import os
import socket
from pathlib import Path

from tests.security.gradio_raw import call, file_ref, handlers, signed_in
from tests.ui.server import Running


def _cache_files() -> set[str]:
    folder = Path(os.environ["GRADIO_TEMP_DIR"])
    return {str(p) for p in folder.rglob("*") if p.is_file()}


def _forged_paths(web: Running, tmp_path: Path) -> list[str]:
    outside = tmp_path / "outside.txt"
    outside.write_text("A server file nobody uploaded: Pelican-Forge-4410.", encoding="utf-8")
    inside = web.data_dir / "planted.md"
    inside.write_text("Planted in the data folder: Pelican-Forge-4410.", encoding="utf-8")
    return [
        str(outside),
        str(inside),
        str(web.data_dir / "kb.sqlite3"),
        "/etc/passwd",
        str(web.data_dir / ".." / "data" / "kb.sqlite3"),
        "http://127.0.0.1:1/secret.txt",
    ]


def test_forged_file_references_are_refused_before_gradio(web: Running, tmp_path: Path) -> None:
    bob = signed_in(web, "bob")
    upload = handlers(bob)["upload"]
    before_docs = {d.file_name for d in web.service.list_documents(web.service.actor(None))}
    before_cache = _cache_files()
    for path in _forged_paths(web, tmp_path):
        status, reply = call(bob, upload, [[file_ref(path)], []])
        assert status == 403, (path, status, reply)
        # the same reference hidden in another handler's input, or in a field of its own
        status, _ = call(bob, handlers(bob)["ask"], [{"text": "hi", "files": [file_ref(path)]}, [], None])
        assert status == 403, path
    assert _cache_files() == before_cache  # nothing was copied into Gradio's cache
    after_docs = {d.file_name for d in web.service.list_documents(web.service.actor(None))}
    assert after_docs == before_docs
    for path in _forged_paths(web, tmp_path):
        response = bob.get(f"/gradio_api/file={path}")
        assert response.status_code in (403, 404), path
        assert b"Pelican" not in response.content and b"SQLite" not in response.content
    assert bob.get("/gradio_api/proxy=http://127.0.0.1:1/x").status_code == 403


def test_a_file_uploaded_by_someone_else_cannot_be_claimed(web: Running, tmp_path: Path) -> None:
    note = tmp_path / "alice-draft.txt"
    note.write_text("Alice's draft: the bonus pool is 4.2 million.", encoding="utf-8")
    alice, bob = signed_in(web, "alice"), signed_in(web, "bob")
    with note.open("rb") as raw:
        uploaded = alice.post("/gradio_api/upload", files={"files": (note.name, raw)})
    assert uploaded.status_code == 200
    (path,) = uploaded.json()
    assert alice.get(f"/gradio_api/file={path}").status_code == 200  # her own upload shows in her page
    assert bob.get(f"/gradio_api/file={path}").status_code == 404
    status, _ = call(bob, handlers(bob)["upload"], [[file_ref(path)], []])
    assert status == 403
    assert "alice-draft.txt" not in {d.file_name for d in web.service.list_documents(web.service.actor(None))}
    status, reply = call(alice, handlers(alice)["upload"], [[file_ref(path)], []])  # the real flow works
    assert status == 200 and reply.get("success") is True, reply
    assert "alice-draft.txt" in {d.file_name for d in web.service.list_documents(web.service.actor(None))}


def test_uploads_need_a_session_and_a_bound_before_the_body_is_read(web: Running) -> None:
    anonymous = signed_in(web, None)
    assert anonymous.post("/gradio_api/upload", files={"files": ("a.txt", b"x")}).status_code == 401
    bob = signed_in(web, "bob")
    cookie = "; ".join(f"{k}={v}" for k, v in bob.cookies.items())
    host, port = web.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:  # a terabyte announced, 5 bytes sent
        raw.sendall(
            b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\nCookie: " + cookie.encode() + b"\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 1000000000000\r\n\r\n--x\r\n"
        )
        assert raw.recv(200).startswith(b"HTTP/1.1 413")
    event = {"data": ["x" * 400_000], "fn_index": 0, "session_hash": "s"}
    assert bob.post("/gradio_api/queue/join", json=event).status_code == 413


def test_the_upload_cache_is_private_to_the_server(web: Running) -> None:
    folder = Path(os.environ["GRADIO_TEMP_DIR"])
    assert folder.stat().st_mode & 0o077 == 0
    assert folder.name.startswith(f"kb-uploads-{os.getpid()}-")
