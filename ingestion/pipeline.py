"""Queued documents -> parse (child processes, ahead of time) -> split -> embed -> store -> swap.

Order of writes per document, which is what makes a crash at any point recoverable:
  1. chunks and their vectors (chunk_vectors, which other processes' indexes follow) are inserted
     in one transaction while the document is still 'embedding' (invisible to readers);
  2. their vectors are added to FAISS and the index is saved (atomically);
  3. one SQL transaction makes the document ready and its previous version superseded;
  4. the previous version's vectors, then its chunks, are removed.
A crash before 3 leaves an invisible document that start-up reconciliation rolls back and
re-queues; a crash after 3 leaves orphan vectors that reconciliation removes.
"""

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ingestion import jobs
from ingestion.errors import DataError, IngestError
from ingestion.files import FileStore
from ingestion.index import VectorIndex
from ingestion.intake import Work, clear_scratch, parse_path
from ingestion.outcomes import FileResult, Outcome, ProgressEvent, ProgressSink, ignore_progress
from ingestion.parsing import ParseLimits
from ingestion.types import ChunkDraft, Embedder, ParsedDocument
from store import audit, chunks, documents
from store import vectors as stored_vectors
from store.engine import Database
from store.models import DocStatus
from store.records import embedding_text

log = logging.getLogger(__name__)

Parser = Callable[[Path], ParsedDocument]
PagesRead = Callable[[int, int], None]
HEARTBEAT_S = 5.0


@dataclass(frozen=True)
class IngestOptions:
    chunk_tokens: int = 256
    overlap_tokens: int = 32
    embed_batch: int = 64
    parse_workers: int = 2  # files parsed ahead, each in its own child process
    parse_limits: ParseLimits = field(default_factory=ParseLimits)


def default_parser(limits: ParseLimits) -> Parser:
    from ingestion.parsing import parse_file

    return lambda path: parse_file(path, limits)


def page_reporting_parser(limits: ParseLimits) -> Callable[[Path, PagesRead], ParsedDocument]:
    """The default parser, telling how many pages it has read while it reads them."""
    from ingestion.parsing import parse_file

    return lambda path, on_pages: parse_file(path, limits, on_pages)


def split(doc: ParsedDocument, embedder: Embedder, options: IngestOptions) -> list[ChunkDraft]:
    from ingestion.splitter import split_document

    return split_document(doc, embedder.count_tokens, options.chunk_tokens, options.overlap_tokens)


class NoTextError(IngestError):
    pass


