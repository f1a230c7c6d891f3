"""What the server does at start after damage: a deleted or truncated vector index is rebuilt from
SQL (loudly, in the log), members never see the server's paths, and documents that a killed run
left queued are finished, all through the real wiring (open_service: SQLite, FAISS, the writer
lock, the writer queue) with the fake model."""

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from app.errors import INDEX_DAMAGED, user_message
from app.service import KnowledgeService
from app.settings import Settings
from app.wiring import open_service
from tests.app.fake_llm import FakeEngine

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def service_on(data_dir: Path) -> Iterator[KnowledgeService]:
    settings = Settings(data_dir=data_dir, embedder="hashing-64", _env_file=None)  # type: ignore[call-arg]
    with open_service(settings, engine=FakeEngine()) as service:
        yield service


def _found(service: KnowledgeService, question: str, who: str = "admin") -> set[str]:
    hits = service.kb.reads.search(question, service.actor(who), k=5)
    return {h.chunk.text for h in hits}


@pytest.fixture
def seeded(data_dir: Path, write_text: object) -> Path:
    note = write_text("parking.txt", "Parking is free for employees in garage B on level two.")  # type: ignore[operator]
    with service_on(data_dir) as service:
        service.ingest([note], service.actor(None))
    return data_dir


def test_a_deleted_index_is_rebuilt_at_start_and_said_so(seeded: Path, caplog: pytest.LogCaptureFixture) -> None:
    (seeded / "index.faiss").unlink()
    with service_on(seeded) as service, caplog.at_level(logging.WARNING):
        assert not any("garage B" in t for t in _found(service, "parking garage"))  # before the repair
        assert any("is missing while" in r.getMessage() for r in caplog.records)  # not silent
        service.recover()
        assert any("lacked 1 ready chunks: 1 re-embedded" in r.getMessage() for r in caplog.records)
        assert any("garage B" in t for t in _found(service, "parking garage"))
        assert service.kb.check() == []


def test_a_truncated_index_is_set_aside_and_rebuilt(seeded: Path, caplog: pytest.LogCaptureFixture) -> None:
    index = seeded / "index.faiss"
    index.write_bytes(index.read_bytes()[:40])
    with service_on(seeded) as service:
        with pytest.raises(Exception) as refused:
            service.ask("Where is parking?", service.actor("admin"))
        message = user_message(refused.value)
        assert message == INDEX_DAMAGED and str(seeded) not in message  # no server path for members
        with caplog.at_level(logging.ERROR):
            service.recover()
        assert any("rebuilding the index" in r.getMessage() for r in caplog.records)
        assert list(seeded.glob("index.faiss.unreadable-*"))
    with service_on(seeded) as service:  # a fresh process reads the rebuilt file
        assert any("garage B" in t for t in _found(service, "parking garage"))


def _statuses(data_dir: Path) -> list[str]:
    """Document statuses as another process sees them (read-only; empty before the schema exists)."""
    try:
        with closing(sqlite3.connect(f"file:{data_dir / 'kb.sqlite3'}?mode=ro", uri=True, timeout=5)) as db:
            return [row[0] for row in db.execute("SELECT status FROM documents")]
    except sqlite3.OperationalError:  # locked by the writer for a moment, or not created yet
        return []


def _ingest_killed_mid_work(data_dir: Path, files: list[Path]) -> bool:
    """Run `kb ingest` in a child and SIGKILL it once every file is registered and one is being
    parsed or embedded: watched in the database, not guessed by a delay (startup time varies a
    lot on a loaded machine). False when the child finished before that state was seen."""
    env = {**os.environ, "KB_DATA_DIR": str(data_dir), "KB_EMBEDDER": "hashing-64", "PYTHONPATH": str(ROOT)}
    env.pop("KB_DATABASE_URL", None)
    command = [sys.executable, "-c", "from app.cli import main; main()", "ingest", "--no-progress", *map(str, files)]
    child = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 300
    try:
        while child.poll() is None and time.monotonic() < deadline:
            statuses = _statuses(data_dir)
            if len(statuses) == len(files) and any(s in ("parsing", "embedding") for s in statuses):
                os.killpg(child.pid, signal.SIGKILL)
                return True
            time.sleep(0.01)
        return False
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def test_documents_interrupted_by_a_kill_finish_at_the_next_start(
    data_dir: Path, sample_pdfs: tuple[Path, Path]
) -> None:
    footlocker, aapl = sample_pdfs
    with service_on(data_dir):
        pass  # the schema exists, as after a first start
    assert _ingest_killed_mid_work(data_dir, [footlocker, aapl]), "the ingest finished before it could be killed"
    with service_on(data_dir) as service:
        unfinished = [d for d in service.list_documents(service.actor(None)) if d.status != "ready"]
        assert unfinished  # the kill left work behind
        resumed = service.recover()
        assert {r.file_name for r in resumed} == {d.file_name for d in unfinished}
        statuses = {d.file_name: d.status for d in service.list_documents(service.actor(None))}
        assert statuses == {aapl.name: "ready", footlocker.name: "ready"}, statuses
        assert service.kb.check() == []
