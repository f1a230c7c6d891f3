"""Options shared by several commands."""

from typing import Annotated

import typer

UserOption = Annotated[
    str | None, typer.Option("--user", help="Act as this user (default: the administrator).")
]
