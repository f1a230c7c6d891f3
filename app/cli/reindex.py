"""`kb reindex`: re-embed every chunk with the configured embedder and swap the index atomically."""

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from app.wiring import open_knowledge_base


def register(cli: typer.Typer) -> None:
    @cli.command("reindex")
    def reindex() -> None:
        """Rebuild the vector index from the stored chunks (needed after changing KB_EMBEDDER)."""
        with open_knowledge_base(writer=True, embedder=True, align_index=False) as kb:
            bar = Progress(
                TextColumn("re-embedding"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            task = bar.add_task("reindex", total=None)
            with bar:
                report = kb.reindex(lambda done, total: bar.update(task, completed=done, total=total))
        typer.echo(
            f"index rebuilt: {report.chunks} chunks with {report.embedder} ({report.dim}-d, {report.kind})"
        )
