"""Document rows and their lifecycle: queued -> parsing -> embedding -> ready (| failed), and the
version swap, which is one transaction so readers see the old version or the new, never both."""

from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from ingestion.errors import NotFoundError
from ingestion.store.models import Chunk, DocStatus, Document, Group, IngestJob, JobState, User
from ingestion.store.records import DocumentInfo, UserInfo
from ingestion.store.visibility import may_read
from ingestion.types import DocumentMetadata


def _info(doc: Document, chunks: int, uploader: str | None) -> DocumentInfo:
    return DocumentInfo(
        id=doc.id,
        file_name=doc.file_name,
        sha256=doc.sha256,
        size=doc.size,
        mime=doc.mime,
        pages=doc.pages,
        chunks=chunks,
        status=doc.status,
        error=doc.error,
        version=doc.version,
        previous_id=doc.previous_id,
        uploaded_by=uploader,
        groups=tuple(sorted(g.name for g in doc.groups)),
        metadata=DocumentMetadata(
            title=doc.title, organisation=doc.organisation, kind=doc.kind, period=doc.period
        ),
        created_at=doc.created_at,
        updated_at=doc.updated_at,
    )


def _infos(session: Session, where: object, order: object = Document.id) -> list[DocumentInfo]:
    counts = select(Chunk.document_id, func.count(Chunk.id).label("n")).group_by(Chunk.document_id).subquery()
    query = (
        select(Document, func.coalesce(counts.c.n, 0), User.name)
        .outerjoin(counts, counts.c.document_id == Document.id)
        .outerjoin(User, User.id == Document.uploaded_by)
        .where(where)  # type: ignore[arg-type]
        .options(selectinload(Document.groups))
        .order_by(order)  # type: ignore[arg-type]
    )
    return [_info(doc, n, uploader) for doc, n, uploader in session.execute(query).tuples()]


def get(session: Session, document_id: int) -> DocumentInfo | None:
    found = _infos(session, Document.id == document_id)
    return found[0] if found else None


def by_sha(session: Session, sha256: str) -> DocumentInfo | None:
    found = _infos(session, Document.sha256 == sha256)
    return found[0] if found else None


def list_documents(
    session: Session, viewer: UserInfo, *, include_superseded: bool = False
) -> list[DocumentInfo]:
    where = may_read(viewer)
    if not include_superseded:
        where = where & (Document.status != DocStatus.SUPERSEDED)
    return _infos(session, where, Document.file_name)


def resolve(session: Session, ref: str, viewer: UserInfo) -> list[DocumentInfo]:
    """Documents named `ref` (current versions first), or the one with id `ref`."""
    where = Document.file_name == ref
    if ref.isdigit():
        where = where | (Document.id == int(ref))
    found = _infos(session, where & may_read(viewer), Document.version.desc())
    if not found:
        raise NotFoundError(f"No document is named {ref!r} or has that id; see `kb docs list`.")
    return found


def create_pending(
    session: Session,
    *,
    file_name: str,
    sha256: str,
    size: int,
    mime: str | None,
    uploaded_by: int | None,
    groups: Sequence[Group],
) -> int:
    """A queued document and its job, in the caller's transaction."""
    doc = Document(
        file_name=file_name,
        sha256=sha256,
        size=size,
        mime=mime,
        uploaded_by=uploaded_by,
        status=DocStatus.QUEUED,
    )
    doc.groups = list(groups)
    session.add(doc)
    session.flush()
    session.add(IngestJob(document_id=doc.id, state=JobState.QUEUED))
    return doc.id


def set_groups(session: Session, document_id: int, groups: Sequence[Group]) -> None:
    """Who may read the document from now on (no groups: every signed-in user)."""
    doc = session.get(Document, document_id)
    if doc is None:
        raise NotFoundError(f"There is no document with id {document_id}.")
    doc.groups = list(groups)


def set_status(session: Session, document_id: int, status: str, error: str | None = None) -> None:
    session.execute(update(Document).where(Document.id == document_id).values(status=status, error=error))


def set_parsed(
    session: Session, document_id: int, *, pages: int, mime: str | None, metadata: DocumentMetadata
) -> None:
    session.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(
            pages=pages,
            mime=mime,
            status=DocStatus.EMBEDDING,
            title=metadata.title,
            organisation=metadata.organisation,
            kind=metadata.kind,
            period=metadata.period,
        )
    )


def current_version(session: Session, file_name: str, *, excluding: int) -> Document | None:
    return session.scalar(
        select(Document).where(
            Document.file_name == file_name, Document.status == DocStatus.READY, Document.id != excluding
        )
    )


def activate(session: Session, document_id: int) -> list[int]:
    """The swap: the new version becomes ready and the old one superseded, in the caller's one
    transaction. Returns the superseded ids; their chunks stay until `purge_chunks` so that a
    search already holding old chunk ids can still read their text."""
    doc = session.get(Document, document_id)
    if doc is None:
        raise NotFoundError(f"Document {document_id} vanished while it was being ingested.")
    current = current_version(session, doc.file_name, excluding=document_id)
    if current is not None and current.id > doc.id:
        # Registered after us (two files of one name in one run, or a resumed old job): it wins.
        doc.status = DocStatus.SUPERSEDED
        return [doc.id]
    superseded: list[int] = []
    if current is not None:
        current.status = DocStatus.SUPERSEDED
        doc.previous_id = current.id
        doc.version = current.version + 1
        superseded.append(current.id)
    doc.status = DocStatus.READY
    doc.error = None
    return superseded


def purge_chunks(session: Session, document_ids: Sequence[int]) -> None:
    if document_ids:
        session.execute(delete(Chunk).where(Chunk.document_id.in_(list(document_ids))))


def delete_documents(session: Session, document_ids: Sequence[int]) -> None:
    """Rows go; chunks, jobs and group links follow by ON DELETE CASCADE."""
    if document_ids:
        session.execute(
            update(Document).where(Document.previous_id.in_(list(document_ids))).values(previous_id=None)
        )
        session.execute(delete(Document).where(Document.id.in_(list(document_ids))))


def versions_of(session: Session, file_name: str) -> list[int]:
    return list(session.scalars(select(Document.id).where(Document.file_name == file_name)))


def stale_pending(session: Session, file_name: str, *, keep_sha: str) -> list[int]:
    """Unfinished or failed rows of `file_name` with other bytes: a newer file makes them moot."""
    return list(
        session.scalars(
            select(Document.id).where(
                Document.file_name == file_name,
                Document.sha256 != keep_sha,
                Document.status.not_in([DocStatus.READY, DocStatus.SUPERSEDED]),
            )
        )
    )


def ids_with_status(session: Session, statuses: Sequence[str]) -> list[int]:
    return list(session.scalars(select(Document.id).where(Document.status.in_(list(statuses)))))


def superseded_with_chunks(session: Session) -> list[int]:
    query = (
        select(Document.id)
        .where(Document.status == DocStatus.SUPERSEDED)
        .where(select(Chunk.id).where(Chunk.document_id == Document.id).exists())
    )
    return list(session.scalars(query))


def known_hashes(session: Session) -> set[str]:
    return set(session.scalars(select(Document.sha256)))
