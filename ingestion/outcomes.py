"""What an ingest reports, per file and as it goes (plain dataclasses for the CLI and web page)."""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    OK = "ok"
    DUPLICATE = "duplicate"  # the same bytes are already present: no second copy
    REPLACED = "replaced"  # a new version of a file name that was present
    FAILED = "failed"
    SKIPPED = "skipped"  # not a supported document type (e.g. .csv answer keys)
    QUEUED = "queued"  # handed to the task queue's workers (KB_TASK_QUEUE); ready later


@dataclass(frozen=True)
class FileResult:
    path: str
    file_name: str
    outcome: Outcome
    document_id: int | None = None
    pages: int = 0
    chunks: int = 0
    message: str = ""


@dataclass(frozen=True)
class ProgressEvent:
    """kind: "planned" (files = how many will be processed), "parsing" (pages read so far of
    `pages_planned`, sent from a parse thread while the file is read), "parsed" (pages, and
    `chunks_planned`: the chunks it will embed), "embedded" (chunks, a batch's worth), "finished"
    (result)."""

    kind: str
    file_name: str = ""
    files: int = 0
    pages: int = 0
    chunks: int = 0
    result: FileResult | None = None
    chunks_planned: int = 0
    pages_planned: int = 0


ProgressSink = Callable[[ProgressEvent], None]


def ignore_progress(_event: ProgressEvent) -> None:
    return None
