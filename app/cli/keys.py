"""`kb keys create|list|revoke [--user U]`: API keys for the HTTP API (a new key is printed once;
only its hash is stored)."""

import typer

from app.cli.options import UserOption


def register(cli: typer.Typer) -> None:
    keys = typer.Typer(no_args_is_help=True, help="API keys for the HTTP API.")
    cli.add_typer(keys, name="keys")

    @keys.command("create")
    def create(user: UserOption = None) -> None:
        """Create an API key; it is shown only now. Send it as `Authorization: Bearer KEY`."""
        from app.auth.keys import ApiKeys
        from app.wiring import open_knowledge_base
        from store.api_keys import ApiKeyStore

        with open_knowledge_base(writer=False, embedder=False) as kb:
            actor = kb.actor(user)
            key, _ = ApiKeys(ApiKeyStore(kb.db)).create(actor.id)
        typer.echo(key)
        typer.echo(f"API key for {actor.name}; it will not be shown again.", err=True)

    @keys.command("list")
    def list_keys(user: UserOption = None) -> None:
        """The user's API keys: id, shown prefix, created, last used, revoked."""
        from app.wiring import open_knowledge_base
        from store.api_keys import ApiKeyStore

        with open_knowledge_base(writer=False, embedder=False) as kb:
            actor = kb.actor(user)
            found = ApiKeyStore(kb.db).of_user(actor.id)
        if not found:
            typer.echo(f"{actor.name} has no API keys.")
        for info in found:
            used = info.last_used_at.isoformat(timespec="seconds") if info.last_used_at else "never"
            state = "revoked" if info.revoked else "active"
            created = info.created_at.isoformat(timespec="seconds")
            typer.echo(f"{info.id}\t{info.prefix}...\t{state}\tcreated {created}\tlast used {used}")

    @keys.command("revoke")
    def revoke(key_id: int, user: UserOption = None) -> None:
        """Revoke one of the user's API keys by id (see `kb keys list`); it stops working at once."""
        from app.wiring import open_knowledge_base
        from store.api_keys import ApiKeyStore

        with open_knowledge_base(writer=False, embedder=False) as kb:
            actor = kb.actor(user)
            ApiKeyStore(kb.db).revoke(key_id, actor.id)
        typer.echo(f"Revoked API key {key_id} of {actor.name}.")
