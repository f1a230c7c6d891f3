"""`kb generate PROMPT`: stream from the bare model (placeholder until the decoder lands)."""

import typer


def register(cli: typer.Typer) -> None:
    @cli.command("generate")
    def generate(prompt: str) -> None:
        """Generate text from the bare model."""
        raise typer.Exit(code=1)
