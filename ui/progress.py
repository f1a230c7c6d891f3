"""Per-file status of one upload, fed by the ingest's progress events from other threads (the
ingest's, and the parse threads'): queued -> parsing (pages read so far) -> embedding (chunks
embedded) -> ready | failed (with the reason); while under way, the detail says how far the file
is, in percent, and the time left. No Gradio here."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.records import FileProgress, FileResult, Outcome, ProgressEvent, Rates

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
    progress: FileProgress = field(default_factory=FileProgress)

    @property
    def done(self) -> bool:
        return self.status in (READY, FAILED, HANDED_OFF)


class UploadProgress:
    def __init__(self, names: list[str], clock: Callable[[], float] = time.monotonic) -> None:
        self._rates = Rates()  # one machine, one upload: a file's embedding rate serves the next
        self.rows = [FileRow(n, progress=FileProgress(rates=self._rates)) for n in names]
        self._clock = clock
        self._lock = threading.Lock()  # events arrive on ingest and parse threads, reads on the handler's

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
            if row is not None and event.kind in ("parsing", "parsed", "embedded"):
                now = self._clock()
                row.progress.update(event, now)
                if event.kind == "parsing":
                    row.status = EMBEDDING if row.status == EMBEDDING else PARSING
                else:
                    row.status = EMBEDDING
                row.pages, row.chunks = row.progress.pages_read, row.progress.chunks_embedded
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
        """Rows as shown; the detail of a file under way is worked out now, so its time left
        counts down between events."""
        with self._lock:
            now = self._clock()
            return [[r.name, r.status, r.pages, r.chunks, self._detail(r, now)] for r in self.rows]

    @staticmethod
    def _detail(row: FileRow, now: float) -> str:
        if row.status in (PARSING, EMBEDDING):
            return row.progress.summary(now) or row.detail
        return row.detail

    @property
    def done(self) -> bool:
        with self._lock:
            return all(r.done for r in self.rows)
