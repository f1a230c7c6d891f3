"""Who a request's Gradio sign-in cookie names, and for how long it may.

Gradio keeps sign-in tokens in memory (`App.tokens`) for as long as the process lives. We record,
at each sign-in, a fingerprint of the user's password (`Accounts.session_fingerprint`); a session
whose user has since changed password (in the page or with `kb users passwd`) or was removed is
over: its token is dropped, so the page and every handler ask to sign in again.

`SignInGate` sits in front of `POST /login`: it hands the client's address to the sign-in
throttle (wrong passwords slow down that address for that name, and nobody else) and records the
new session's fingerprint."""

import contextvars
import logging
from collections.abc import Callable
from http.cookies import SimpleCookie

from fastapi import FastAPI, Request
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
TOKEN_COOKIE = "access-token"
client_address: contextvars.ContextVar[str] = contextvars.ContextVar("client_address", default="unknown")

Fingerprint = Callable[[str], str | None]


class GradioSessions:
    def __init__(self, api: FastAPI, fingerprint: Fingerprint) -> None:
        self.api, self.fingerprint = api, fingerprint
        self._signed: dict[str, str | None] = {}  # token -> fingerprint at sign-in

    def _tokens(self) -> tuple[dict[str, object], str] | None:
        from gradio.routes import App

        for route in self.api.routes:
            if isinstance(route, Mount) and isinstance(route.app, App):
                return route.app.tokens, str(route.app.cookie_id)
        return None

    def _token(self, request: Request, cookie_id: str) -> str | None:
        return request.cookies.get(f"{TOKEN_COOKIE}-{cookie_id}") or request.cookies.get(
            f"{TOKEN_COOKIE}-unsecure-{cookie_id}"
        )

    def user_name(self, request: Request) -> str | None:
        found = self._tokens()
        if found is None:
            return None
        tokens, cookie_id = found
        token = self._token(request, cookie_id)
        name = tokens.get(token) if token else None
        if not isinstance(name, str) or token is None:
            return None
        if token not in self._signed or self._signed[token] != self.fingerprint(name):
            log.info("session of %s ended: the password changed or the user was removed", name)
            tokens.pop(token, None)
            self._signed.pop(token, None)
            return None
        return name

    def record(self, token: str) -> None:
        found = self._tokens()
        name = found[0].get(token) if found else None
        if isinstance(name, str):
            self._signed[token] = self.fingerprint(name)


class SignInGate:
    """ASGI middleware over POST /login; see the module docstring."""

    def __init__(self, app: ASGIApp, sessions: GradioSessions) -> None:
        self.app, self.sessions = app, sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path in ("/", "/config"):  # the page itself: a session that is over shows the sign-in form
            self.sessions.user_name(Request(scope))
        if scope.get("method") != "POST" or path.rstrip("/") != "/login":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        client_address.set(str(client[0]) if client else "unknown")

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                for key, value in message.get("headers", []):
                    if key.lower() == b"set-cookie":
                        for morsel in SimpleCookie(value.decode("latin-1")).values():
                            if morsel.key.startswith(TOKEN_COOKIE):
                                self.sessions.record(morsel.value)
            await send(message)

        await self.app(scope, receive, record)
