"""First step of an ingest: hash the file, find it by hash, keep a copy, queue a job.

The same bytes are one document whatever the file is called; a known hash that never finished
(crash, failure) is picked up again rather than copied twice."""

import mimetypes
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from ingestion import jobs
from ingestion.files import FileStore, sha256_of
from ingestion.outcomes import FileResult, Outcome
from store import accounts, audit, documents
from store.engine import Database
from store.models import DocStatus, Document
from store.records import UserInfo

HIDDEN_DUPLICATE = (
    "the same file is already in the knowledge base, shared with groups you are not in; "
    "ask its uploader or an administrator to share it with you"
)


def can_read(actor: UserInfo, groups: tuple[str, ...]) -> bool:
    return actor.is_admin or not groups or bool(set(groups) & set(actor.groups))


@dataclass(frozen=True)
class Work:
    """A queued document to parse, split, embed and store."""

    document_id: int
    file_name: str
    sha256: str
    source: str  # the path the user gave (for the report)
    replaces: bool  # a ready document of the same name exists


def register(
    db: Database,
    store: FileStore,
    path: Path,
    *,
    groups: tuple[str, ...],
    actor: UserInfo,
    keep: set[int],
    keep_in_db: bool = False,
) -> FileResult | Work:
    """Queue `path` or report it as a duplicate. `keep`: ids already queued by this run.
    `keep_in_db`: the original goes into the database too, for workers on other machines."""
    sha = sha256_of(path)
    name = path.name
    with db.session() as session:
        existing = documents.by_sha(session, sha)
        if existing is not None and existing.status == DocStatus.READY:
            if not can_read(actor, existing.groups):  # say nothing of a document they may not see
                return FileResult(str(path), name, Outcome.DUPLICATE, message=HIDDEN_DUPLICATE)
            also = "" if existing.file_name == name else f" as {existing.file_name}"
            return FileResult(
                str(path),
                name,
                Outcome.DUPLICATE,
                existing.id,
                existing.pages or 0,
                existing.chunks,
                f"already present{also} (id {existing.id})",
            )
    store.put(path, sha)  # before the row, so a queued row always has its file
    if keep_in_db:
        from ingestion.shared import keep_original

        keep_original(db, sha, path)
    with db.session() as session:
        if existing is not None and existing.status == DocStatus.SUPERSEDED:
            documents.delete_documents(session, [existing.id])  # old bytes again: a fresh version
            existing = None
        if existing is not None:  # queued, interrupted or failed before: try again
            jobs.requeue(session, existing.id)
            doc_id = existing.id
        else:
            stale = documents.stale_pending(session, name, keep_sha=sha, uploader=actor)
            stale = [i for i in stale if i not in keep]
            documents.delete_documents(session, stale)
            doc_id = documents.create_pending(
                session,
                file_name=name,
                sha256=sha,
                size=path.stat().st_size,
                mime=mimetypes.guess_type(name)[0],
                uploaded_by=actor.id,
                groups=accounts.groups_by_name(session, groups),
            )
            audit.record(session, actor.name, "document.queued", f"{name} ({sha[:12]})")
    with db.session() as session:
        replaces = documents.replaces_another(session, doc_id)
    return Work(doc_id, name, sha, str(path), replaces)


def pending_work(db: Database) -> list[Work]:
    """Documents queued earlier (an upload, or an ingest that was interrupted)."""
    with db.session() as session:
        ids = jobs.pending_documents(session)
        rows = session.execute(
            select(Document.id, Document.file_name, Document.sha256).where(Document.id.in_(ids))
        )
        found = [(i, n, s) for i, n, s in rows.tuples()]
        return [
            Work(i, n, s, n, documents.replaces_another(session, i))
            for i, n, s in sorted(found)
        ]


def work_of(db: Database, document_id: int) -> Work | None:
    """The queued document `document_id` as work (a worker's job), or None if it is not queued."""
    with db.session() as session:
        row = session.execute(
            select(Document.file_name, Document.sha256).where(
                Document.id == document_id, Document.status == DocStatus.QUEUED
            )
        ).first()
        if row is None:
            return None
        return Work(document_id, row[0], row[1], row[0], documents.replaces_another(session, document_id))


def parse_path(store: FileStore, scratch: Path, work: Work) -> Path:
    """The stored copy under its own file name (parsers go by suffix): a hard link in scratch/."""
    folder = scratch / str(work.document_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / work.file_name
    if not target.exists():
        try:
            os.link(store.path(work.sha256), target)
        except OSError:
            shutil.copyfile(store.path(work.sha256), target)
    return target


def clear_scratch(scratch: Path, work: Work) -> None:
    shutil.rmtree(scratch / str(work.document_id), ignore_errors=True)
