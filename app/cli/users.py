"""`kb users add NAME [--admin] [--group G] [--password P | --prompt]`, `kb users passwd NAME` and
`kb users list`. Passwords are for signing in to the web page; only their argon2 hash is stored."""

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.options import UserOption
from app.wiring import open_knowledge_base

PasswordOption = Annotated[
    str | None,
    typer.Option("--password", help="Sign-in password (visible in shell history; prefer --prompt)."),
]
PromptOption = Annotated[bool, typer.Option("--prompt", help="Ask for the sign-in password without echoing it.")]


def _password(password: str | None, prompt: bool) -> str | None:
    if password is None and prompt:
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    return password


def register(cli: typer.Typer) -> None:
    users = typer.Typer(no_args_is_help=True, help="Manage users.")
    cli.add_typer(users, name="users")

    @users.command("add")
    def add(
        name: str,
        admin: Annotated[bool, typer.Option("--admin", help="May manage users, groups and every document.")] = False,
        group: Annotated[list[str] | None, typer.Option("--group", "-g", help="Member of (repeatable).")] = None,
        password: PasswordOption = None,
        prompt: PromptOption = False,
        user: UserOption = None,
    ) -> None:
        """Add a user; with --password or --prompt they can sign in to the web page."""
        from app.accounts import Accounts

        secret = _password(password, prompt)
        with open_knowledge_base(writer=False, embedder=False) as kb:
            added = Accounts(kb).add_user(
                name, admin=admin, groups=tuple(group or ()), actor=kb.actor(user), password=secret
            )
        groups = f" in {', '.join(added.groups)}" if added.groups else ""
        hint = "" if secret else f" (no password yet: kb users passwd {added.name})"
        typer.echo(f"added {added.role} {added.name}{groups}{hint}")

    @users.command("passwd")
    def passwd(name: str, password: PasswordOption = None, user: UserOption = None) -> None:
        """Set a user's sign-in password (asked for without echo unless --password is given)."""
        from app.accounts import Accounts

        secret = _password(password, True)
        assert secret is not None
        with open_knowledge_base(writer=False, embedder=False) as kb:
            Accounts(kb).set_password(name, secret, kb.actor(user))
        typer.echo(f"password of {name} set")

    @users.command("list")
    def list_users() -> None:
        """Every user with role, groups and whether they can sign in."""
        from app.accounts import Accounts

        with open_knowledge_base(writer=False, embedder=False) as kb:
            accounts = Accounts(kb)
            found = [(u, accounts.has_password(u.name)) for u in kb.people.list_users()]
        table = Table()
        for column in ("name", "role", "groups", "password"):
            table.add_column(column)
        for u, has_password in found:
            table.add_row(u.name, u.role, ", ".join(u.groups), "set" if has_password else "-")
        Console().print(table)
