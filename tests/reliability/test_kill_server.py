"""SIGKILL the whole server (API, page, ingestion, answering) at random moments while clients
upload documents and ask questions; restart it and check that nothing acknowledged was lost or
duplicated, that interrupted documents finish, and that SQL and FAISS agree. A few rounds run in
the ordinary suite, on SQLite and on PostgreSQL; `pytest -m soak tests/reliability` runs 100."""

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from app.settings import Settings
from app.wiring import open_service
from tests.app.fake_llm import FakeEngine

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261202
PASSAGE = "Memo {n}: the {topic} review for team {n} takes place in room {room} on floor {floor}."
TOPICS = ("budget", "security", "hiring", "travel", "safety", "pricing")


@dataclass
class Ledger:
    acknowledged: set[str] = field(default_factory=set)  # uploads answered 200 "ok"
    sent: set[str] = field(default_factory=set)
    answers: int = 0
    errors: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(data_dir: Path, database_url: str | None) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url, embedder="hashing-64", _env_file=None)  # type: ignore[call-arg]


@contextmanager
def server(data_dir: Path, database_url: str | None, key: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    env = {**os.environ, "KB_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env.pop("KB_DATABASE_URL", None)
    if database_url:
        env["KB_DATABASE_URL"] = database_url
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.server_process", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        os.killpg(child.pid, signal.SIGKILL)
        raise AssertionError("the server did not start")
    try:
        yield child, url
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def _clients(url: str, key: str, round_no: int, ledger: Ledger, stop: threading.Event) -> list[threading.Thread]:
    headers = {"Authorization": f"Bearer {key}"}

    def upload() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            n = 0
            while not stop.is_set():
                name = f"memo-{round_no}-{n}.txt"
                text = PASSAGE.format(n=f"{round_no}-{n}", topic=TOPICS[n % len(TOPICS)], room=100 + n, floor=n % 9)
                ledger.sent.add(name)
                try:
                    response = http.post("/v1/documents", files={"file": (name, text.encode())})
                except httpx.HTTPError:
                    return  # the server is gone
                if response.status_code == 200 and response.json()[0]["outcome"] == "ok":
                    ledger.acknowledged.add(name)
                elif response.status_code != 503:
                    ledger.errors.append(f"upload {name}: {response.status_code} {response.text[:200]}")
                n += 1

    def ask() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            while not stop.is_set():
                body = {"model": "kb", "messages": [{"role": "user", "content": "Where is the budget review?"}]}
                try:
                    response = http.post("/v1/chat/completions", json=body)
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    ledger.answers += 1
                elif response.status_code != 503:
                    ledger.errors.append(f"ask: {response.status_code} {response.text[:200]}")

    return [threading.Thread(target=upload), threading.Thread(target=ask), threading.Thread(target=ask)]


def _check(data_dir: Path, database_url: str | None, ledger: Ledger) -> tuple[int, int]:
    """(documents, lost) after a restart's recovery: every acknowledged upload present once, ready."""
    with open_service(_settings(data_dir, database_url), engine=FakeEngine()) as service:
        admin = service.actor(None)
        service.recover()  # what every start of the server does first (ui.serve._recover)
        docs = service.list_documents(admin)
        names = [d.file_name for d in docs]
        assert len(names) == len(set(names)), "a document was duplicated"
        assert all(d.status == "ready" for d in docs), [(d.file_name, d.status, d.error) for d in docs]
        lost = ledger.acknowledged - set(names)
        assert set(names) <= ledger.sent | {"handbook.txt"}
        assert service.kb.check() == []
        return len(names), len(lost)


def run_rounds(data_dir: Path, database_url: str | None, rounds: int) -> dict[str, int]:
    with open_service(_settings(data_dir, database_url), engine=FakeEngine()) as service:
        key = service.create_api_key(service.actor(None))
    rng = random.Random(SEED)
    ledger = Ledger()
    killed = 0
    for round_no in range(rounds):
        with server(data_dir, database_url, key) as (child, url):
            stop = threading.Event()
            clients = _clients(url, key, round_no, ledger, stop)
            for t in clients:
                t.start()
            time.sleep(rng.uniform(0.5, 6.0))
            os.killpg(child.pid, signal.SIGKILL)  # mid-upload, mid-answer, mid-embedding: wherever it is
            child.wait()
            killed += 1
            stop.set()
            for t in clients:
                t.join(timeout=30)
        documents, lost = _check(data_dir, database_url, ledger)
        assert lost == 0, f"round {round_no}: {lost} acknowledged uploads lost"
    assert not ledger.errors, ledger.errors[:5]
    with server(data_dir, database_url, key) as (_, url):  # and it still answers afterwards
        body = {"model": "kb", "messages": [{"role": "user", "content": "Where is the budget review?"}]}
        response = httpx.post(f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200
    report = {
        "rounds": rounds,
        "killed": killed,
        "acknowledged": len(ledger.acknowledged),
        "documents": documents,
        "answers": ledger.answers,
        "lost": 0,
    }
    print(report)
    return report


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_kill_the_server_at_random_moments(database: str, data_dir: Path, request: pytest.FixtureRequest) -> None:
    url = str(request.getfixturevalue("postgres_url")) if database == "postgresql" else None
    report = run_rounds(data_dir, url, rounds=3)
    assert report["acknowledged"] > 0 and report["answers"] > 0


@pytest.mark.soak
@pytest.mark.timeout(5400)
def test_kill_the_server_100_times(data_dir: Path) -> None:
    report = run_rounds(data_dir, None, rounds=100)
    # The rounds did real work (an upload takes 2-3 s, a round 0.5-6 s): first run, 2026-12-02:
    # 64 uploads acknowledged, 158 documents, 5,020 answers, nothing lost.
    assert report["acknowledged"] >= 25 and report["answers"] >= 500
