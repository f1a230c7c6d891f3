"""Per-question outcomes and the summary figures over them."""

import fnmatch
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.eval.datasets import EvalQuestion
from app.types import Answer, RetrievedChunk

RECALL_AT = (1, 5, 10)
SUBJECT = "subject"  # asked with every document of its subject excluded: cannot be answered
SIBLING = "sibling"  # asked with only its gold documents excluded: siblings on the subject remain


@dataclass
class QuestionResult:
    id: str
    question: str
    unanswerable: bool
    retrieved: list[tuple[str, int, int]]  # (file name, page_start, page_end), best first
    doc_rank: int | None = None  # 1-based rank of the first chunk from a gold document
    page_rank: int | None = None  # 1-based rank of the first chunk spanning a gold page
    relevant: bool = True  # retrieval's own verdict: the answer is in the knowledge base
    probability: float = 1.0
    latency_ms: float = 0.0
    negative: str = ""  # SUBJECT or SIBLING for a synthetic negative; "" when asked as it is
    answer: str | None = None
    found: bool | None = None  # the chain's verdict, when an answer function was given
    citations: list[tuple[str, int]] = field(default_factory=list)
    citation_precision: float | None = None
    contains_answer: bool | None = None
    answer_latency_ms: float | None = None
    split: str = ""
    lang: str = ""
    outcome: str | None = None  # answered, unverified, not_found
    method: str | None = None  # extractive, generated
    gold_on_cited_page: bool | None = None  # a page the answer cites holds a gold answer
    unsupported: list[str] = field(default_factory=list)  # figures, dates, names on no cited page
    figures: int = 0  # figures in the answer
    gold_figures: int = 0  # figures in the gold answers
    gold_figures_found: int = 0  # of those, in the answer


def matches_glob(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name.lower(), pattern.lower())


def doc_rank(question: EvalQuestion, chunks: Sequence[RetrievedChunk]) -> int | None:
    for rank, retrieved in enumerate(chunks, start=1):
        if any(matches_glob(retrieved.chunk.file_name, g) for g in question.documents):
            return rank
    return None


def page_rank(question: EvalQuestion, chunks: Sequence[RetrievedChunk]) -> int | None:
    for rank, retrieved in enumerate(chunks, start=1):
        c = retrieved.chunk
        if any(matches_glob(c.file_name, g) and c.page_start <= p <= c.page_end for g, p in question.pages):
            return rank
    return None


def citation_precision(question: EvalQuestion, answer: Answer) -> float | None:
    """Share of citations that point at a gold document (and a gold page, where pages are known)."""
    if not answer.citations or not question.documents:
        return None
    good = 0
    for c in answer.citations:
        if question.pages:
            good += any(matches_glob(c.document, g) and c.page == p for g, p in question.pages)
        else:
            good += any(matches_glob(c.document, g) for g in question.documents)
    return good / len(answer.citations)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    return re.sub(r"[\s\"'“”‘’`]+", " ", text).strip(" .。")


def contains_answer(question: EvalQuestion, text: str) -> bool | None:
    if not question.answers:
        return None
    return holds_gold(question, text)


