"""The service on the task queue (KB_TASK_QUEUE=procrastinate) over a real PostgreSQL database:
an upload is registered and queued, never ingested in the app process; a document has at most one
waiting job; the job list is for administrators only; a worker's sweep queues a document that an
app process registered but was killed before queueing, and a worker run ingests it."""

import asyncio
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.settings import Settings
from app.tasks.queue import INGEST_QUEUE, TaskQueue, conninfo
from app.tasks.worker import sweep
from app.wiring import open_service
from ingestion.errors import PermissionDeniedError
from ingestion.outcomes import Outcome
from tests.app.fake_llm import FakeEngine


def _settings(data_dir: Path, url: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=data_dir, database_url=url, embedder="hashing-64", task_queue="procrastinate", _env_file=None
    )


def test_the_queue_needs_postgresql() -> None:
    for url in ("sqlite:///kb.sqlite3", None):  # the default is SQLite in the data folder
        with pytest.raises(ConfigError, match="PostgreSQL"):
            conninfo(url)
    assert conninfo("postgresql+psycopg://kb:secret@db:5432/kb") == "postgresql://kb:secret@db:5432/kb"


def test_uploads_are_queued_for_workers_and_listed_to_admins_only(
    postgres_url: str, tmp_path: Path, write_text
) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(tmp_path / "app", postgres_url)
    with open_service(settings, engine=FakeEngine()) as service:
        admin = service.actor(None)
        member = service.add_user("bob", admin=False, groups=(), actor=admin)
        memo = write_text("memo.txt", "The budget review takes place in room 4.12.")
        [result] = service.ingest([memo], admin)
        assert result.outcome is Outcome.QUEUED and result.document_id is not None
        assert [d.status for d in service.list_documents(admin)] == ["queued"]  # not ingested here
        assert not (tmp_path / "app" / "index.faiss").exists()
        [again] = service.ingest([memo], admin)  # the same bytes again: still one waiting job
        assert again.outcome is Outcome.QUEUED
        jobs = service.task_jobs(admin)
        assert [(j.document_id, j.status, j.attempts) for j in jobs] == [(result.document_id, "todo", 0)]
        with pytest.raises(PermissionDeniedError):
            service.task_jobs(member)


def test_a_sweep_queues_a_document_left_without_a_job_and_a_worker_ingests_it(
    postgres_url: str, tmp_path: Path, write_text
) -> None:  # type: ignore[no-untyped-def]
    from app.wiring import open_knowledge_base

    settings = _settings(tmp_path / "worker", postgres_url)
    with open_knowledge_base(writer=True, embedder=True, settings=settings) as kb:
        admin = kb.actor(None)
        _, [orphan] = kb.enqueue([write_text("memo.txt", "Parking passes are renewed in March.")], actor=admin)
        queue = TaskQueue.connect(settings, run=kb.ingest_document)

        async def sweep_then_work() -> tuple[int, int]:
            async with queue.app.open_async():
                swept = await sweep(queue, kb, settings)
                await queue.app.run_worker_async(queues=[INGEST_QUEUE], wait=False, install_signal_handlers=False)
                return swept

        assert asyncio.run(sweep_then_work()) == (0, 1)
        assert kb.get_document(orphan, admin).status == "ready"
        assert asyncio.run(_sweep_again(queue, kb, settings)) == (0, 0)  # nothing left to queue
        listing = TaskQueue.connect(settings).open()
        try:
            assert listing.jobs() == []  # a succeeded job is not the Admin tab's business
        finally:
            listing.close()


async def _sweep_again(queue: TaskQueue, kb, settings: Settings) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with queue.app.open_async():
        return await sweep(queue, kb, settings)


