"""A user's own stored conversations: list, read, rename, delete, and feedback on answers.

Another user's conversation reads as missing (404), never as forbidden, so ids do not leak."""

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Body, Response

from app.api.auth import Service, User
from app.api.schemas import ConversationOut, FeedbackIn, MessageOut
from store.conversation_records import ConversationInfo

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])


def _out(conversation: ConversationInfo) -> ConversationOut:
    return ConversationOut(
        id=conversation.id,
        title=conversation.title,
        created_at=conversation.created_at.isoformat(),
        updated_at=conversation.updated_at.isoformat(),
        messages=conversation.messages,
    )


@router.get("", response_model=list[ConversationOut])
def list_conversations(service: Service, user: User) -> list[ConversationOut]:
    return [_out(c) for c in service.conversations(user)]


@router.post("", response_model=ConversationOut, status_code=201)
def create_conversation(
    service: Service, user: User, title: Annotated[str, Body(embed=True, max_length=500)] = ""
) -> ConversationOut:
    return _out(service.new_conversation(user, title.strip()))


@router.get("/{conversation_id}/messages", response_model=list[MessageOut])
def conversation_messages(conversation_id: int, service: Service, user: User) -> list[MessageOut]:
    return [
        MessageOut(**{**asdict(m), "created_at": m.created_at.isoformat() if m.created_at else None})
        for m in service.messages(user, conversation_id)
    ]


@router.patch("/{conversation_id}", response_model=ConversationOut)
def rename_conversation(
    conversation_id: int, service: Service, user: User, title: Annotated[str, Body(embed=True, max_length=500)]
) -> ConversationOut:
    return _out(service.rename_conversation(user, conversation_id, title))


@router.delete("/{conversation_id}", status_code=204)
def delete_conversation(conversation_id: int, service: Service, user: User) -> Response:
    service.delete_conversation(user, conversation_id)
    return Response(status_code=204)


@router.post("/messages/{message_id}/feedback", status_code=204)
def message_feedback(message_id: int, feedback: FeedbackIn, service: Service, user: User) -> Response:
    service.feedback(user, message_id, up=feedback.rating > 0, comment=feedback.comment)
    return Response(status_code=204)
