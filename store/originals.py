"""Uploaded originals kept in SQL (shared deployments), so that a worker or app process on any
machine can read a document's bytes; each process keeps a local copy as a cache."""

from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.models import StoredFile


def put(session: Session, sha256: str, source: Path) -> None:
    """Keep `source`'s bytes under `sha256`; a copy already there is kept."""
    if session.get(StoredFile, sha256) is None:
        content = source.read_bytes()
        session.add(StoredFile(sha256=sha256, size=len(content), content=content))
        session.flush()


def get(session: Session, sha256: str) -> bytes | None:
    return session.scalar(select(StoredFile.content).where(StoredFile.sha256 == sha256))


def remove(session: Session, hashes: set[str]) -> None:
    if hashes:
        session.execute(delete(StoredFile).where(StoredFile.sha256.in_(sorted(hashes))))


def hashes(session: Session) -> set[str]:
    return set(session.scalars(select(StoredFile.sha256)))
