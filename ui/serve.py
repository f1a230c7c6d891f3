"""`kb serve`: the HTTP API and the web page (Gradio, behind sign-in) in one process, bound to
127.0.0.1 unless told otherwise. On a first start, when no administrator can sign in yet, a
one-time password for the shell's admin is printed once. At every start, in the background, SQL
and the vector index are reconciled (a lost index is rebuilt) and interrupted documents finish."""

import logging
import threading
from typing import Annotated

import typer

from app.service import KnowledgeService
from app.settings import load_settings

log = logging.getLogger(__name__)


def _recover(service: KnowledgeService) -> None:
    """Repair after a crash and finish interrupted documents, while the page is already served."""
    try:
        resumed = service.recover()
    except Exception:  # the server keeps serving; the administrator reads why in the log
        log.exception("kb: start-up recovery failed")
        return
    for result in resumed:
        log.warning("kb: finished an interrupted document: %s (%s)", result.file_name, result.outcome)


def register(cli: typer.Typer) -> None:
    @cli.command("serve")
    def serve(
        host: Annotated[str | None, typer.Option(help="Address to bind (default: KB_HOST, 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default: KB_PORT, 7860).")] = None,
    ) -> None:
        """Serve the web page and the API on this machine; bound to 127.0.0.1 unless told otherwise."""
        import uvicorn

        from app.wiring import open_service
        from ui.server import create_web_app

        settings = load_settings()
        bind_host, bind_port = host or settings.host, port or settings.port
        with open_service(settings) as service:
            web = create_web_app(service, settings)
            password = service.ensure_admin_password()
            if password is not None:
                admin = settings.admin_user
                typer.secho(
                    f"kb: first start: sign in as {admin!r} with the password {password}\n"
                    f"kb: it is shown only this once; change it with `kb users passwd {admin}`",
                    fg="yellow",
                )
            threading.Thread(target=_recover, args=(service,), name="kb-recover", daemon=True).start()
            typer.echo(f"kb: serving the web page on http://{bind_host}:{bind_port}/ (API docs at /docs)")
            typer.echo("kb: add people with `kb users add NAME --prompt`; API keys with `kb keys create`")
            uvicorn.run(web, host=bind_host, port=bind_port, log_level="info")
