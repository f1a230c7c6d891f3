"""`kb serve`: the HTTP API (and, once the web page lands, the Gradio UI) in one process."""

from typing import Annotated

import typer

from app.settings import load_settings


def register(cli: typer.Typer) -> None:
    @cli.command("serve")
    def serve(
        host: Annotated[str | None, typer.Option(help="Address to bind (default: KB_HOST, 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default: KB_PORT, 7860).")] = None,
    ) -> None:
        """Serve the knowledge base on this machine; bound to 127.0.0.1 unless told otherwise."""
        import uvicorn

        from app.api import create_api
        from app.wiring import open_service

        settings = load_settings()
        bind_host, bind_port = host or settings.host, port or settings.port
        with open_service(settings) as service:
            typer.echo(f"kb: serving on http://{bind_host}:{bind_port} (API docs at /docs)")
            typer.echo("kb: create an API key with `kb keys create [--user NAME]`")
            uvicorn.run(create_api(service), host=bind_host, port=bind_port, log_level="info")
