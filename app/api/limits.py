"""Bounds on /v1 requests, enforced before the body is read: an upload needs a valid API key
first (an anonymous 1.5 GB body is refused from its headers, not after spooling it to disk), and
no body may exceed its limit, announced (Content-Length) or streamed (chunked).

    api.add_middleware(RequestBounds, service=service)
"""

import anyio
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.bodies import BodyTooLarge, bounded_receive, declared_length, header
from app.api.errors import error_body
from app.service import KnowledgeService

MAX_JSON_BYTES = 1 << 20  # a chat request with its history; questions are capped far below this
UPLOAD_OVERHEAD = 64 * 1024  # multipart headers and form fields around the file


def _refusal(status: int, message: str, kind: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(message, kind, status), status, headers=headers)


class RequestBounds:
    def __init__(self, app: ASGIApp, service: KnowledgeService) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/v1/") or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = MAX_JSON_BYTES
        if path.rstrip("/") == "/v1/documents":
            if not await self._signed(scope):
                await _refusal(401, "Missing, invalid or revoked API key.", "authentication_error")(
                    scope, receive, send
                )
                return
            limit = self.service.max_upload_bytes + UPLOAD_OVERHEAD
        if declared_length(scope) > limit:
            await self._too_large(scope, receive, send, limit)
            return
        started = [False]

        async def watch(message: Message) -> None:
            started[0] = started[0] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive(receive, limit), watch)
        except BodyTooLarge:
            if started[0]:
                raise
            await self._too_large(scope, receive, send, limit)

    async def _signed(self, scope: Scope) -> bool:
        scheme, _, key = header(scope, b"authorization").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return False
        return await anyio.to_thread.run_sync(self.service.user_for_key, key.strip()) is not None

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        what = "The upload" if limit > MAX_JSON_BYTES else "The request"
        await _refusal(413, f"{what} is larger than the limit of {limit // 2**20 or 1} MB.", "invalid_request_error")(
            scope, receive, send
        )
