"""Plain dataclasses of the chat side, returned by conversations.py and api_keys.py."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ConversationInfo:
    id: int
    user_id: int
    title: str
    created_at: datetime
    updated_at: datetime
    messages: int = 0


@dataclass(frozen=True)
class MessageInfo:
    id: int
    conversation_id: int
    role: str
    content: str
    found: bool | None
    citations: list[dict[str, Any]] = field(default_factory=list)  # JSON-ready citation dicts
    timings_ms: dict[str, float] = field(default_factory=dict)
    created_at: datetime | None = None
    checks: dict[str, Any] = field(default_factory=dict)  # outcome, method, dropped sentences with reasons


@dataclass(frozen=True)
class ApiKeyInfo:
    id: int
    user_id: int
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool
