"""Conversations, messages and feedback, each owned by one user. Every read and write names the
owner, so a user can never reach another user's conversation by guessing its id."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from store.conversation_models import Conversation, Feedback, Message
from store.conversation_records import ConversationInfo, MessageInfo
from store.engine import Database
from store.errors import NotFoundError
from store.models import utcnow


def _conversation_info(row: Conversation, messages: int = 0) -> ConversationInfo:
    return ConversationInfo(row.id, row.user_id, row.title, row.created_at, row.updated_at, messages)


def _message_info(row: Message) -> MessageInfo:
    return MessageInfo(
        row.id,
        row.conversation_id,
        row.role,
        row.content,
        row.found,
        list(row.citations or []),
        dict(row.timings_ms or {}),
        row.created_at,
        dict(row.checks or {}),
    )


def _owned(session: Session, conversation_id: int, user_id: int) -> Conversation:
    row = session.get(Conversation, conversation_id)
    if row is None or row.user_id != user_id:  # someone else's reads exactly like a missing one
        raise NotFoundError(f"There is no conversation with id {conversation_id}.")
    return row


class ConversationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, user_id: int, title: str = "") -> ConversationInfo:
        with self.db.session() as session:
            row = Conversation(user_id=user_id, title=title)
            session.add(row)
            session.flush()
            return _conversation_info(row)

    def get(self, conversation_id: int, user_id: int) -> ConversationInfo:
        with self.db.session() as session:
            row = _owned(session, conversation_id, user_id)
            count = session.scalar(select(func.count(Message.id)).where(Message.conversation_id == row.id)) or 0
            return _conversation_info(row, count)

    def of_user(self, user_id: int, search: str = "") -> list[ConversationInfo]:
        """The user's conversations, most recently active first; with `search`, those whose title or
        any message contains it (case-insensitive, taken literally)."""
        with self.db.session() as session:
            counts = (
                select(Message.conversation_id, func.count(Message.id).label("n"))
                .group_by(Message.conversation_id)
                .subquery()
            )
            query = (
                select(Conversation, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.conversation_id == Conversation.id)
                .where(Conversation.user_id == user_id)
                .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
            )
            if search:
                pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                said = select(Message.conversation_id).where(Message.content.ilike(pattern, escape="\\"))
                query = query.where(Conversation.title.ilike(pattern, escape="\\") | Conversation.id.in_(said))
            rows = session.execute(query).tuples()
            return [_conversation_info(row, int(n)) for row, n in rows]

    def rename(self, conversation_id: int, user_id: int, title: str) -> ConversationInfo:
        with self.db.session() as session:
            row = _owned(session, conversation_id, user_id)
            row.title = title
            session.flush()
            return _conversation_info(row)

    def delete(self, conversation_id: int, user_id: int) -> None:
        with self.db.session() as session:
            row = _owned(session, conversation_id, user_id)
            # Explicit deletes: SQLite cascades only with foreign keys on, PostgreSQL always.
            message_ids = select(Message.id).where(Message.conversation_id == row.id)
            session.execute(delete(Feedback).where(Feedback.message_id.in_(message_ids)))
            session.execute(delete(Message).where(Message.conversation_id == row.id))
            session.delete(row)

    def add_message(
        self,
        conversation_id: int,
        user_id: int,
        role: str,
        content: str,
        *,
        found: bool | None = None,
        citations: Sequence[dict[str, Any]] = (),
        timings_ms: dict[str, float] | None = None,
        checks: dict[str, Any] | None = None,
    ) -> MessageInfo:
        with self.db.session() as session:
            conversation = _owned(session, conversation_id, user_id)
            row = Message(
                conversation_id=conversation.id,
                role=role,
                content=content,
                found=found,
                citations=list(citations),
                timings_ms=dict(timings_ms or {}),
                checks=checks,
            )
            session.add(row)
            conversation.updated_at = utcnow()
            session.flush()
            return _message_info(row)

    def messages(self, conversation_id: int, user_id: int, limit: int | None = None) -> list[MessageInfo]:
        """Messages oldest first; with `limit`, only the last `limit` of them."""
        with self.db.session() as session:
            _owned(session, conversation_id, user_id)
            query = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id.desc())
            if limit is not None:
                query = query.limit(limit)
            return [_message_info(row) for row in reversed(list(session.scalars(query)))]

    def remove_last_turn(self, conversation_id: int, user_id: int) -> str | None:
        """Drop the last answer and the question before it (to ask again); returns that question."""
        with self.db.session() as session:
            _owned(session, conversation_id, user_id)
            query = select(Message).where(Message.conversation_id == conversation_id)
            last = list(session.scalars(query.order_by(Message.id.desc()).limit(2)))
            if not last or last[-1].role != "user":
                return None
            ids = [m.id for m in last]
            session.execute(delete(Feedback).where(Feedback.message_id.in_(ids)))
            session.execute(delete(Message).where(Message.id.in_(ids)))
            return last[-1].content

    def remove_message(self, message_id: int, user_id: int) -> None:
        """Drop one message of the user's own conversation (a question whose answer failed)."""
        with self.db.session() as session:
            row = session.get(Message, message_id)
            if row is None:
                return
            _owned(session, row.conversation_id, user_id)
            session.execute(delete(Feedback).where(Feedback.message_id == message_id))
            session.delete(row)

    def set_feedback(self, message_id: int, user_id: int, rating: int, comment: str = "") -> None:
        """Thumbs up (+1) or down (-1) on a message of the user's own conversation; a second vote replaces the first."""
        with self.db.session() as session:
            message = session.get(Message, message_id)
            owner = session.get(Conversation, message.conversation_id) if message is not None else None
            if message is None or owner is None or owner.user_id != user_id:  # someone else's reads as missing
                raise NotFoundError(f"There is no message with id {message_id}.")
            row = session.scalar(select(Feedback).where(Feedback.message_id == message_id, Feedback.user_id == user_id))
            if row is None:
                session.add(Feedback(message_id=message_id, user_id=user_id, rating=rating, comment=comment))
            else:
                row.rating, row.comment = rating, comment

    def feedback(self, message_id: int, user_id: int) -> int | None:
        with self.db.session() as session:
            return session.scalar(
                select(Feedback.rating).where(Feedback.message_id == message_id, Feedback.user_id == user_id)
            )