def test_kb_ingest_queues_a_bulk_load_for_the_workers(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_text
) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from app.cli import build_app

    monkeypatch.chdir(tmp_path)  # no developer .env
    folder = write_text("a.txt", "Alpha memo.", "bulk").parent
    write_text("b.txt", "Beta memo.", "bulk")
    env = {
        "KB_DATA_DIR": str(tmp_path / "cli"),
        "KB_EMBEDDER": "hashing-64",
        "KB_DATABASE_URL": postgres_url,
        "KB_TASK_QUEUE": "procrastinate",
    }
    result = CliRunner().invoke(build_app(), ["ingest", str(folder)], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "2 queued" in result.output
    with open_service(_settings(tmp_path / "app", postgres_url), engine=FakeEngine()) as service:
        admin = service.actor(None)
        assert sorted(d.status for d in service.list_documents(admin)) == ["queued", "queued"]
        assert [j.status for j in service.task_jobs(admin)] == ["todo", "todo"]
        with pytest.raises(Exception, match="kb worker"):
            service.kb.ingest([folder / "a.txt"], actor=admin)  # never in-process beside the workers


def test_a_job_that_runs_and_succeeds_during_a_sweep_is_not_queued_again(
    postgres_url: str, tmp_path: Path, write_text, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The race that queued a small document twice in the topology test: the sweep read the
    document as queued, then its job ran and succeeded before the sweep read the jobs."""
    import psycopg

    from app.tasks import worker
    from app.wiring import open_knowledge_base

    settings = _settings(tmp_path / "worker", postgres_url)
    with open_knowledge_base(writer=True, embedder=True, settings=settings) as kb:
        admin = kb.actor(None)
        _, [document] = kb.enqueue([write_text("memo.txt", "Parking passes are renewed in March.")], actor=admin)
        queue = TaskQueue.connect(settings, run=kb.ingest_document)
        read_pending = worker.pending_work

        def pending_then_the_job_runs(db):  # type: ignore[no-untyped-def]
            found = read_pending(db)
            kb.ingest_document(document)  # what the worker holding the job does meanwhile
            with psycopg.connect(conninfo(postgres_url), autocommit=True) as connection:
                connection.execute(
                    "UPDATE procrastinate_jobs SET status = 'succeeded' WHERE (args->>'document_id')::int = %s",
                    (document,),
                )
            return found

        async def queue_then_sweep() -> tuple[int, int]:
            async with queue.app.open_async():
                assert await queue.defer_async([document]) == 1
                monkeypatch.setattr(worker, "pending_work", pending_then_the_job_runs)
                return await sweep(queue, kb, settings)

        assert asyncio.run(queue_then_sweep()) == (0, 0)
        assert kb.get_document(document, admin).status == "ready"
        jobs = asyncio.run(_document_jobs(queue))
        assert [(d, status) for d, _, status in jobs] == [(document, "succeeded")]


async def _document_jobs(queue: TaskQueue) -> list[tuple[int, int, str]]:
    async with queue.app.open_async():
        return await queue.document_jobs()


def test_two_workers_sweeping_at_once_queue_a_dead_workers_job_once(
    postgres_url: str, tmp_path: Path, write_text
) -> None:  # type: ignore[no-untyped-def]
    """Both sweeps read the stalled job; queued twice, the second could land after a live worker
    had taken the job up again, and the document would run twice at once."""
    import psycopg

    from app.wiring import open_knowledge_base

    settings = _settings(tmp_path / "worker", postgres_url)
    with open_knowledge_base(writer=True, embedder=True, settings=settings) as kb:
        memo = write_text("memo.txt", "Parking passes are renewed in March.")
        _, [document] = kb.enqueue([memo], actor=kb.actor(None))
        queue = TaskQueue.connect(settings, run=kb.ingest_document)
        dsn = conninfo(postgres_url)

        async def two_sweeps_of_a_stalled_job() -> list[tuple[int, int]]:
            async with queue.app.open_async():
                assert await queue.defer_async([document]) == 1
                with psycopg.connect(dsn, autocommit=True) as connection:  # its worker is gone
                    connection.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = NULL")
                return list(await asyncio.gather(sweep(queue, kb, settings), sweep(queue, kb, settings)))

        assert sorted(asyncio.run(two_sweeps_of_a_stalled_job())) == [(0, 0), (1, 0)]
        with psycopg.connect(dsn) as connection:
            rows = connection.execute("SELECT status, attempts FROM procrastinate_jobs").fetchall()
        assert rows == [("todo", 1)]


def test_a_job_queued_again_waits_while_its_first_run_still_holds_the_document(
    postgres_url: str, tmp_path: Path, write_text
) -> None:  # type: ignore[no-untyped-def]
    """A live worker taken for dead (silent past worker_stalled_s) still holds the document's
    lock: the second worker waits for it instead of rolling back its chunks mid-run."""
    import threading

    from app.tasks.locks import document_lock
    from app.wiring import open_knowledge_base

    settings = _settings(tmp_path / "worker", postgres_url)
    with open_knowledge_base(writer=True, embedder=True, settings=settings) as kb:
        admin = kb.actor(None)
        _, [document] = kb.enqueue([write_text("memo.txt", "Parking passes are renewed in March.")], actor=admin)
        queue = TaskQueue.connect(settings, run=kb.ingest_document)
        ingest = queue.app.tasks["kb.ingest_document"]
        worker = threading.Thread(target=ingest, kwargs={"document_id": document})
        with document_lock(queue.dsn, document):  # the first run, still alive
            worker.start()
            worker.join(timeout=1.5)
            assert worker.is_alive()
            assert kb.get_document(document, admin).status == "queued"
        worker.join(timeout=60)
        assert not worker.is_alive()
        assert kb.get_document(document, admin).status == "ready"
