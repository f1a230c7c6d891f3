"""Who may read a document: admins all; others the group-less ones and those of their groups."""

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select, true

from store.models import DocStatus, Document, DocumentGroup, Membership
from store.records import UserInfo


def may_read(viewer: UserInfo) -> ColumnElement[bool]:
    """A WHERE clause over Document for documents `viewer` may read (any status)."""
    if viewer.is_admin:
        return true()
    has_groups = exists(select(DocumentGroup.group_id).where(DocumentGroup.document_id == Document.id))
    shares_group = exists(
        select(DocumentGroup.group_id)
        .join(Membership, Membership.group_id == DocumentGroup.group_id)
        .where(DocumentGroup.document_id == Document.id, Membership.user_id == viewer.id)
    )
    return or_(not_(has_groups), shares_group)


def readable(viewer: UserInfo) -> ColumnElement[bool]:
    """Ready documents `viewer` may read: what search and answers may use."""
    return and_(Document.status == DocStatus.READY, may_read(viewer))
