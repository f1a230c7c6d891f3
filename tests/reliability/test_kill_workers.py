"""SIGKILL `kb worker` processes at random moments while they ingest a bulk load from the task
queue (real PostgreSQL, real Procrastinate workers, each with its own data folder): each round waits
until a document is being ingested, waits a random moment more, kills both workers and starts two
new ones. Every document ends ready exactly once, each ready chunk has exactly its
stored vector, no chunks are left behind, and a fresh process's index agrees with SQL."""

import random
import time
from pathlib import Path

import psycopg
from sqlalchemy import func, select

from app.settings import Settings
from app.tasks.queue import TaskQueue, conninfo
from ingestion.embedders import HashingEmbedder
from ingestion.service import KnowledgeBase, StoreConfig
from store.models import Chunk, ChunkVector, DocStatus, Document
from tests.e2e.topology import Topology, topology, wait_for

SEED = 20261216
DOCUMENTS = 10
ROUNDS = 3


def _text(n: int) -> str:
    # Big enough that parsing, splitting and embedding take a noticeable moment on a loaded machine.
    return "\n\n".join(f"Memo {n}, section {i}: the review of item {i * n} is in room {i % 17}." for i in range(1500))


def _shared(root: Path, url: str) -> KnowledgeBase:
    config = StoreConfig(data_dir=root, database_url=url, shared=True)
    return KnowledgeBase.open(config, embedder=lambda: HashingEmbedder(64), writer=True)


def _state(url: str, statuses: dict[int, str], running: Topology, workers: list[str]) -> str:
    with psycopg.connect(conninfo(url)) as connection:
        jobs = connection.execute("SELECT id, args, status, attempts, worker_id FROM procrastinate_jobs").fetchall()
    logs = "\n".join(f"--- {name}\n{running.log(name)[-2000:]}" for name in workers)
    return f"documents {statuses}\njobs {jobs}\n{logs}"


def test_killing_workers_at_random_moments_loses_and_duplicates_nothing(postgres_url: str, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    paths = []
    for n in range(DOCUMENTS):
        path = inbox / f"memo-{n}.txt"
        path.write_text(_text(n))
        paths.append(path)
    settings = Settings(database_url=postgres_url, task_queue="procrastinate", _env_file=None)  # type: ignore[call-arg]
    with _shared(tmp_path / "uploader", postgres_url) as kb:
        _, queued = kb.enqueue(paths, actor=kb.actor(None))
    tasks = TaskQueue.connect(settings).open()
    try:
        assert tasks.defer(queued) == DOCUMENTS
    finally:
        tasks.close()

    def statuses() -> dict[int, str]:
        with kb.db.session() as session:
            return dict(session.execute(select(Document.id, Document.status)).tuples().all())

    kills = 0
    with topology(tmp_path, postgres_url) as running:
        names = [f"worker-{i}" for i in range(2)]
        for name in names:
            running.worker(name)
        for round_no in range(ROUNDS):
            # (a document's status stays 'parsing' after a kill until a job runs it again: ask the workers)
            wait_for(lambda now=tuple(names): any("Starting job" in running.log(n) for n in now), 120, "a job")
            time.sleep(rng.uniform(0.0, 1.5))
            for name in names:
                running.kill(name)  # wherever they are: parsing, embedding, storing, swapping, retiring
                kills += 1
            names = [f"worker-{2 * round_no + 2 + i}" for i in range(2)]
            for name in names:
                running.worker(name)
        try:
            wait_for(lambda: set(statuses().values()) == {DocStatus.READY}, 300, "every document ready")
        except AssertionError as timed_out:  # what a failure on CI needs to be understood
            raise AssertionError(f"{timed_out}: {_state(postgres_url, statuses(), running, names)}") from None

    with _shared(tmp_path / "check", postgres_url) as check:  # a new process: its index from the database
        assert check.check() == []
        with check.db.session() as session:
            assert session.scalar(select(func.count(Document.id))) == DOCUMENTS
            chunks = session.scalar(select(func.count(Chunk.id)))
            assert chunks == session.scalar(select(func.count(ChunkVector.chunk_id))) > DOCUMENTS
        assert check.index().count == chunks
    assert kills == 2 * ROUNDS
