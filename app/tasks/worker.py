"""`kb worker`: ingest queued documents until stopped (SIGINT/SIGTERM finish the running job).

Each worker holds the writer lock of its own data folder (a scratch area and a file cache: the
documents, vectors and originals are in the database), so run one worker per data folder; run as
many as wanted, on any machines. Every `worker_sweep_s` a worker also requeues the jobs of workers
that died (no heartbeat for `worker_stalled_s`) and queues documents an app process registered but
could not queue (killed in between), and deletes jobs that succeeded more than a day ago."""

import asyncio
import logging

from app.settings import Settings
from app.tasks.locks import sweep_lock
from app.tasks.queue import INGEST_QUEUE, TaskQueue
from ingestion.intake import pending_work
from ingestion.service import KnowledgeBase

log = logging.getLogger(__name__)
HEARTBEAT_S = 5.0  # at most; always well inside worker_stalled_s, or live workers would look dead
POLL_S = 2.0  # between polls for new jobs when a notification was missed
KEEP_SUCCEEDED_H = 24  # succeeded jobs are deleted after this; failed ones stay for the administrator


async def sweep(queue: TaskQueue, kb: KnowledgeBase, settings: Settings) -> tuple[int, int]:
    """Requeue stalled jobs and queue orphaned documents. Returns (requeued, queued); (0, 0) when
    another worker is sweeping."""
    async with sweep_lock(queue.dsn) as mine:
        return await _sweep(queue, kb, settings) if mine else (0, 0)


async def _sweep(queue: TaskQueue, kb: KnowledgeBase, settings: Settings) -> tuple[int, int]:
    manager = queue.app.job_manager
    silent = settings.worker_stalled_s
    stalled = list(await manager.get_stalled_jobs(queue=INGEST_QUEUE, seconds_since_heartbeat=silent))
    for job in stalled:
        await manager.retry_job(job)
        log.warning("kb worker: job %s (document %s) of a dead worker is queued again", job.id, job.task_kwargs)
    orphans = await _orphans(queue, kb)
    queued = await queue.defer_async(orphans)
    if queued:
        log.warning("kb worker: %d queued documents had no job; queued them", queued)
    await manager.delete_old_jobs(nb_hours=KEEP_SUCCEEDED_H, queue=INGEST_QUEUE)  # the table stays small
    return len(stalled), queued


LIVE = ("todo", "doing", "failed")  # a job that will run, runs, or awaits the administrator


async def _orphans(queue: TaskQueue, kb: KnowledgeBase) -> list[int]:
    """Queued documents with no job that will take them. Jobs are read before and after the
    documents: a small document's job can be queued, run and succeed between two reads, and a
    document queued again keeps its old succeeded job for a day, so a succeeded job counts only
    if it is newer than every job of the first read."""
    before = await queue.document_jobs()
    pending = {w.document_id for w in await asyncio.to_thread(pending_work, kb.db)}
    after = await queue.document_jobs()
    newest_before = max((job for _, job, _ in before), default=0)
    covered = {document for document, _, status in before if status in LIVE}
    covered |= {document for document, job, status in after if status in LIVE or job > newest_before}
    return sorted(pending - covered)


async def _sweep_forever(queue: TaskQueue, kb: KnowledgeBase, settings: Settings) -> None:
    while True:
        try:
            await sweep(queue, kb, settings)
        except Exception:  # the next sweep tries again; the worker keeps working
            log.exception("kb worker: the sweep failed")
        await asyncio.sleep(settings.worker_sweep_s)


async def work(queue: TaskQueue, kb: KnowledgeBase, settings: Settings, name: str | None) -> None:
    async with queue.app.open_async():
        sweeper = asyncio.create_task(_sweep_forever(queue, kb, settings))
        try:
            await queue.app.run_worker_async(
                queues=[INGEST_QUEUE],
                name=name or "worker",
                concurrency=1,  # one document at a time per process: scale with processes
                wait=True,
                update_heartbeat_interval=min(HEARTBEAT_S, settings.worker_stalled_s / 4),
                stalled_worker_timeout=settings.worker_stalled_s,
                fetch_job_polling_interval=POLL_S,
            )
        finally:
            sweeper.cancel()


def run_worker(settings: Settings, name: str | None = None) -> None:
    """Open this worker's data folder as the writer and work until stopped."""
    from app.wiring import open_knowledge_base

    with open_knowledge_base(writer=True, embedder=True, align_index=False, settings=settings) as kb:
        queue = TaskQueue.connect(settings, run=kb.ingest_document)
        asyncio.run(work(queue, kb, settings, name))
