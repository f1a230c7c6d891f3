"""Ingest job rows: one per document, so a crash leaves a record of what was under way."""

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.models import DocStatus, Document, IngestJob, JobState, utcnow
from store.records import JobInfo


def _info(job: IngestJob) -> JobInfo:
    return JobInfo(
        id=job.id,
        document_id=job.document_id,
        state=job.state,
        attempts=job.attempts,
        heartbeat_at=job.heartbeat_at,
        error=job.error,
    )


def job_of(session: Session, document_id: int) -> JobInfo | None:
    job = session.scalar(select(IngestJob).where(IngestJob.document_id == document_id))
    return None if job is None else _info(job)


def start(session: Session, document_id: int) -> None:
    """Mark the job running (one more attempt) and its document parsing."""
    job = session.scalar(select(IngestJob).where(IngestJob.document_id == document_id))
    if job is None:
        job = IngestJob(document_id=document_id)
        session.add(job)
    job.state = JobState.RUNNING
    job.attempts = (job.attempts or 0) + 1
    job.heartbeat_at = utcnow()
    job.error = None
    session.execute(
        update(Document).where(Document.id == document_id).values(status=DocStatus.PARSING, error=None)
    )


def heartbeat(session: Session, document_id: int) -> None:
    session.execute(
        update(IngestJob).where(IngestJob.document_id == document_id).values(heartbeat_at=utcnow())
    )


def finish(session: Session, document_id: int) -> None:
    session.execute(
        update(IngestJob)
        .where(IngestJob.document_id == document_id)
        .values(state=JobState.DONE, heartbeat_at=utcnow(), error=None)
    )


def fail(session: Session, document_id: int, error: str) -> None:
    session.execute(
        update(IngestJob)
        .where(IngestJob.document_id == document_id)
        .values(state=JobState.FAILED, heartbeat_at=utcnow(), error=error)
    )
    session.execute(
        update(Document).where(Document.id == document_id).values(status=DocStatus.FAILED, error=error)
    )


def requeue(session: Session, document_id: int) -> None:
    session.execute(
        update(IngestJob).where(IngestJob.document_id == document_id).values(state=JobState.QUEUED)
    )
    session.execute(
        update(Document).where(Document.id == document_id).values(status=DocStatus.QUEUED, error=None)
    )


def pending_documents(session: Session) -> list[int]:
    """Documents whose ingest has not finished (queued, or interrupted mid-way)."""
    query = select(Document.id).where(
        Document.status.in_([DocStatus.QUEUED, DocStatus.PARSING, DocStatus.EMBEDDING])
    )
    return list(session.scalars(query.order_by(Document.id)))
