"""The Procrastinate app: one task, `kb.ingest_document(document_id)`, on the queue "ingest".

    queue = TaskQueue.connect(settings)         # app process: queue documents, list jobs
    queue.defer([12, 13]); queue.jobs()
    queue = TaskQueue.connect(settings, run=kb.ingest_document)   # worker: also runs the task

A job per document, locked by document: two workers never run the same document at once (a
PostgreSQL lock held while it runs, see `locks`), and a document has at most one job waiting.
Retries are for the infrastructure (database, disk, a lock); a document that fails to parse fails
once, visibly (the Admin tab, the documents list)."""

import logging
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from procrastinate import App, PsycopgConnector, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Job
from procrastinate.retry import RetryDecision
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url

from app.errors import ConfigError
from app.settings import Settings
from app.tasks.locks import document_lock
from app.tasks.records import TaskJob
from ingestion.outcomes import FileResult, Outcome

log = logging.getLogger(__name__)

INGEST_QUEUE = "ingest"
INGEST_TASK = "kb.ingest_document"
_SCHEMA_LOCK = 724_513_002  # serialises the first start of several processes (see store.migrate)
RunDocument = Callable[[int], FileResult | None]
SHOWN = ("todo", "doing", "failed")  # what the Admin tab lists: queued, running, failed


class DocumentFailed(Exception):
    """The document itself could not be ingested (it is marked failed): not worth a retry."""


class _InfrastructureRetry(RetryStrategy):
    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, DocumentFailed):
            return None
        return super().get_retry_decision(exception=exception, job=job)


def conninfo(database_url: str | None) -> str:
    """libpq connection string of the SQLAlchemy URL (Procrastinate talks to psycopg directly)."""
    url = make_url(database_url) if database_url else None
    if url is None or url.get_backend_name() != "postgresql":
        raise ConfigError(
            "KB_TASK_QUEUE=procrastinate needs the PostgreSQL database (KB_DATABASE_URL=postgresql+psycopg://...)."
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_schema(dsn: str) -> None:
    """Create Procrastinate's tables once (its pinned version's schema.sql), whoever starts first."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            found = connection.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
            if found is None or found[0] is None:
                connection.execute(SchemaManager.get_schema())
                log.info("created the task queue's tables (procrastinate)")
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))


def _job(job: Job) -> TaskJob:
    document = job.task_kwargs.get("document_id")
    return TaskJob(
        id=int(job.id or 0),
        document_id=int(document) if isinstance(document, int) else None,
        status=str(job.status),
        attempts=job.attempts,
        worker_id=job.worker_id,
    )


class TaskQueue:
    def __init__(self, app: App, dsn: str) -> None:
        self.app = app
        self.dsn = dsn  # libpq connection string of the queue's database (its advisory locks)

    @classmethod
    def connect(cls, settings: Settings, run: RunDocument | None = None) -> "TaskQueue":
        """The queue on the configured database (tables created if missing). `run`: this process
        is a worker and runs the jobs with it."""
        dsn = conninfo(settings.database_url)
        ensure_schema(dsn)
        app = App(connector=PsycopgConnector(conninfo=dsn, min_size=1, max_size=4))
        retry = _InfrastructureRetry(max_attempts=settings.task_attempts, wait=settings.task_retry_wait_s)

        def ingest_document(document_id: int) -> None:
            if run is None:
                raise RuntimeError("this process only queues documents; `kb worker` runs them")
            with document_lock(dsn, document_id):  # a job queued again while its first run lives on waits
                result = run(document_id)
            if result is not None and result.outcome is Outcome.FAILED:
                raise DocumentFailed(result.message)

        app.task(name=INGEST_TASK, queue=INGEST_QUEUE, retry=retry, lock=None)(ingest_document)
        return cls(app, dsn)

    def open(self) -> "TaskQueue":
        """Open a synchronous connection pool (app processes: queueing and listing)."""
        self.app.open()
        return self

    def close(self) -> None:
        self.app.close()

    def defer(self, document_ids: Sequence[int]) -> int:
        """Queue one job per document; a document that already has a job waiting is skipped.
        Returns how many jobs were queued."""
        task = self.app.tasks[INGEST_TASK]
        queued = 0
        for document_id in document_ids:
            lock = f"document-{document_id}"
            try:
                task.configure(lock=lock, queueing_lock=lock).defer(document_id=int(document_id))
                queued += 1
            except AlreadyEnqueued:
                pass
        return queued

    def jobs(self, limit: int = 200) -> list[TaskJob]:
        """Queued, running and failed jobs of the ingest queue, newest first (succeeded ones are
        the documents list's business, and workers delete them after a day)."""
        found = [j for status in SHOWN for j in self.app.job_manager.list_jobs(queue=INGEST_QUEUE, status=status)]
        return [_job(j) for j in sorted(found, key=lambda j: -(j.id or 0))[:limit]]

    async def defer_async(self, document_ids: Sequence[int]) -> int:
        task = self.app.tasks[INGEST_TASK]
        queued = 0
        for document_id in document_ids:
            lock = f"document-{document_id}"
            try:
                await task.configure(lock=lock, queueing_lock=lock).defer_async(document_id=int(document_id))
                queued += 1
            except AlreadyEnqueued:
                pass
        return queued

    async def document_jobs(self) -> list[tuple[int, int, str]]:
        """(document, job id, status) of every job of the ingest queue, in one read."""
        found: list[tuple[int, int, str]] = []
        for job in await self.app.job_manager.list_jobs_async(queue=INGEST_QUEUE):
            document: Any = job.task_kwargs.get("document_id")
            if isinstance(document, int) and job.id is not None:
                found.append((document, job.id, str(job.status)))
        return found
