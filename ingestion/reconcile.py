"""Start-up reconciliation: make SQL and FAISS agree after a crash, and check that they do.

Runs only under the writer lock, so anything marked in flight belongs to a dead process. Every
step is idempotent: a crash during reconciliation is repaired by the next one."""

import shutil
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from ingestion import jobs
from ingestion.atomic import remove_stale_temps
from ingestion.files import FileStore
from ingestion.index import VectorIndex
from ingestion.types import Embedder
from store import chunks, documents
from store.engine import Database
from store.models import Chunk, DocStatus, Document


@dataclass(frozen=True)
class ReconcileReport:
    rolled_back: int = 0  # documents interrupted mid-ingest, re-queued
    retired: int = 0  # superseded versions whose chunks were still there
    orphan_vectors: int = 0  # vectors with no ready chunk, removed
    reembedded: int = 0  # ready chunks that had no vector
    missing_vectors: int = 0  # ready chunks without a vector that could not be re-embedded (no embedder)
    stale_files: int = 0  # stored originals no document refers to, and temp files

    @property
    def changed(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


def roll_back_interrupted(db: Database) -> tuple[int, int, list[int]]:
    """In-flight documents go back to queued without chunks; superseded ones lose their chunks.
    Returns (rolled back, retired, ids of the chunks deleted)."""
    with db.session() as session:
        interrupted = documents.ids_with_status(session, DocStatus.IN_FLIGHT)
        retired = documents.superseded_with_chunks(session)
        dropped = chunks.chunk_ids_of(session, interrupted + retired)
        documents.purge_chunks(session, interrupted + retired)
        for document_id in interrupted:
            jobs.requeue(session, document_id)
    return len(interrupted), len(retired), dropped


def align_index(
    db: Database, index: VectorIndex, embedder: Embedder | None, batch: int = 256
) -> tuple[int, int, int]:
    """FAISS ids := ids of ready chunks. Returns (orphans removed, re-embedded, still missing)."""
    with db.session() as session:
        ready = chunks.ready_chunk_ids(session)
    stored = index.ids()
    orphans = np.setdiff1d(stored, ready, assume_unique=True)
    missing = np.setdiff1d(ready, stored, assume_unique=True)
    removed = index.remove(orphans) if orphans.size else 0
    added = 0
    if missing.size and embedder is not None:
        for start in range(0, missing.size, batch):
            wanted = missing[start : start + batch].tolist()
            with db.session() as session:
                rows = [
                    c for part in chunks.iter_ready_chunks(session, ids=wanted, batch=batch) for c in part
                ]
            if rows:
                index.add([c.id for c in rows], embedder.embed_documents([c.embedding_text for c in rows]))
                added += len(rows)
    if index.dirty:
        index.save()
    return removed, added, int(missing.size) - added


def remove_stale_files(db: Database, store: FileStore, scratch: Path) -> int:
    with db.session() as session:
        known = documents.known_hashes(session)
    stale = store.hashes() - known
    for sha in stale:
        store.remove(sha)
    removed = len(stale) + store.clean_temps() + remove_stale_temps(scratch.parent)
    if scratch.is_dir():
        shutil.rmtree(scratch, ignore_errors=True)
    return removed


def reconcile(
    db: Database, index: VectorIndex | None, store: FileStore, scratch: Path, embedder: Embedder | None
) -> ReconcileReport:
    rolled_back, retired, _ = roll_back_interrupted(db)
    orphans = reembedded = missing = 0
    if index is not None:
        orphans, reembedded, missing = align_index(db, index, embedder)
    stale = remove_stale_files(db, store, scratch)
    return ReconcileReport(rolled_back, retired, orphans, reembedded, missing, stale)


def consistency_problems(db: Database, index: VectorIndex | None) -> list[str]:
    """What is wrong between SQL and FAISS, as sentences; empty when they agree.

    Invariants: FAISS holds exactly the ready chunks; a ready document has chunks 0..n-1; no
    other document has chunks; one ready document per file name."""
    problems: list[str] = []
    with db.session() as session:
        ready = chunks.ready_chunk_ids(session)
        rows = session.execute(
            select(
                Document.id,
                Document.status,
                func.count(Chunk.id),
                func.min(Chunk.ordinal),
                func.max(Chunk.ordinal),
            )
            .outerjoin(Chunk, Chunk.document_id == Document.id)
            .group_by(Document.id, Document.status)
        ).tuples()
        for doc_id, status, n, low, high in rows:
            if status == DocStatus.READY and (n == 0 or low != 0 or high != n - 1):
                problems.append(f"ready document {doc_id} has {n} chunks with ordinals {low}..{high}")
            if status != DocStatus.READY and n:
                problems.append(f"{status} document {doc_id} still has {n} chunks")
        names = session.execute(
            select(Document.file_name, func.count())
            .where(Document.status == DocStatus.READY)
            .group_by(Document.file_name)
            .having(func.count() > 1)
        ).tuples()
        problems += [f"{n} ready versions of {name}" for name, n in names]
    if index is not None:
        stored = index.ids()
        if np.unique(stored).size != stored.size:
            problems.append("the vector index holds duplicate ids")
        extra = np.setdiff1d(stored, ready)
        lacking = np.setdiff1d(ready, stored)
        if extra.size:
            problems.append(f"{extra.size} vectors have no ready chunk (e.g. {extra[:5].tolist()})")
        if lacking.size:
            problems.append(f"{lacking.size} ready chunks have no vector (e.g. {lacking[:5].tolist()})")
    return problems
