"""Our own check on every file the web page is handed, in front of Gradio.

Gradio skips its path check when the app is mounted rather than launched
(`processing_utils._check_allowed` returns early while `has_launched` is false), so a hand-made
`{"path": "/any/server/file", "meta": {"_type": "gradio.FileData"}}` posted to a handler made
Gradio copy any server file into its cache and serve it. We do not rely on that guard at all:

- `POST /gradio_api/upload`: signed-in users only, and bounded, both before the body is read;
  the cache paths Gradio answers with are recorded as that user's uploads (`UploadLedger`).
- every other request body under `/gradio_api`: JSON only, bounded; each object in it with a
  `"path"` (a file reference, in any of Gradio's shapes) must name a file that this user
  uploaded, or the request is refused with 403 before Gradio sees it.
- `GET /gradio_api/file=PATH`: only the user's own uploads; URLs and `proxy=` never.

    ledger = UploadLedger()
    app = GradioFileGuard(web_app, session_user, ledger, max_upload_bytes=50 * 2**20)
"""

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.bodies import BodyTooLarge, bounded_receive, declared_length, read_body, replay_body

log = logging.getLogger(__name__)

PREFIX = "/gradio_api"
MAX_FILES_PER_UPLOAD = 20  # one upload request may carry several files, each within the limit
MAX_EVENT_BYTES = 256 * 1024  # a question, a title, ids: far less than this
UPLOAD_TTL_S = 6 * 3600  # an upload not used within hours is forgotten
MAX_UPLOADS_PER_USER = 512

SessionUser = Callable[[Request], str | None]


class UploadLedger:
    """Which files in Gradio's upload folder each user uploaded (real paths), for a while."""

    def __init__(self, ttl_s: float = UPLOAD_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._by_user: dict[str, OrderedDict[str, float]] = {}
        self._lock = threading.Lock()
        self._ttl_s, self._clock = ttl_s, clock

    def record(self, user: str, paths: list[str]) -> None:
        now = self._clock()
        with self._lock:
            mine = self._by_user.setdefault(user, OrderedDict())
            for real in map(os.path.realpath, paths):
                mine[real] = now
                mine.move_to_end(real)
            while len(mine) > MAX_UPLOADS_PER_USER:
                mine.popitem(last=False)

    def owns(self, user: str, path: str) -> bool:
        real = os.path.realpath(path)
        with self._lock:
            mine = self._by_user.get(user)
            at = mine.get(real) if mine is not None else None
            return at is not None and self._clock() - at <= self._ttl_s

    def forget(self, user: str, path: str) -> None:
        with self._lock:
            self._by_user.get(user, OrderedDict()).pop(os.path.realpath(path), None)


def file_references(value: Any) -> Iterator[str]:
    """Every `"path"` string inside a JSON value: Gradio treats any such object as a file."""
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str):
            yield path
        for key, item in value.items():
            if key != "path":
                yield from file_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from file_references(item)


def _refuse(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class GradioFileGuard:
    """ASGI middleware over the web app; see the module docstring."""

    def __init__(self, app: ASGIApp, session_user: SessionUser, ledger: UploadLedger, *, max_upload_bytes: int) -> None:
        self.app, self.session_user, self.ledger = app, session_user, ledger
        self.max_upload_request = max_upload_bytes * MAX_FILES_PER_UPLOAD + 64 * 1024

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] in ("http", "websocket") else ""
        if not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        user = self.session_user(Request({**scope, "type": "http"}))  # (a Request reads only the cookies here)
        if scope["type"] == "websocket":
            if user is None:
                await send({"type": "websocket.close", "code": 1008})
            else:
                await self.app(scope, receive, send)
            return
        route = path[len(PREFIX) :]
        method = scope.get("method", "GET")
        if user is None:  # nothing under /gradio_api for anonymous callers (heartbeats, streams, files)
            await _refuse(401, "Sign in first.")(scope, receive, send)
        elif route.startswith("/proxy="):
            await _refuse(403, "Proxied files are not served here.")(scope, receive, send)
        elif route.startswith("/file="):
            await self._file(scope, receive, send, user, unquote(route[len("/file=") :]))
        elif route.rstrip("/") == "/upload" and method == "POST":
            await self._upload(scope, receive, send, user)
        elif method in ("POST", "PUT", "PATCH"):
            await self._event(scope, receive, send, user)
        else:
            await self.app(scope, receive, send)

    async def _file(self, scope: Scope, receive: Receive, send: Send, user: str | None, target: str) -> None:
        if user is None:
            await _refuse(401, "Sign in first.")(scope, receive, send)
            return
        if "://" in target or not self.ledger.owns(user, target):
            log.warning("refused: %s asked for file %r, not one of their uploads", user, target)
            await _refuse(404, "No such file.")(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send, user: str | None) -> None:
        if user is None:  # before a byte of the body is read
            await _refuse(401, "Sign in first.")(scope, receive, send)
            return
        if declared_length(scope) > self.max_upload_request:
            await _refuse(413, "The upload is larger than the allowed size.")(scope, receive, send)
            return
        limited = bounded_receive(receive, self.max_upload_request)
        body: list[bytes] = []
        status = [0]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if not message.get("more_body") and status[0] == 200:
                    self._record(user, b"".join(body))
            await send(message)

        try:
            await self.app(scope, limited, capture)
        except BodyTooLarge:
            if status[0]:  # Gradio answered already; the connection is simply cut
                raise
            await _refuse(413, "The upload is larger than the allowed size.")(scope, receive, send)

    def _record(self, user: str, body: bytes) -> None:
        try:
            paths = json.loads(body)
        except ValueError:
            return
        if isinstance(paths, list):
            self.ledger.record(user, [p for p in paths if isinstance(p, str)])

    async def _event(self, scope: Scope, receive: Receive, send: Send, user: str | None) -> None:
        """Read the whole (small) body, check its file references, then hand it on unchanged."""
        if declared_length(scope) > MAX_EVENT_BYTES:
            await _refuse(413, "The request is too large.")(scope, receive, send)
            return
        try:
            raw = await read_body(bounded_receive(receive, MAX_EVENT_BYTES))
        except BodyTooLarge:
            await _refuse(413, "The request is too large.")(scope, receive, send)
            return
        if raw.strip():
            try:
                payload = json.loads(raw)
            except ValueError:
                await _refuse(400, "The request body must be JSON.")(scope, receive, send)
                return
            for path in file_references(payload):
                if user is None or not self.ledger.owns(user, path):
                    log.warning("refused: %s referred to file %r, not one of their uploads", user, path)
                    await _refuse(403, "A file in this request was not uploaded by you.")(scope, receive, send)
                    return
        await self.app(scope, replay_body(raw, receive), send)
