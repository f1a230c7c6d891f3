"""`kb ask QUESTION [--user U] [--json]`: answer from the knowledge base with cited sources."""

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
                elif not as_json:
                    sys.stdout.write(item)
                    sys.stdout.flush()
        assert final is not None
        if as_json:
            typer.echo(answer_json(final))
            return
        typer.echo("")
        if final.citations:
            typer.echo("\nSources:")
            for c in final.citations:
                typer.echo(f"  [{c.n}] {c.document}, page {c.page}: \"{c.sentence}\"")
