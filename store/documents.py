"""Document rows and their lifecycle: queued -> parsing -> embedding -> ready (| failed), and the
version swap, which is one transaction so readers see the old version or the new, never both."""

from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from store.errors import NotFoundError
from store.models import Chunk, DocStatus, Document, Group, IngestJob, JobState, Role, User
from store.records import DocumentInfo, DocumentMetadata, UserInfo
from store.visibility import may_read


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


def _same_line(doc: Document, other: Document, by_admin: bool) -> bool:
    """`doc` may take `other`'s place: same name and audience, and its uploader may change `other`
    (the same uploader, or an administrator). A member's upload never replaces someone else's
    document, nor one shared with other groups: it becomes a document of its own."""
    return (
        other.file_name == doc.file_name
        and {g.id for g in other.groups} == {g.id for g in doc.groups}
        and (by_admin or other.uploaded_by == doc.uploaded_by)
    )


def _by_admin(session: Session, doc: Document) -> bool:
    uploader = session.get(User, doc.uploaded_by) if doc.uploaded_by is not None else None
    return uploader is None or uploader.role == Role.ADMIN  # no uploader: the shell's administrator


def current_version(session: Session, doc: Document) -> Document | None:
    """The ready document that `doc` (not yet ready) would replace: the newest of its line."""
    by_admin = _by_admin(session, doc)
    candidates = session.scalars(
        select(Document)
        .where(Document.file_name == doc.file_name, Document.status == DocStatus.READY, Document.id != doc.id)
        .options(selectinload(Document.groups))
        .order_by(Document.id.desc())
    )
    return next((c for c in candidates if _same_line(doc, c, by_admin)), None)


def replaces_another(session: Session, document_id: int) -> bool:
    doc = session.get(Document, document_id)
    return doc is not None and current_version(session, doc) is not None


def activate(session: Session, document_id: int) -> list[int]:
    """The swap: the new version becomes ready and the old one superseded, in the caller's one
    transaction. Returns the superseded ids; their chunks stay until `purge_chunks` so that a
    search already holding old chunk ids can still read their text."""
    doc = session.get(Document, document_id)
    if doc is None:
        raise NotFoundError(f"Document {document_id} vanished while it was being ingested.")
    current = current_version(session, doc)
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


def with_history(session: Session, document_ids: Sequence[int]) -> set[int]:
    """The documents and every earlier version they replaced (their previous_id chains)."""
    found: set[int] = set()
    todo = list(document_ids)
    while todo:
        doc_id = todo.pop()
        if doc_id in found:
            continue
        found.add(doc_id)
        previous = session.scalar(select(Document.previous_id).where(Document.id == doc_id))
        if previous is not None:
            todo.append(previous)
    return found


def stale_pending(session: Session, file_name: str, *, keep_sha: str, uploader: UserInfo) -> list[int]:
    """Unfinished or failed rows of `file_name` with other bytes, of this uploader's (or, for an
    administrator, anyone's): a newer file makes them moot. Another member's rows are left alone."""
    query = select(Document.id).where(
        Document.file_name == file_name,
        Document.sha256 != keep_sha,
        Document.status.not_in([DocStatus.READY, DocStatus.SUPERSEDED]),
    )
    if not uploader.is_admin:
        query = query.where(Document.uploaded_by == uploader.id)
    return list(session.scalars(query))


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
