"""`kb eval PATH [--json] [--out FILE] [--limit N] [--user U] [--ingest] [--answers]`: ask an eval
set's questions of the current knowledge base and report retrieval recall, MRR, refusals, latency
(with --answers also the model's answers: containment, citation precision, refusals)."""

import tempfile
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.cli.options import UserOption
from app.settings import load_settings
from app.wiring import open_knowledge_base


def register(cli: typer.Typer) -> None:
    @cli.command("eval")
    def eval_(
        path: Annotated[
            Path, typer.Argument(help="A shared/eval folder (sec-10-q, financebench, cmrc2018) or a JSONL.")
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON line last.")] = False,
        out: Annotated[Path | None, typer.Option("--out", help="Write per-question results as JSON Lines.")] = None,
        limit: Annotated[int | None, typer.Option("--limit", min=1, help="Ask only the first N questions.")] = None,
        user: UserOption = None,
        k: Annotated[int | None, typer.Option("--k", min=1, help="Chunks retrieved per question.")] = None,
        ingest: Annotated[
            bool, typer.Option("--ingest", help="Ingest the set's documents first (never its answer keys).")
        ] = False,
        negatives: Annotated[
            bool,
            typer.Option(
                "--negatives",
                help="Also ask each question with its subject removed (refusal rate), and with only "
                "its gold documents removed (hard negatives).",
            ),
        ] = False,
        split: Annotated[
            str,
            typer.Option(
                "--split",
                help="dev (what thresholds are fitted on), test (what figures are reported on) or all.",
            ),
        ] = "all",
        lang: Annotated[str, typer.Option("--lang", help="Only the questions in this language (en, zh).")] = "",
        answers: Annotated[
            bool,
            typer.Option(
                "--answers",
                help="Also have the model answer (slow on CPU): answer containment, citation precision, "
                "and refusals decided by the whole chain.",
            ),
        ] = False,
    ) -> None:
        """Evaluate retrieval on an eval set against the current knowledge base."""
        from app.eval import load_dataset, run_eval
        from app.eval.report import summary_json, summary_table, write_results
        from app.retrieval import Retriever, config_from_settings

        settings = load_settings()
        if split not in ("dev", "test", "all"):
            raise typer.BadParameter("--split is dev, test or all.")
        dataset = load_dataset(path).only(split, lang)
        err = Console(stderr=True)
        if ingest:
            with (
                open_knowledge_base(writer=True, embedder=True, settings=settings) as kb,
                tempfile.TemporaryDirectory(prefix="kb-eval-") as scratch,
            ):
                paths = dataset.document_paths(Path(scratch))
                err.print(f"ingesting {len(paths)} documents of {dataset.name}")
                kb.ingest(paths, actor=kb.actor(user), resume=False)
        with ExitStack() as stack:
            answer_fn = None
            if answers:
                from app.wiring import open_service

                service = stack.enter_context(open_service(settings))
                kb = service.kb
                answer_fn = partial(service.ask, save=False)
            else:
                kb = stack.enter_context(open_knowledge_base(writer=False, embedder=True, settings=settings))
            retriever = Retriever(kb, config_from_settings(settings))
            with err.status(f"asking {min(limit or len(dataset.questions), len(dataset.questions))} questions"):
                report = run_eval(
                    kb,
                    retriever,
                    dataset,
                    answer_fn,
                    actor=kb.actor(user),
                    k=k or settings.eval_k,
                    limit=limit,
                    negatives=negatives,
                )
        if out is not None:
            write_results(report, out)
        from app.eval.history import save_summary

        save_summary(report.dataset, report.summary, settings.data_dir / "eval")  # shown on the admin page
        console = Console()
        console.print(summary_table(report))
        if as_json:
            typer.echo(summary_json(report))