class Pipeline:
    def __init__(
        self,
        db: Database,
        index: VectorIndex,
        store: FileStore,
        embedder: Embedder,
        scratch: Path,
        options: IngestOptions = IngestOptions(),
        parser: Parser | None = None,
        actor: str = "system",
    ) -> None:
        self.db, self.index, self.store, self.embedder = db, index, store, embedder
        self.scratch, self.options, self.actor = scratch, options, actor
        self.parser = parser or default_parser(options.parse_limits)
        # Only our own parser reports pages as it goes; one passed in (tests, benchmarks) is opaque.
        self._reporting_parser = None if parser else page_reporting_parser(options.parse_limits)

    def run(self, works: Sequence[Work], progress: ProgressSink = ignore_progress) -> list[FileResult]:
        """Process `works` in order while the next files are parsed in the background."""
        results: list[FileResult] = []
        if not works:
            return results
        ahead = max(1, self.options.parse_workers)
        pool = ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="parse")
        futures: dict[int, Future[ParsedDocument]] = {}

        def submit(i: int) -> None:
            with self.db.session() as session:
                jobs.start(session, works[i].document_id)
            futures[i] = pool.submit(self._parse, works[i], progress)

        try:
            for i in range(min(ahead, len(works))):
                submit(i)
            for i, work in enumerate(works):
                if i + ahead < len(works):
                    submit(i + ahead)
                result = self._complete(work, futures.pop(i), progress)
                results.append(result)
                progress(ProgressEvent("finished", work.file_name, result=result))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return results

    def _parse(self, work: Work, progress: ProgressSink) -> ParsedDocument:
        """On a parse thread: the file is read in its own child process (several files at once)."""
        path = parse_path(self.store, self.scratch, work)
        if self._reporting_parser is None:
            return self.parser(path)

        def pages_read(done: int, total: int) -> None:
            progress(ProgressEvent("parsing", work.file_name, pages=done, pages_planned=total))

        return self._reporting_parser(path, pages_read)

    def _complete(self, work: Work, parsed: "Future[ParsedDocument]", progress: ProgressSink) -> FileResult:
        try:
            return self._store(work, parsed.result(), progress)
        except DataError as error:  # a parse, embed or store failure of this file: it fails alone
            return self._fail(work, str(error))
        except Exception as error:  # one broken file must not stop the batch; the log has the trace
            log.exception("ingest of %s failed", work.source)
            return self._fail(work, f"Internal error ({type(error).__name__}: {error}); see the log.")
        finally:
            clear_scratch(self.scratch, work)

    def _store(self, work: Work, doc: ParsedDocument, progress: ProgressSink) -> FileResult:
        drafts = split(doc, self.embedder, self.options)
        if not drafts:
            raise NoTextError(
                f"{work.file_name} has no extractable text (scanned images only?); nothing was indexed."
            )
        header = doc.metadata.header()
        with self.db.session() as session:
            documents.set_parsed(
                session, work.document_id, pages=len(doc.pages), mime=doc.mime, metadata=doc.metadata
            )
        progress(ProgressEvent("parsed", work.file_name, pages=len(doc.pages), chunks_planned=len(drafts)))
        vectors = self._embed(work, [embedding_text(header, d.text) for d in drafts], progress)

        with self.db.session() as session:  # 1. chunks and their vectors, invisible until the swap
            ids = chunks.insert_chunks(session, work.document_id, header, drafts)
            stored_vectors.put(session, ids, self.embedder.name, vectors)
        self.index.add(ids, vectors)  # 2. vectors, durable before anyone can see them
        self.index.save()
        with self.db.session() as session:  # 3. the swap, one transaction
            retired = documents.activate(session, work.document_id)
            jobs.finish(session, work.document_id)
            audit.record(session, self.actor, "document.ready", f"{work.file_name} (id {work.document_id})")
        self.retire(retired)  # 4. the old version's vectors and chunks
        outcome = Outcome.REPLACED if retired and work.document_id not in retired else Outcome.OK
        message = "new version" if outcome is Outcome.REPLACED else ""
        if work.document_id in retired:
            message = "stored, but a newer file of the same name was ingested after it"
        return FileResult(
            work.source, work.file_name, outcome, work.document_id, len(doc.pages), len(ids), message
        )

    def _embed(self, work: Work, texts: list[str], progress: ProgressSink) -> npt.NDArray[np.float32]:
        batch = max(1, self.options.embed_batch)
        parts: list[npt.NDArray[np.float32]] = []
        beat = time.monotonic()
        for start in range(0, len(texts), batch):
            part = self.embedder.embed_documents(texts[start : start + batch])
            parts.append(np.asarray(part, dtype=np.float32))
            progress(ProgressEvent("embedded", work.file_name, chunks=len(part)))
            if time.monotonic() - beat > HEARTBEAT_S:
                with self.db.session() as session:
                    jobs.heartbeat(session, work.document_id)
                beat = time.monotonic()
        return np.concatenate(parts)

    def retire(self, document_ids: Sequence[int]) -> None:
        """Vectors first, then chunks: a crash in between leaves only orphan vectors."""
        if not document_ids:
            return
        with self.db.session() as session:
            ids = chunks.chunk_ids_of(session, document_ids)
        if self.index.remove(ids):
            self.index.save()
        with self.db.session() as session:
            documents.purge_chunks(session, document_ids)

    def _fail(self, work: Work, message: str) -> FileResult:
        with self.db.session() as session:
            status = documents.get(session, work.document_id)
        if status is not None and status.status != DocStatus.READY:
            self.retire([work.document_id])
            with self.db.session() as session:
                jobs.fail(session, work.document_id, message)
                audit.record(session, self.actor, "document.failed", f"{work.file_name}: {message}")
        return FileResult(work.source, work.file_name, Outcome.FAILED, work.document_id, message=message)
