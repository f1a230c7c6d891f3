"""Request bodies at the ASGI level, for middlewares that must bound or inspect a body before the
application reads it: the length a request announces, a `receive` that stops past a limit (chunked
bodies too), reading a small body whole and handing it on unchanged."""

from collections.abc import Awaitable, Callable

from starlette.types import Message, Receive, Scope


class BodyTooLarge(Exception):
    """More body bytes arrived than the limit allows."""


def header(scope: Scope, name: bytes) -> str:
    """A request header's value ('' when absent), read from the ASGI scope."""
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


def declared_length(scope: Scope) -> int:
    """The Content-Length announced (0 when none; unreadable counts as huge)."""
    value = header(scope, b"content-length")
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        return 1 << 62


def bounded_receive(receive: Receive, limit: int) -> Receive:
    """`receive` that raises BodyTooLarge once more than `limit` body bytes arrived (chunked bodies too)."""
    seen = [0]

    async def bounded() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            seen[0] += len(message.get("body", b""))
            if seen[0] > limit:
                raise BodyTooLarge
        return message

    return bounded


async def read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(parts)


def replay_body(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """The body once, then whatever the connection says next (a disconnect)."""
    sent = [False]

    async def replay() -> Message:
        if not sent[0]:
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
