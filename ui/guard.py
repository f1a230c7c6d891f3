"""Who is calling: every handler asks the Guard, which reads the signed-in name from the Gradio
request and looks the user up in the database each time (a removed user or a demoted admin loses
access at once, whatever their browser still holds). Errors become one clear sentence."""

import asyncio
import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

import gradio as gr

from app.errors import user_message
from app.records import UserInfo
from app.service import KnowledgeService
from ui.sessions import client_address

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

SIGN_IN_AGAIN = "You are not signed in (or your account was removed); reload the page and sign in."
ADMINS_ONLY = "Only an administrator may do this."


class Guard:
    def __init__(self, service: KnowledgeService) -> None:
        self.service = service

    def user(self, request: gr.Request | None) -> UserInfo:
        name = getattr(request, "username", None) if request is not None else None
        user = self.service.user(name) if isinstance(name, str) and name else None
        if user is None:
            raise gr.Error(SIGN_IN_AGAIN)
        return user

    def admin(self, request: gr.Request | None) -> UserInfo:
        user = self.user(request)
        if not user.is_admin:
            log.warning("refused: %s called an admin handler", user.name)
            raise gr.Error(ADMINS_ONLY)
        return user

    async def login(self, name: str, password: str) -> bool:
        """Gradio's `auth=` callable; argon2 takes tens of ms, so it runs off the event loop. The
        throttle counts wrong passwords per name and client address (ui.sessions.SignInGate)."""
        source = client_address.get()
        user = await asyncio.to_thread(self.service.sign_in, name, password, source)
        return user is not None


def friendly(fn: F) -> F:
    """Turn any exception of a handler into a gr.Error with a sentence (never a traceback)."""

    def convert(error: Exception) -> gr.Error:
        if isinstance(error, gr.Error):
            return error
        message = user_message(error)
        if message.startswith("Internal error"):
            log.exception("handler %s failed", fn.__name__)
        return gr.Error(message)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Exception as error:
                raise convert(error) from error

        return cast(F, stream)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as error:
            raise convert(error) from error

    return cast(F, call)
