"""What the server does at start after damage: a deleted or truncated vector index is rebuilt from
SQL (loudly, in the log), members never see the server's paths, and documents that a killed run
left queued are finished, all through the real wiring (open_service: SQLite, FAISS, the writer
lock, the writer queue) with the fake model."""

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


def _ingest_killed(data_dir: Path, files: list[Path], after_s: float) -> bool:
    env = {**os.environ, "KB_DATA_DIR": str(data_dir), "KB_EMBEDDER": "hashing-64", "PYTHONPATH": str(ROOT)}
    env.pop("KB_DATABASE_URL", None)
    command = [sys.executable, "-c", "from app.cli import main; main()", "ingest", "--no-progress", *map(str, files)]
    child = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        child.wait(timeout=after_s)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return True


def test_documents_interrupted_by_a_kill_finish_at_the_next_start(
    data_dir: Path, sample_pdfs: tuple[Path, Path]
) -> None:
    footlocker, aapl = sample_pdfs
    for delay in (1.0, 1.5, 2.5, 4.0):  # until a kill lands mid-run with documents left unfinished
        with service_on(data_dir):
            pass  # the schema exists, as after a first start
        if not _ingest_killed(data_dir, [aapl, footlocker], delay):
            continue
        with service_on(data_dir) as service:
            unfinished = [d for d in service.list_documents(service.actor(None)) if d.status != "ready"]
            if not unfinished:
                continue
            started = time.monotonic()
            resumed = service.recover()
            assert {r.file_name for r in resumed} == {d.file_name for d in unfinished}
            statuses = {d.file_name: d.status for d in service.list_documents(service.actor(None))}
            assert statuses == {aapl.name: "ready", footlocker.name: "ready"}, statuses
            assert service.kb.check() == []
            print(f"killed after {delay} s; {len(unfinished)} finished at start in {time.monotonic() - started:.1f} s")
            return
    pytest.fail("no kill landed while documents were unfinished")
