"""Is the answer in the knowledge base at all? Several signals, because one is not enough.

A similarity threshold alone separates answerable from unanswerable questions poorly here
(DESIGN: AUC 0.54-0.62). Two more signals come from the question's own words: how much of its
IDF-weighted content the best chunk contains, and how much of it appears nowhere in the
readable knowledge base (a company, product or name we hold nothing about). A logistic model
over the three gives a probability; the coefficients and the threshold were fitted on the eval
sets (see RELEVANCE_MODEL's comment)."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.retrieval.text import content_terms, tokenize
from app.types import RetrievedChunk
from ingestion.store.records import embedding_text

if TYPE_CHECKING:
    from app.retrieval.retriever import RetrievalResult


@dataclass(frozen=True)
class RelevanceFeatures:
    dense_top: float  # best cosine similarity among the results (0 when none)
    coverage: float  # IDF-weighted share of the question's terms in the best-covering top chunk
    unknown: float  # IDF-weighted share of the question's terms found in no readable chunk
    # 1 when a top chunk's document fits the company and period the question names (or it names
    # none); 0 when only other filings are there (another quarter of the same company, say).
    fit: float = 1.0


@dataclass(frozen=True)
class RelevanceModel:
    bias: float
    dense: float
    coverage: float
    unknown: float
    threshold: float  # probability at or above which retrieval counts as relevant
    fit: float = 0.0

    def probability(self, f: RelevanceFeatures) -> float:
        z = self.bias + self.dense * f.dense_top + self.coverage * f.coverage + self.unknown * f.unknown
        z += self.fit * f.fit
        return 1.0 / (1.0 + math.exp(-z))


# Logistic fit on answerable eval questions against the same questions asked with their gold
# documents excluded (a filter before ranking), each set weighing the same; threshold maximising the
# worse of (answered, refused) per set. 2026-11-23, all with the default e5 embedder: CMRC2018 (170
# contexts, 620 questions), sec-10-q (all 20 filings, 195), FinanceBench (15 of 40 PDFs, 31).
# Answered / refused: CMRC 0.98 / 0.81, sec-10-q 0.96 / 0.66, FinanceBench 0.71 / 0.77, all rows
# 0.97 / 0.77 (AUC 0.97, 0.80, 0.80). Without `fit` sec-10-q was 0.57 / 0.53 (AUC 0.58): the
# excluded filing's siblings (same company, other quarters) remain and read as answerable to every
# text signal; only the document's own company and period tell them apart. A threshold of 0.575
# gives all rows 0.93 / 0.81 but answers only 0.39 of FinanceBench. Refit when the embedder changes.
RELEVANCE_MODEL = RelevanceModel(bias=-5.221, dense=1.945, coverage=2.396, unknown=-2.947, threshold=0.505, fit=3.476)
# The same fit without IDF weights (what `is_relevant(question, chunks)` can compute): AUC 0.852.
BARE_RELEVANCE_MODEL = RelevanceModel(bias=-3.698, dense=0.54, coverage=5.919, unknown=0.0, threshold=0.44)


def features(
    terms: Sequence[str], chunks: Sequence[RetrievedChunk], idf: Mapping[str, float] | None = None, top: int = 3
) -> RelevanceFeatures:
    """`idf`: term -> weight over the readable chunks (0 for a term found in none); without it
    every term weighs 1 and `unknown` is 0."""
    dense_top = max((c.dense_score for c in chunks if c.dense_score is not None), default=0.0)
    weights = {t: (idf.get(t, 0.0) if idf is not None else 1.0) for t in terms}
    max_weight = max(weights.values(), default=1.0) or 1.0
    unknown = [t for t in terms if idf is not None and idf.get(t, 0.0) == 0.0]
    for t in unknown:
        weights[t] = max_weight  # absent everywhere: as telling as the rarest term we know
    total = sum(weights.values())
    if total == 0:
        return RelevanceFeatures(dense_top, 0.0, 0.0)
    coverage = 0.0
    for retrieved in chunks[:top]:
        have = set(tokenize(embedding_text(retrieved.chunk.header, retrieved.chunk.text)))
        coverage = max(coverage, sum(w for t, w in weights.items() if t in have) / total)
    return RelevanceFeatures(dense_top, coverage, sum(weights[t] for t in unknown) / total)


def is_relevant(
    question: str, results: "RetrievalResult | Sequence[RetrievedChunk]", model: RelevanceModel = BARE_RELEVANCE_MODEL
) -> bool:
    """Does retrieval hold the answer? A RetrievalResult carries its own verdict (with IDF weights
    over the readable corpus); bare chunks are judged with every question term weighing the same."""
    if isinstance(results, Sequence):
        return bool(results) and model.probability(features(content_terms(question), results)) >= model.threshold
    return results.relevant
