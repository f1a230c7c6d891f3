"""The commands of `kb` (the console script is ui.cli:main, which adds `kb serve`). Each command
group lives in its own module and registers itself here."""

import os
import sys
from collections.abc import Callable, Sequence

import typer

from app.errors import USER_FACING_ERRORS, user_message

Register = Callable[[typer.Typer], None]


def build_app(extra: Sequence[Register] = ()) -> typer.Typer:
    """Assemble the CLI; imports of command modules happen here, not at import time of `app.cli`.
    `extra` adds commands of the layer above (ui adds `kb serve`: app may not import ui)."""
    from app.cli import ask, docs, generate, groups, ingest, keys, model_server, reindex, users, worker
    from app.cli import eval as eval_cli

    cli = typer.Typer(no_args_is_help=True, add_completion=False, help="Private knowledge base.")

    @cli.callback()
    def root() -> None:
        """Private knowledge base: ingest documents, ask questions, serve the web app."""

    generate.register(cli)
    ingest.register(cli)
    docs.register(cli)
    users.register(cli)
    groups.register(cli)
    reindex.register(cli)
    eval_cli.register(cli)
    ask.register(cli)
    keys.register(cli)
    model_server.register(cli)
    worker.register(cli)
    for register in extra:
        register(cli)
    return cli


def main(extra: Sequence[Register] = ()) -> None:
    os.umask(0o077)  # the database, index and stored originals are the company's: owner-only files
    try:
        build_app(extra)(standalone_mode=True)
    except USER_FACING_ERRORS as error:
        typer.secho(f"error: {user_message(error)}", err=True, fg="red")
        sys.exit(2)
