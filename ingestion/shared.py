"""What changes when several processes on several machines share one PostgreSQL database
(KB_TASK_QUEUE=procrastinate): originals are kept in the database as well as in each process's
local file cache; a document's interrupted ingest is rolled back by the job that runs it again
(never by another process's start-up, which cannot tell a dead ingest from one running elsewhere);
each process's index is aligned with the stored vectors rather than re-embedded."""

import logging
from pathlib import Path

import numpy as np
from sqlalchemy.exc import IntegrityError

from ingestion import jobs
from ingestion.errors import NotFoundError
from ingestion.files import FileStore
from ingestion.follow import IndexFollower
from ingestion.index import VectorIndex
from store import chunks, documents, originals
from store.engine import Database
from store.models import DocStatus

log = logging.getLogger(__name__)


def keep_original(db: Database, sha256: str, path: Path) -> None:
    """Store the original's bytes in the database (before its document row, as on disk)."""
    try:
        with db.session() as session:
            originals.put(session, sha256, path)
    except IntegrityError:  # another process stored the same bytes a moment ago
        pass


def fetch_original(db: Database, files: FileStore, sha256: str) -> Path:
    """The local copy of an original, fetched from the database into the file cache if needed."""
    if files.has(sha256):
        return files.path(sha256)
    with db.session() as session:
        content = originals.get(session, sha256)
    if content is None:
        raise NotFoundError(f"The original {sha256[:12]} is neither in this data folder nor in the database.")
    files.put_bytes(content, sha256)
    return files.path(sha256)


def roll_back_document(db: Database, document_id: int) -> str | None:
    """Before a job (re)runs a document: undo what an interrupted attempt left (chunks of a document
    that is not ready) and remove chunks of superseded versions. Returns the document's status, or
    None when it no longer exists."""
    with db.session() as session:
        found = documents.get(session, document_id)
        if found is None:
            return None
        if found.status != DocStatus.READY:  # only a ready document may have chunks
            documents.purge_chunks(session, [document_id])
        if found.status in DocStatus.IN_FLIGHT:
            jobs.requeue(session, document_id)
        retired = documents.superseded_with_chunks(session)
        documents.purge_chunks(session, retired)
        status = DocStatus.QUEUED if found.status in DocStatus.IN_FLIGHT else found.status
    return status


def align_with_database(db: Database, index: VectorIndex, follower: IndexFollower) -> tuple[int, int]:
    """This process's index := the stored vectors of the ready chunks. Returns (removed, added)."""
    with db.session() as session:
        ready = chunks.ready_chunk_ids(session)
    removed = follower.prune(index)
    added = follower.catch_up(index, np.asarray(ready, dtype=np.int64))
    if index.dirty:
        index.save()
    return removed, added
