"""`kb ask QUESTION [--user U] [--json]`: answer from the knowledge base with cited sources.

Only what survived checking is printed (the model's raw text is not streamed to the terminal),
then the sources, then any sentences that were removed and why."""

import json
import sys
from typing import Annotated

import typer

from app.cli.options import UserOption


def answer_json(answer: object) -> str:
    """The documented `kb ask --json` shape, exactly."""
    from app.types import Answer

    assert isinstance(answer, Answer)
    return json.dumps(
        {
            "answer": answer.text,
            "found": answer.found,
            "citations": [
                {"n": c.n, "document": c.document, "page": c.page, "snippet": c.snippet, "score": c.score}
                for c in answer.citations
            ],
            "timings_ms": answer.timings_ms,
            "outcome": answer.outcome,
            "method": answer.method,
            "checked": [{"text": c.text, "verified": c.verified, "reason": c.reason} for c in answer.checked],
        },
        ensure_ascii=False,
    )


def register(cli: typer.Typer) -> None:
    @cli.command("ask")
    def ask(
        question: Annotated[str, typer.Argument(help="The question; '-' reads it from standard input.")],
        user: UserOption = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")] = False,
    ) -> None:
        """Answer a question from the documents the user may read, citing document and page."""
        from app.types import Answer
        from app.wiring import open_service

        text = sys.stdin.read() if question == "-" else question
        with open_service() as service:
            actor = service.actor(user)
            final: Answer | None = None
            for item in service.ask_stream(text, actor):
                if isinstance(item, Answer):
                    final = item
        assert final is not None
        if as_json:
            typer.echo(answer_json(final))
            return
        typer.echo(final.text)
        if final.citations:
            typer.echo("\nMost relevant passages:" if final.outcome == "unverified" else "\nSources:")
            for c in final.citations:
                typer.echo(f"  [{c.n}] {c.document}, page {c.page}: \"{c.sentence}\"")
        if final.dropped:
            typer.echo("\nRemoved by the check against the sources:")
            for dropped in final.dropped:
                typer.echo(f"  - {dropped.text} ({dropped.reason})")
