"""Chunk vectors in SQL: what each process's FAISS index catches up from when several processes
share one database. Stored as raw float32 bytes; one embedder's vectors are never read as another's."""

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.models import ChunkVector

Vectors = npt.NDArray[np.float32]
_IN_BATCH = 1000  # ids per IN (...) list


def put(session: Session, ids: Sequence[int], embedder: str, vectors: Vectors) -> None:
    """Store (or replace) the vectors of `ids`, row i of `vectors` for ids[i]."""
    rows = np.ascontiguousarray(vectors, dtype="<f4")
    if rows.shape[0] != len(ids):
        raise ValueError(f"{len(ids)} ids but {rows.shape[0]} vectors")
    for start in range(0, len(ids), _IN_BATCH):
        part = [int(i) for i in ids[start : start + _IN_BATCH]]
        session.execute(delete(ChunkVector).where(ChunkVector.chunk_id.in_(part)))
    session.add_all(
        ChunkVector(chunk_id=int(i), embedder=embedder, vector=rows[n].tobytes()) for n, i in enumerate(ids)
    )
    session.flush()


def get(session: Session, ids: Sequence[int], embedder: str, dim: int) -> tuple[list[int], Vectors]:
    """The stored vectors of `ids` made by `embedder` (ids without one are left out), in id order."""
    found: list[int] = []
    blobs: list[bytes] = []
    wanted = sorted(int(i) for i in ids)
    for start in range(0, len(wanted), _IN_BATCH):
        query = (
            select(ChunkVector.chunk_id, ChunkVector.vector)
            .where(ChunkVector.chunk_id.in_(wanted[start : start + _IN_BATCH]), ChunkVector.embedder == embedder)
            .order_by(ChunkVector.chunk_id)
        )
        for chunk_id, blob in session.execute(query).tuples():
            if len(blob) == dim * 4:  # another dimension under the same name: not ours to load
                found.append(chunk_id)
                blobs.append(blob)
    if not found:
        return [], np.zeros((0, dim), np.float32)
    return found, np.frombuffer(b"".join(blobs), dtype="<f4").astype(np.float32).reshape(len(found), dim)


def iter_ids(session: Session, batch: int = 10_000) -> Iterator[list[int]]:
    """Every chunk id that has a stored vector (any embedder), `batch` at a time."""
    last = 0
    while True:
        query = select(ChunkVector.chunk_id).where(ChunkVector.chunk_id > last).order_by(ChunkVector.chunk_id)
        part = list(session.scalars(query.limit(batch)))
        if not part:
            return
        yield part
        last = part[-1]
