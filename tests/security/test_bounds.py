"""Work an ordinary member (or nobody) can make the server do is bounded before it starts: long
questions, huge bodies announced or streamed, anonymous event streams, many uploads at once."""

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.security.gradio_raw import call, handlers, signed_in
from tests.ui.server import Running, serve


def _api(web: Running, name: str) -> httpx.Client:
    key = web.service.create_api_key(web.service.actor(name))
    return httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}, timeout=120)


def _raw_post(web: Running, path: str, headers: str, body: bytes = b"x") -> bytes:
    """Announce a huge body, send a few bytes, read what the server answers from the headers."""
    host, port = web.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: 1000000000000\r\n\r\n".encode() + body
        )
        return raw.recv(300)


def test_an_overlong_question_is_refused_before_any_work(web: Running) -> None:
    asked = len(web.engine.generated)
    long_question = "What is the parking policy? " * 2000  # 56 kB
    bob = _api(web, "bob")
    response = bob.post(
        "/v1/chat/completions", json={"model": "kb", "messages": [{"role": "user", "content": long_question}]}
    )
    assert response.status_code == 400 and "characters long" in response.json()["error"]["message"]
    history = [{"role": "user", "content": long_question}, {"role": "assistant", "content": "ok"}]
    response = bob.post(
        "/v1/chat/completions", json={"model": "kb", "messages": [*history, {"role": "user", "content": "And lunch?"}]}
    )
    assert response.status_code == 400
    page = signed_in(web, "bob")
    status, reply = call(page, handlers(page)["ask"], ["Lunch? " * 1000, None, ""])  # question, conversation, search
    assert status == 200 and "characters long" in str(reply), reply
    assert len(web.engine.generated) == asked  # the model never ran
    assert bob.post("/v1/chat/completions", content=b"{" + b" " * 2_000_000 + b"}").status_code == 413


@pytest.mark.parametrize(
    ("who", "expected"), [(None, b"HTTP/1.1 401"), ("bob", b"HTTP/1.1 413")], ids=["anonymous", "member"]
)
def test_a_huge_api_upload_is_refused_from_its_headers(web: Running, who: str | None, expected: bytes) -> None:
    auth = f"Authorization: Bearer {web.service.create_api_key(web.service.actor(who))}\r\n" if who else ""
    answer = _raw_post(web, "/v1/documents", auth + "Content-Type: multipart/form-data; boundary=x\r\n")
    assert answer.startswith(expected), answer


def test_nothing_under_gradio_api_for_anonymous_callers(web: Running) -> None:
    anonymous = httpx.Client(base_url=web.url, timeout=5)
    for path in ("/gradio_api/heartbeat/x", "/gradio_api/queue/data?session_hash=x", "/gradio_api/info"):
        assert anonymous.get(path).status_code == 401, path
    assert anonymous.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0}).status_code == 401


def test_parallel_api_uploads_queue_instead_of_failing(web: Running) -> None:
    admin = _api(web, "admin")
    outcomes: list[int] = []

    def upload(i: int) -> None:
        text = f"Meeting note {i}: the quarterly review {i} is in room {100 + i}."
        response = admin.post("/v1/documents", files={"file": (f"note-{i}.txt", text.encode())})
        outcomes.append(response.status_code)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert outcomes == [200] * 12, outcomes
    names = {d.file_name for d in web.service.list_documents(web.service.actor(None)) if d.status == "ready"}
    assert {f"note-{i}.txt" for i in range(12)} <= names


def test_past_the_question_line_the_api_answers_busy_at_once(tmp_path: Path) -> None:
    """Two questions hold the line (the model is blocked until the test lets it go); every further
    question, streamed or not, is told 'busy' with Retry-After while those two still wait."""
    from tests.app.fake_llm import FakeEngine, best_source_sentence

    release = threading.Event()

    def blocked(messages: list) -> str:  # type: ignore[type-arg]
        release.wait(60)
        return best_source_sentence(messages)

    with serve(tmp_path, engine=FakeEngine(blocked), max_waiting_questions=2) as web:
        bob = _api(web, "bob")
        question = "When does the cafeteria serve lunch?"

        def ask(stream: bool) -> tuple[int, str | None]:
            body = {"model": "kb", "stream": stream, "messages": [{"role": "user", "content": question}]}
            response = bob.post("/v1/chat/completions", json=body)
            return response.status_code, response.headers.get("retry-after")

        held: list[tuple[int, str | None]] = []
        holders = [threading.Thread(target=lambda s=s: held.append(ask(s))) for s in (False, True)]
        for t in holders:
            t.start()
        deadline = time.monotonic() + 30
        while web.service.asking.waiting < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert web.service.asking.waiting == 2
        refused = [ask(stream) for stream in (False, True, False, True)]  # while the line is full
        assert not release.is_set()
        assert all(status == 503 and wait is not None and int(wait) >= 1 for status, wait in refused), refused
        release.set()
        for t in holders:
            t.join(timeout=60)
        assert [status for status, _ in held] == [200, 200]
        conversations = web.service.conversations(web.service.actor("bob"))
        assert all(web.service.messages(web.service.actor("bob"), c.id) for c in conversations)  # none left empty
