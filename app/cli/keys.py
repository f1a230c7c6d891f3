"""`kb keys create [--user U]`: a new API key for the HTTP API, printed once (stored hashed)."""

import typer

from app.cli.ingest import UserOption


def register(cli: typer.Typer) -> None:
    keys = typer.Typer(no_args_is_help=True, help="API keys for the HTTP API.")
    cli.add_typer(keys, name="keys")

    @keys.command("create")
    def create(user: UserOption = None) -> None:
        """Create an API key; it is shown only now. Send it as `Authorization: Bearer KEY`."""
        from app.auth.keys import ApiKeys
        from app.cli.ingest import open_knowledge_base
        from ingestion.store.api_keys import ApiKeyStore

        with open_knowledge_base(writer=False, embedder=False) as kb:
            actor = kb.actor(user)
            key, _ = ApiKeys(ApiKeyStore(kb.db)).create(actor.id)
        typer.echo(key)
        typer.echo(f"API key for {actor.name}; it will not be shown again.", err=True)
