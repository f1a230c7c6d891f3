"""The one web application: the HTTP API of app.api plus the Gradio page mounted at "/", behind
sign-in. Safe by default: never launched with a share link (we only mount, so share stays off),
analytics off, a queue that bounds concurrent work (past it: "This application is currently
busy"), and our own guards in front of Gradio rather than its path checks (which a mounted app
skips): every file a handler receives was uploaded by the caller (ui.upload_guard), sessions end
when a password changes (ui.sessions), and the page cannot be framed (ui.headers).

    web = create_web_app(service, settings)   # an ASGI app for uvicorn
"""

from starlette.types import ASGIApp

from app.api import create_api
from app.service import KnowledgeService
from app.settings import Settings
from ui.files import add_file_route
from ui.guard import Guard
from ui.headers import SecurityHeaders
from ui.page import build_page
from ui.render import CSS
from ui.sessions import GradioSessions, SignInGate
from ui.upload_folder import private_upload_folder
from ui.upload_guard import GradioFileGuard, UploadLedger

DEFAULT_CONCURRENCY = 4  # listing, renaming, feedback: light work
QUEUE_SIZE = 32  # waiting events past this get the busy answer
SIGN_IN_MESSAGE = "Knowledge base: sign in with the account your administrator gave you."


def create_web_app(
    service: KnowledgeService,
    settings: Settings | None = None,
    *,
    queue_size: int = QUEUE_SIZE,
) -> ASGIApp:
    """The API and the page behind our own file guard (ui.upload_guard), as one ASGI app."""
    import gradio as gr

    private_upload_folder()  # before any block is built: Gradio reads the folder then
    api = create_api(service)
    sessions = GradioSessions(api, service.session_fingerprint)
    add_file_route(api, service, sessions.user_name)  # before the mount at "/" takes the rest
    uploads = UploadLedger()
    page = build_page(service, settings, uploads)
    page.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=queue_size)
    data_dir = str((settings.data_dir if settings else service.data_dir).resolve())
    web = gr.mount_gradio_app(
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
    guarded = GradioFileGuard(web, sessions.user_name, uploads, max_upload_bytes=service.max_upload_bytes)
    return SecurityHeaders(SignInGate(guarded, sessions))
