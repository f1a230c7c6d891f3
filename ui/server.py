"""The one web application: the HTTP API of app.api plus the Gradio page mounted at "/", behind
sign-in. Safe by default: never launched with a share link (we only mount, so share stays off),
no allowed paths, the data folder blocked, uploads size-limited, analytics off, and a queue that
bounds concurrent work (past it: "This application is currently busy").

    web = create_web_app(service, settings)   # a FastAPI app for uvicorn
"""

from fastapi import FastAPI, Request
from starlette.routing import Mount

from app.api import create_api
from app.service import KnowledgeService
from app.settings import Settings
from ui.files import add_file_route
from ui.guard import Guard
from ui.page import build_page
from ui.render import CSS

DEFAULT_CONCURRENCY = 4  # listing, renaming, feedback: light work
QUEUE_SIZE = 32  # waiting events past this get the busy answer
SIGN_IN_MESSAGE = "Sign in with the account your administrator gave you."


class GradioSessions:
    """Who a request's Gradio sign-in cookie names (for routes outside the page, like files)."""

    def __init__(self, api: FastAPI) -> None:
        self.api = api

    def user_name(self, request: Request) -> str | None:
        from gradio.routes import App

        for route in self.api.routes:
            if isinstance(route, Mount) and isinstance(route.app, App):
                app = route.app
                token = request.cookies.get(f"access-token-{app.cookie_id}") or request.cookies.get(
                    f"access-token-unsecure-{app.cookie_id}"
                )
                name = app.tokens.get(token) if token else None
                return name if isinstance(name, str) else None
        return None


def create_web_app(
    service: KnowledgeService,
    settings: Settings | None = None,
    *,
    queue_size: int = QUEUE_SIZE,
) -> FastAPI:
    import gradio as gr

    api = create_api(service)
    add_file_route(api, service, GradioSessions(api).user_name)  # before the mount at "/" takes the rest
    page = build_page(service, settings)
    page.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=queue_size)
    data_dir = str((settings.data_dir if settings else service.kb.config.data_dir).resolve())
    return gr.mount_gradio_app(
        api,
        page,
        path="/",
        auth=Guard(service).login,
        auth_message=SIGN_IN_MESSAGE,
        allowed_paths=[],
        blocked_paths=[data_dir],
        max_file_size=service.max_upload_bytes,
        show_error=True,
        footer_links=[],
        ssr_mode=False,
        mcp_server=False,
        css=CSS,
    )
