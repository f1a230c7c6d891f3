"""`kb model-server`: the engine alone behind the OpenAI-compatible API (completions, chat
completions, models, health), for app processes that set KB_MODEL_URL to it."""

from typing import Annotated

import typer

from app.errors import ConfigError
from app.settings import load_settings


def register(cli: typer.Typer) -> None:
    @cli.command("model-server")
    def model_server(
        host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port.")] = 8001,
    ) -> None:
        """Serve the configured model (KB_MODEL, KB_DEVICE, KB_BATCH_SLOTS...) to app processes;
        every /v1 route needs the key in KB_MODEL_API_KEY."""
        import uvicorn

        from app.model_server.api import create_model_server
        from app.wiring import load_engine

        settings = load_settings()
        if not settings.model_api_key:
            raise ConfigError("Set KB_MODEL_API_KEY: the model server answers only requests that carry that key.")
        engine = load_engine(settings)
        typer.echo(f"kb: serving {engine.name} on http://{host}:{port}/v1 ({engine.describe()['batching']})")
        uvicorn.run(create_model_server(engine, settings.model_api_key), host=host, port=port, log_level="info")
