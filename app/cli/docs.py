"""`kb docs list` and `kb docs rm NAME|ID`."""

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.options import UserOption
from app.wiring import open_knowledge_base


def register(cli: typer.Typer) -> None:
    docs = typer.Typer(no_args_is_help=True, help="List and remove documents.")
    cli.add_typer(docs, name="docs")

    @docs.command("list")
    def list_documents(
        user: UserOption = None,
        history: Annotated[bool, typer.Option("--all", help="Include superseded versions.")] = False,
    ) -> None:
        """Documents the acting user may read: name, pages, chunks, status, groups."""
        with open_knowledge_base(writer=False, embedder=False) as kb:
            found = kb.list_documents(kb.actor(user), include_superseded=history)
        table = Table()
        for column in ("id", "name", "version", "pages", "chunks", "status", "groups"):
            table.add_column(
                column, justify="right" if column in ("id", "version", "pages", "chunks") else "left"
            )
        for d in found:
            status = d.status if not d.error else f"{d.status}: {d.error}"
            table.add_row(
                str(d.id),
                d.file_name,
                str(d.version),
                str(d.pages or ""),
                str(d.chunks),
                status,
                ", ".join(d.groups) or "(everyone)",
            )
        Console().print(table)
        Console().print(f"{len(found)} document(s)")

    @docs.command("rm")
    def remove(
        ref: Annotated[
            str, typer.Argument(metavar="NAME|ID", help="A file name (all its versions) or an id.")
        ],
        user: UserOption = None,
    ) -> None:
        """Delete a document: its rows, chunks, vectors and stored file."""
        with open_knowledge_base(writer=True, embedder=False) as kb:
            removed = kb.delete_documents(ref, kb.actor(user))
        for d in removed:
            typer.echo(f"removed {d.file_name} (id {d.id}, version {d.version})")
