"""Chunk reads, the knowledge base's read job: which chunks a user may read, their text, and the
dense search restricted to them (the allowed ids go into the FAISS search itself, before ranking).

    reads = kb.reads
    reads.search("net sales", actor, k=8)    -> [SearchHit]
"""

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ingestion.follow import IndexFollower
from ingestion.index import IdArray, VectorIndex
from ingestion.types import Embedder
from store import chunks
from store.engine import Database
from store.records import PageText, SearchHit, StoredChunk, UserInfo

log = logging.getLogger(__name__)


# Snapshots a search takes at most while the index keeps losing ids under it (each try is one search).
_SNAPSHOT_TRIES = 3


class ChunkReads:
    def __init__(
        self,
        db: Database,
        index_path: Path,
        index: Callable[[], VectorIndex],
        index_loaded: Callable[[], bool],
        embedder: Callable[[], Embedder],
        follower: IndexFollower | None = None,
    ) -> None:
        self.db, self.index_path = db, index_path
        self._index, self._index_loaded, self._embedder = index, index_loaded, embedder
        self._follower = follower  # set when several processes share the database

    def readable_chunk_ids(self, actor: UserInfo) -> npt.NDArray[np.int64]:
        with self.db.session() as session:
            return chunks.readable_chunk_ids(session, actor)

    def get_chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        with self.db.session() as session:
            return chunks.get_chunks(session, ids)

    def page_context(self, chunk: StoredChunk) -> PageText:
        """The text of the pages `chunk` lies on, and where `chunk` starts in it. Only for a chunk
        the reader may already read: the pages are of the same document."""
        with self.db.session() as session:
            around = chunks.chunks_on_pages(session, chunk.document_id, chunk.page_start, chunk.page_end)
        text, end, begin = "", None, None
        starts: list[tuple[int, int]] = []
        for piece in around:
            cut = end - piece.char_start if end is not None and piece.char_start < end else 0
            body = piece.text[cut:]  # the part the previous chunk did not already give
            gap = piece.char_start - end if end is not None and piece.char_start > end else 0
            if gap:  # whitespace the splitter dropped between two chunks ("2022\n \nNet income"):
                text += " " * (gap - 1) + "\n"  # kept as long as it was, so offsets stay the document's
            if begin is None:
                begin = piece.char_start
            at = len(text)
            breaks = piece.recorded_breaks
            starts.append((at, piece.page_start + sum(1 for b in breaks if b <= cut)))
            starts += [(at + b - cut, piece.page_start + i + 1) for i, b in enumerate(breaks) if b > cut]
            text += body
            end = piece.char_start + cut + len(body)
        if begin is None or not begin <= chunk.char_start <= begin + len(text):
            return PageText(chunk.text, 0, ((0, chunk.page_start),))
        return PageText(text, chunk.char_start - begin, tuple(sorted(set(starts))))

    def page_text(self, document_id: int, page: int) -> str:
        """One page's text, joined from the chunks that touch it (overlaps removed); "" when none
        does. The caller checks that the reader may read the document."""
        with self.db.session() as session:
            around = chunks.chunks_on_pages(session, document_id, page, page)
        if not around:
            return ""
        return self.page_context(around[0]).of_page(page)

    def index_for(self, allowed: IdArray) -> VectorIndex:
        """The vector index, holding every id in `allowed` (read from SQL just before): a writer's
        newer save on this machine is reloaded; shared, the vectors come from the database."""
        index = self._index()
        index.refresh_for(allowed)
        if self._follower is not None:
            self._follower.catch_up(index, allowed)
        return index

    def iter_chunks(self, batch: int = 512) -> Iterator[list[StoredChunk]]:
        """Every ready chunk (for building a keyword index); filter with readable_chunk_ids."""
        with self.db.session() as session:
            yield from chunks.iter_ready_chunks(session, batch=batch)

    def search(self, query: str, actor: UserInfo, k: int = 8) -> list[SearchHit]:
        return self.search_vector(self._embedder().embed_query(query), actor, k)

    def search_vector(self, vector: npt.NDArray[np.float32], actor: UserInfo, k: int = 8) -> list[SearchHit]:
        """Top `k` chunks `actor` may read. The allowed ids go into the FAISS search itself.

        A new version's writer flips SQL to it and then removes the old version's vectors: a reader
        whose SQL snapshot came just before the flip would search for ids already gone and find
        neither version. When the index lost ids between the snapshot and the search, the reader
        takes a new snapshot and searches again."""
        missing = not self.index_path.exists() and not self._index_loaded()  # before it is opened below
        for attempt in range(1, _SNAPSHOT_TRIES + 1):
            removals = self._index().removals
            allowed = self.readable_chunk_ids(actor)  # one SQL snapshot: old version or new, not both
            if missing and allowed.size and attempt == 1:
                log.error(  # answers would all be refusals: say so where the administrator looks
                    "the vector index %s is missing while %d chunks are ready; restart `kb serve` or run "
                    "`kb reindex` to rebuild it",
                    self.index_path,
                    allowed.size,
                )
            hits = self.index_for(allowed).search(vector, k, allowed)
            found = self.get_chunks([i for i, _ in hits])
            if self._index().removals == removals or attempt == _SNAPSHOT_TRIES:
                break
        return [SearchHit(found[i], score) for i, score in hits if i in found]
