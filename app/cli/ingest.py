"""`kb ingest PATH... [--group G] [--recursive]`: bulk-load documents with a progress bar and a
per-file summary. With KB_TASK_QUEUE=procrastinate the files are queued for `kb worker` processes
(the summary says "queued"; `kb docs list` or the Admin tab shows when they are ready)."""

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from app.cli.options import UserOption
from app.settings import Settings, load_settings
from app.wiring import open_knowledge_base

if TYPE_CHECKING:  # the ingestion layer (faiss, sqlalchemy) loads when a command runs, not at start-up
    from ingestion.file_progress import FileProgress
    from ingestion.outcomes import FileResult, ProgressEvent


def expand(paths: list[Path], recursive: bool) -> tuple[list[Path], list[Path], list[Path]]:
    """(supported files, skipped files, missing paths). Folders give their files (all levels
    with `recursive`); hidden files are ignored; unsupported types are skipped, never ingested."""
    from ingestion.parsing import is_supported

    files: list[Path] = []
    missing: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = path.rglob("*") if recursive else path.iterdir()
            files += sorted(p for p in found if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(path)
    files = list(dict.fromkeys(files))
    return [p for p in files if is_supported(p)], [p for p in files if not is_supported(p)], missing


class _ProgressView:
    """A files bar, and for the file under way its pages parsed, chunks embedded, percent and time
    left (ingestion.file_progress), fed by the pipeline's events from the ingest and parse threads."""

    def __init__(self, console: Console) -> None:
        from ingestion.file_progress import Rates

        self.progress = Progress(
            TextColumn("{task.description}", style="bold"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("files {task.fields[detail]}"),
            TextColumn("all files: ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task: TaskID | None = None
        self.files: dict[str, FileProgress] = {}
        self.rates = Rates()
        self.lock = threading.Lock()  # parse threads report pages while the ingest thread embeds

    def __call__(self, event: "ProgressEvent") -> None:
        from ingestion.file_progress import FileProgress

        with self.lock:
            if event.kind == "planned":
                if event.files:
                    self.task = self.progress.add_task("ingest", total=event.files, detail="")
                return
            if self.task is None:
                return
            now = time.monotonic()
            if event.kind == "finished":
                self.files.pop(event.file_name, None)
                self.progress.update(self.task, advance=1)
                return
            file = self.files.setdefault(event.file_name, FileProgress(rates=self.rates))
            file.update(event, now)
            if event.kind != "parsing" or len(self.files) == 1:  # the file being embedded leads
                self.progress.update(
                    self.task, description=event.file_name[:24], detail=f"· {file.summary(now)}"
                )


def enqueue(paths: list[Path], user: str | None, groups: tuple[str, ...], settings: Settings) -> list["FileResult"]:
    """Register the files (originals into the database) and queue a job for each."""
    from app.tasks.queue import TaskQueue

    with open_knowledge_base(writer=False, embedder=False, settings=settings) as kb:
        results, queued = kb.enqueue(paths, actor=kb.actor(user), groups=groups)
    tasks = TaskQueue.connect(settings).open()
    try:
        tasks.defer(queued)
    finally:
        tasks.close()
    return results


def summary_table(results: list["FileResult"]) -> Table:
    table = Table(title="Ingest summary")
    for column in ("file", "result", "pages", "chunks", "note"):
        numeric = column in ("pages", "chunks")
        table.add_column(column, justify="right" if numeric else "left", overflow="fold", no_wrap=numeric)
    colours = {"ok": "green", "replaced": "cyan", "duplicate": "yellow", "failed": "red", "skipped": "dim"}
    colours["queued"] = "cyan"  # handed to the workers (KB_TASK_QUEUE)
    for r in results:
        outcome = str(r.outcome)
        table.add_row(
            r.file_name,
            f"[{colours.get(outcome, 'white')}]{outcome}[/]",
            str(r.pages or ""),
            str(r.chunks or ""),
            r.message,
        )
    return table


def register(cli: typer.Typer) -> None:
    @cli.command("ingest")
    def ingest(
        paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
        group: Annotated[
            list[str] | None, typer.Option("--group", "-g", help="Visible only to this group (repeatable).")
        ] = None,
        recursive: Annotated[
            bool, typer.Option("--recursive", "-r", help="Descend into sub-folders.")
        ] = False,
        user: UserOption = None,
        progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
    ) -> None:
        """Ingest documents; without --group every signed-in user may read them."""
        from ingestion.outcomes import FileResult, Outcome

        supported, skipped, missing = expand(paths, recursive)
        out, err = Console(), Console(stderr=True)
        settings = load_settings()
        if settings.task_queue == "procrastinate":
            results = enqueue(supported, user, tuple(group or ()), settings)
        else:
            with open_knowledge_base(writer=True, embedder=True, settings=settings) as kb:
                actor = kb.actor(user)
                view = _ProgressView(err)
                if progress:
                    with view.progress:
                        results = kb.ingest(supported, actor=actor, groups=tuple(group or ()), progress=view)
                else:
                    results = kb.ingest(supported, actor=actor, groups=tuple(group or ()))
        results += [
            FileResult(str(p), p.name, Outcome.FAILED, message="no such file or folder") for p in missing
        ]
        results += [
            FileResult(str(p), p.name, Outcome.SKIPPED, message="not a supported type") for p in skipped
        ]
        out.print(summary_table(results))
        counts = {o: sum(r.outcome is o for r in results) for o in Outcome}
        out.print(", ".join(f"{n} {o}" for o, n in counts.items() if n) or "nothing to ingest")
        if counts[Outcome.FAILED]:
            raise typer.Exit(code=1)
