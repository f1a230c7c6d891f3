"""Append-only audit log: who did what to which target."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import AuditEntry
from store.records import AuditRecord


def record(session: Session, actor: str, action: str, target: str = "") -> None:
    session.add(AuditEntry(actor=actor, action=action, target=target))


def recent(session: Session, limit: int = 100) -> list[AuditRecord]:
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
    return [AuditRecord(at=r.at, actor=r.actor, action=r.action, target=r.target) for r in rows]
