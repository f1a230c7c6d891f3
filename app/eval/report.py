"""The eval summary as a rich table, and per-question results as JSON Lines."""

import json
from pathlib import Path

from rich.table import Table

from app.eval.runner import EvalReport

_LABELS = {
    "n": "questions",
    "doc_recall_at_1": "document recall@1",
    "doc_recall_at_5": "document recall@5",
    "doc_recall_at_10": "document recall@10",
    "page_recall_at_1": "page recall@1",
    "page_recall_at_5": "page recall@5",
    "page_recall_at_10": "page recall@10",
    "mrr": "MRR (document)",
    "page_mrr": "MRR (page)",
    "citation_precision": "citation precision",
    "answer_containment": "answer containment",
    "refusal_rate": "refusal rate (unanswerable)",
    "false_refusal_rate": "refusal rate (answerable)",
    "unanswerable_n": "unanswerable questions",
    "relevance_auc": "relevance AUC",
    "refusal_rate_siblings": "refusal rate (hard: only the gold documents removed)",
    "siblings_n": "hard negatives",
    "relevance_auc_siblings": "relevance AUC (hard negatives)",
    "answered": "answered (answerable questions)",
    "unverified": "could not verify (answerable)",
    "refused_unanswerable": "not answered (unanswerable)",
    "gold_in_answer": "gold answer in the final answer",
    "gold_on_cited_page": "gold answer on a cited page",
    "extractive_share": "answers quoted (extractive)",
    "unsupported_facts": "unsupported figures/dates/names shown",
    "answers_with_unsupported": "answers with an unsupported fact",
    "figure_precision": "figure precision (on cited pages)",
    "figure_recall": "figure recall (gold figures in ours)",
    "latency_ms_p50": "retrieval latency p50 (ms)",
    "latency_ms_p95": "retrieval latency p95 (ms)",
    "answer_latency_ms_p50": "answer latency p50 (ms)",
    "answer_latency_ms_p95": "answer latency p95 (ms)",
}


def summary_table(report: EvalReport) -> Table:
    table = Table(title=f"Eval: {report.dataset}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in report.summary.items():
        shown = "–" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
        table.add_row(_LABELS.get(key, key), shown)
    return table


def summary_json(report: EvalReport) -> str:
    return json.dumps({"dataset": report.dataset, **report.summary}, ensure_ascii=False)


def write_results(report: EvalReport, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in report.rows():
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
