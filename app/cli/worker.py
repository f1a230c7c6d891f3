"""`kb worker`: ingest documents queued by the app processes (KB_TASK_QUEUE=procrastinate)."""

from typing import Annotated

import typer

from app.errors import ConfigError
from app.settings import load_settings


def register(cli: typer.Typer) -> None:
    @cli.command("worker")
    def worker(
        name: Annotated[str | None, typer.Option(help="Shown in the logs and the Admin tab's job list.")] = None,
    ) -> None:
        """Ingest queued documents until stopped; run any number, on any machines, one per data folder."""
        import logging

        from app.tasks.worker import run_worker

        settings = load_settings()
        if settings.task_queue != "procrastinate":
            raise ConfigError("`kb worker` needs KB_TASK_QUEUE=procrastinate and a PostgreSQL KB_DATABASE_URL.")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        typer.echo(f"kb: worker {name or ''} ingesting queued documents (data folder {settings.data_dir})")
        run_worker(settings, name)
