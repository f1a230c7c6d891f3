"""`kb groups add|list|add-member|rm-member`."""

import typer
from rich.console import Console
from rich.table import Table

from app.cli.options import UserOption
from app.wiring import open_knowledge_base


def register(cli: typer.Typer) -> None:
    groups = typer.Typer(no_args_is_help=True, help="Manage groups (who may read which documents).")
    cli.add_typer(groups, name="groups")

    @groups.command("add")
    def add(name: str, user: UserOption = None) -> None:
        """Create a group."""
        with open_knowledge_base(writer=False, embedder=False) as kb:
            kb.people.add_group(name, kb.actor(user))
        typer.echo(f"added group {name}")

    @groups.command("list")
    def list_groups() -> None:
        """Every group with its members."""
        with open_knowledge_base(writer=False, embedder=False) as kb:
            found = kb.people.list_groups()
        table = Table()
        table.add_column("group")
        table.add_column("members")
        for g in found:
            table.add_row(g.name, ", ".join(g.members))
        Console().print(table)

    @groups.command("add-member")
    def add_member(group: str, member: str, user: UserOption = None) -> None:
        """Add MEMBER to GROUP."""
        with open_knowledge_base(writer=False, embedder=False) as kb:
            kb.people.add_member(group, member, kb.actor(user))
        typer.echo(f"{member} is now in {group}")

    @groups.command("rm-member")
    def remove_member(group: str, member: str, user: UserOption = None) -> None:
        """Remove MEMBER from GROUP."""
        with open_knowledge_base(writer=False, embedder=False) as kb:
            kb.people.remove_member(group, member, kb.actor(user))
        typer.echo(f"{member} is no longer in {group}")
