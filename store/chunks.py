"""Chunk rows: written once per document version, read by id for search results."""

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Chunk, DocStatus, Document
from store.records import ChunkDraft, StoredChunk, UserInfo
from store.visibility import readable

_COLUMNS = (Chunk, Document.file_name)


def _stored(chunk: Chunk, file_name: str) -> StoredChunk:
    return StoredChunk(
        id=chunk.id,
        document_id=chunk.document_id,
        file_name=file_name,
        ordinal=chunk.ordinal,
        header=chunk.header,
        text=chunk.text,
        page_start=chunk.page_start,
        page_end=chunk.page_end,
        char_start=chunk.char_start,
        char_end=chunk.char_end,
        page_breaks=tuple(chunk.page_breaks or ()),
    )


def insert_chunks(session: Session, document_id: int, header: str, drafts: Sequence[ChunkDraft]) -> list[int]:
    """Write a document's chunks; returns their ids (the FAISS ids) in ordinal order."""
    rows = [
        Chunk(
            document_id=document_id,
            ordinal=d.ordinal,
            header=header,
            text=d.text,
            page_start=d.page_start,
            page_end=d.page_end,
            char_start=d.char_start,
            char_end=d.char_end,
            page_breaks=list(d.page_breaks),
        )
        for d in drafts
    ]
    session.add_all(rows)
    session.flush()
    return [r.id for r in rows]


def _ids(session: Session, query: object) -> npt.NDArray[np.int64]:
    return np.fromiter(session.scalars(query), dtype=np.int64)  # type: ignore[call-overload]


def readable_chunk_ids(session: Session, viewer: UserInfo) -> npt.NDArray[np.int64]:
    """Ids of chunks `viewer` may read; the FAISS search is restricted to exactly these."""
    query = select(Chunk.id).join(Document, Document.id == Chunk.document_id).where(readable(viewer))
    return _ids(session, query.order_by(Chunk.id))


def ready_chunk_ids(session: Session) -> npt.NDArray[np.int64]:
    query = select(Chunk.id).join(Document, Document.id == Chunk.document_id)
    return _ids(session, query.where(Document.status == DocStatus.READY).order_by(Chunk.id))


def chunk_ids_of(session: Session, document_ids: Sequence[int]) -> list[int]:
    if not document_ids:
        return []
    return list(session.scalars(select(Chunk.id).where(Chunk.document_id.in_(document_ids))))


def get_chunks(session: Session, ids: Sequence[int]) -> dict[int, StoredChunk]:
    """Chunks by id, whatever their document's status: a search that began before a version swap
    still gets the text of the version it found (old chunks are deleted only after the swap)."""
    if not ids:
        return {}
    rows = session.execute(
        select(*_COLUMNS).join(Document, Document.id == Chunk.document_id).where(Chunk.id.in_(list(ids)))
    )
    return {chunk.id: _stored(chunk, name) for chunk, name in rows.tuples()}


def chunks_on_pages(session: Session, document_id: int, first: int, last: int) -> list[StoredChunk]:
    """A document's chunks that touch pages first..last, in reading order."""
    query = (
        select(*_COLUMNS)
        .join(Document, Document.id == Chunk.document_id)
        .where(Chunk.document_id == document_id, Chunk.page_start <= last, Chunk.page_end >= first)
        .order_by(Chunk.char_start)
    )
    return [_stored(chunk, name) for chunk, name in session.execute(query).tuples()]


def iter_ready_chunks(
    session: Session, *, ids: Sequence[int] | None = None, batch: int = 512
) -> Iterator[list[StoredChunk]]:
    """Ready chunks in id order, `batch` at a time (keyset pagination: memory stays flat)."""
    last = 0
    while True:
        query = (
            select(*_COLUMNS)
            .join(Document, Document.id == Chunk.document_id)
            .where(Document.status == DocStatus.READY, Chunk.id > last)
            .order_by(Chunk.id)
            .limit(batch)
        )
        if ids is not None:
            query = query.where(Chunk.id.in_(list(ids)))
        rows = [_stored(chunk, name) for chunk, name in session.execute(query).tuples()]
        if not rows:
            return
        yield rows
        last = rows[-1].id
