"""What the Admin tab shows of the task queue: one row per job (plain data, no Procrastinate types)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskJob:
    id: int
    document_id: int | None
    status: str  # todo (queued), doing (running), succeeded, failed, cancelled, aborted
    attempts: int
    worker_id: int | None
