"""How a process's FAISS index follows the database when several processes share it
(KB_TASK_QUEUE=procrastinate: app replicas and workers on several machines).

chunk_vectors is the source of truth; each process catches up at search time: the ids SQL calls
readable that the local index lacks are fetched from the database and added. Ids of deleted
documents left in a local index are harmless (the search is restricted to ids SQL allows) and are
pruned now and then."""

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from ingestion.index import IdArray, VectorIndex
from ingestion.types import Embedder
from store import chunks, vectors
from store.engine import Database

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 300.0


class IndexFollower:
    def __init__(self, db: Database, embedder: Callable[[], Embedder], prune_every_s: float = PRUNE_EVERY_S) -> None:
        self.db, self._embedder, self.prune_every_s = db, embedder, prune_every_s
        self._lock = threading.Lock()  # one catch-up at a time; concurrent searches wait for it
        self._pruned_at = time.monotonic()

    def catch_up(self, index: VectorIndex, wanted: IdArray) -> int:
        """Add the vectors of `wanted` ids the index lacks; returns how many were added."""
        if wanted.size and np.isin(wanted, index.ids(), assume_unique=True).all():
            self._maybe_prune(index)
            return 0
        with self._lock:
            missing = np.setdiff1d(wanted, index.ids(), assume_unique=True)
            added = self._fetch(index, missing.tolist()) if missing.size else 0
        self._maybe_prune(index)
        return added

    def _fetch(self, index: VectorIndex, missing: list[int]) -> int:
        spec = index.spec
        with self.db.session() as session:
            found, stored = vectors.get(session, missing, spec.embedder, spec.dim)
        index.add(found, stored)
        lacking = sorted(set(missing) - set(found))
        if lacking:  # stored before vectors were kept in SQL (or by another embedder): embed here
            log.warning(
                "%d ready chunks have no stored %s vector; embedding them in this process (run `kb reindex` "
                "once to store them)",
                len(lacking),
                spec.embedder,
            )
            with self.db.session() as session:
                rows = [c for part in chunks.iter_ready_chunks(session, ids=lacking) for c in part]
            if rows:
                index.add([c.id for c in rows], self._embedder().embed_documents([c.embedding_text for c in rows]))
        return len(found) + len(lacking)

    def _maybe_prune(self, index: VectorIndex) -> None:
        if time.monotonic() - self._pruned_at < self.prune_every_s:
            return
        self._pruned_at = time.monotonic()
        self.prune(index)

    def prune(self, index: VectorIndex) -> int:
        """Remove vectors of chunks that are no longer ready (deleted or superseded documents)."""
        with self.db.session() as session:
            ready = chunks.ready_chunk_ids(session)
        with self._lock:
            stale = np.setdiff1d(index.ids(), ready, assume_unique=True)
            return index.remove(stale) if stale.size else 0
