"""`kb users add NAME [--admin] [--group G]` and `kb users list`."""

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.ingest import UserOption, open_knowledge_base


def register(cli: typer.Typer) -> None:
    users = typer.Typer(no_args_is_help=True, help="Manage users.")
    cli.add_typer(users, name="users")

    @users.command("add")
    def add(
        name: str,
        admin: Annotated[
            bool, typer.Option("--admin", help="May manage users, groups and every document.")
        ] = False,
        group: Annotated[
            list[str] | None, typer.Option("--group", "-g", help="Member of (repeatable).")
        ] = None,
        user: UserOption = None,
    ) -> None:
        """Add a user (sign-in passwords come with the web app)."""
        with open_knowledge_base(writer=False, embedder=False) as kb:
            added = kb.add_user(name, admin=admin, groups=tuple(group or ()), actor=kb.actor(user))
        typer.echo(
            f"added {added.role} {added.name}" + (f" in {', '.join(added.groups)}" if added.groups else "")
        )

    @users.command("list")
    def list_users() -> None:
        """Every user with role and groups."""
        with open_knowledge_base(writer=False, embedder=False) as kb:
            found = kb.list_users()
        table = Table()
        for column in ("name", "role", "groups"):
            table.add_column(column)
        for u in found:
            table.add_row(u.name, u.role, ", ".join(u.groups))
        Console().print(table)