def holds_gold(question: EvalQuestion, text: str) -> bool:
    """Does `text` hold one of the gold answers (commas in numbers, case, quotes and spaces aside;
    Chinese text is compared without any spaces, which pypdf moves around)?"""
    have = _normalise(text)
    bare = have.replace(" ", "")
    return any((gold := _normalise(a)) and (gold in have or gold.replace(" ", "") in bare) for a in question.answers)


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 1)


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return round(wins / (len(positives) * len(negatives)), 4)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _answer_figures(answered: Sequence[QuestionResult]) -> dict[str, float | int | None]:
    """What the issue's targets are stated in: answered share, gold in the final answer and on a
    cited page (unanswered counting as misses), unsupported facts shown, figure recall/precision."""
    answerable = [r for r in answered if not r.unanswerable]
    shown = [r for r in answered if r.outcome == "answered"]
    with_gold = [r for r in answerable if r.contains_answer is not None]
    figures = sum(r.figures for r in shown)
    unsupported_figures = sum(1 for r in shown for f in r.unsupported if any(ch.isdigit() for ch in f))
    gold_figures = sum(r.gold_figures for r in answerable)
    return {
        "answered": _mean([float(r.outcome == "answered") for r in answerable]),
        "unverified": _mean([float(r.outcome == "unverified") for r in answerable]),
        "refused_unanswerable": _mean([float(r.outcome != "answered") for r in answered if r.unanswerable]),
        "gold_in_answer": _mean([float(bool(r.contains_answer) and r.outcome == "answered") for r in with_gold]),
        "gold_on_cited_page": _mean([float(bool(r.gold_on_cited_page)) for r in with_gold]),
        "extractive_share": _mean([float(r.method == "extractive") for r in shown]),
        "unsupported_facts": sum(len(r.unsupported) for r in shown),
        "answers_with_unsupported": sum(1 for r in shown if r.unsupported),
        "figure_precision": _ratio(figures - unsupported_figures, figures),
        "figure_recall": _ratio(sum(r.gold_figures_found for r in answerable), gold_figures),
    }


def summarise(results: Sequence[QuestionResult], questions: dict[str, EvalQuestion]) -> dict[str, float | int | None]:
    asked = [r for r in results if not r.negative and not r.unanswerable]
    with_docs = [r for r in asked if questions[r.id].documents]
    with_pages = [r for r in asked if questions[r.id].pages]
    refusable = [r for r in results if r.negative == SUBJECT or r.unanswerable]
    siblings = [r for r in results if r.negative == SIBLING]
    summary: dict[str, float | int | None] = {"n": len([r for r in results if not r.negative])}
    for k in RECALL_AT:
        summary[f"doc_recall_at_{k}"] = _mean([float(r.doc_rank is not None and r.doc_rank <= k) for r in with_docs])
    for k in RECALL_AT:
        summary[f"page_recall_at_{k}"] = _mean(
            [float(r.page_rank is not None and r.page_rank <= k) for r in with_pages]
        )
    summary["mrr"] = _mean([1.0 / r.doc_rank if r.doc_rank else 0.0 for r in with_docs])
    summary["page_mrr"] = _mean([1.0 / r.page_rank if r.page_rank else 0.0 for r in with_pages])
    answered = [r for r in results if r.found is not None]
    if answered:
        # A question asked with its subject removed is not put to the chain: the gate's verdict,
        # the chain's first refusal, counts for it.
        summary["refusal_rate"] = _mean(
            [float(not r.found) if r.found is not None else float(not r.relevant) for r in refusable]
        )
        summary["false_refusal_rate"] = _mean([float(not r.found) for r in answered if not r.unanswerable])
        summary["citation_precision"] = _mean(
            [r.citation_precision for r in answered if r.citation_precision is not None]
        )
        summary["answer_containment"] = _mean(
            [float(r.contains_answer) for r in answered if r.contains_answer is not None and not r.unanswerable]
        )
    else:  # retrieval's own verdict stands in for the chain's
        summary["refusal_rate"] = _mean([float(not r.relevant) for r in refusable])
        summary["false_refusal_rate"] = _mean([float(not r.relevant) for r in asked])
    summary["unanswerable_n"] = len(refusable)
    summary["relevance_auc"] = auc([r.probability for r in asked], [r.probability for r in refusable])
    if siblings:
        summary["refusal_rate_siblings"] = _mean([float(not r.relevant) for r in siblings])
        summary["siblings_n"] = len(siblings)
        summary["relevance_auc_siblings"] = auc([r.probability for r in asked], [r.probability for r in siblings])
    if answered:
        summary.update(_answer_figures(answered))
    latencies = [r.latency_ms for r in results if not r.negative]
    summary["latency_ms_p50"] = _percentile(latencies, 0.5)
    summary["latency_ms_p95"] = _percentile(latencies, 0.95)
    answer_latencies = [r.answer_latency_ms for r in results if r.answer_latency_ms is not None]
    if answer_latencies:
        summary["answer_latency_ms_p50"] = _percentile(answer_latencies, 0.5)
        summary["answer_latency_ms_p95"] = _percentile(answer_latencies, 0.95)
    return summary
