"""Per-file status of one upload, fed by the ingest's progress events from another thread:
queued -> parsing -> embedding (with its percentage and time left) -> ready | failed (with the
reason). No Gradio here."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.records import FileResult, Outcome, ProgressEvent

QUEUED, PARSING, EMBEDDING, READY, FAILED = "queued", "parsing", "embedding", "ready", "failed"
HANDED_OFF = "queued for a worker"  # KB_TASK_QUEUE: the documents list shows when it is ready
HEADERS = ["file", "status", "pages", "chunks", "detail"]


@dataclass
class FileRow:
    name: str
    status: str = QUEUED
    pages: int = 0
    chunks: int = 0
    detail: str = ""
    planned: int = 0  # chunks to embed, known once parsed
    embedding_since: float = 0.0

    @property
    def done(self) -> bool:
        return self.status in (READY, FAILED, HANDED_OFF)


def embedding_detail(done: int, planned: int, elapsed_s: float) -> str:
    """"40% · about 12 s left": the time left from the rate so far (none before the first batch)."""
    if planned <= 0:
        return ""
    share = min(done / planned, 1.0)
    if done >= planned:
        return "100% · saving to the index"
    if done <= 0 or elapsed_s <= 0:
        return f"{share:.0%}"
    left = elapsed_s * (planned - done) / done
    return f"{share:.0%} · about {max(1, round(left))} s left"


class UploadProgress:
    def __init__(self, names: list[str], clock: Callable[[], float] = time.monotonic) -> None:
        self.rows = [FileRow(n) for n in names]
        self._clock = clock
        self._lock = threading.Lock()  # events arrive on the ingest thread, reads on the handler's

    def _row(self, name: str) -> FileRow | None:
        return next((r for r in self.rows if r.name == name and not r.done), None)

    def _next_parsing(self) -> None:
        """The pipeline parses in file order: the first file still queued is the one being parsed."""
        if not any(r.status in (PARSING, EMBEDDING) for r in self.rows):
            waiting = next((r for r in self.rows if r.status == QUEUED), None)
            if waiting is not None:
                waiting.status = PARSING

    def reject(self, name: str, reason: str) -> None:
        with self._lock:
            row = self._row(name)
            if row is not None:
                row.status, row.detail = FAILED, reason

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            row = self._row(event.file_name) if event.file_name else None
            if event.kind == "parsed" and row is not None:
                row.status, row.pages, row.planned = EMBEDDING, event.pages, event.chunks_planned
                row.embedding_since = self._clock()
                row.detail = embedding_detail(0, row.planned, 0.0)
            elif event.kind == "embedded" and row is not None:
                row.status, row.chunks = EMBEDDING, row.chunks + event.chunks
                row.detail = embedding_detail(row.chunks, row.planned, self._clock() - row.embedding_since)
            elif event.kind == "finished" and row is not None and event.result is not None:
                self._apply(row, event.result)
            self._next_parsing()

    def finish(self, results: list[FileResult]) -> None:
        """The ingest's own results: they also cover files that never made an event (duplicates)."""
        with self._lock:
            for result in results:
                row = self._row(result.file_name)
                if row is not None:
                    self._apply(row, result)

    def fail_all(self, reason: str) -> None:
        with self._lock:
            for row in self.rows:
                if not row.done:
                    row.status, row.detail = FAILED, reason

    @staticmethod
    def _apply(row: FileRow, result: FileResult) -> None:
        if result.outcome in (Outcome.FAILED, Outcome.SKIPPED):
            row.status, row.detail = FAILED, result.message or str(result.outcome)
            return
        if result.outcome is Outcome.QUEUED:
            row.status, row.detail = HANDED_OFF, result.message
            return
        row.status = READY
        row.pages, row.chunks = result.pages or row.pages, result.chunks or row.chunks
        if result.outcome is Outcome.DUPLICATE:
            row.detail = "already in the knowledge base (same content)"
        elif result.outcome is Outcome.REPLACED:
            row.detail = "new version of an existing document"
        else:
            row.detail = result.message

    def table(self) -> list[list[object]]:
        with self._lock:
            return [[r.name, r.status, r.pages, r.chunks, r.detail] for r in self.rows]

    @property
    def done(self) -> bool:
        with self._lock:
            return all(r.done for r in self.rows)
