"""Is anything retrieved relevant enough to answer from? If not, we refuse without the model.

A similarity threshold alone hardly separates answerable from unanswerable questions (DESIGN.md),
so the default gate takes two signals: the question's content words found in one chunk (entity
overlap), or a dense similarity high enough on its own. The retrieval package's calibrated helper
decides instead where the retriever has one (AnswerChain with no `relevance`).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.chain.sentences import content_words
from app.types import RetrievedChunk

RelevanceCheck = Callable[[str, Sequence[RetrievedChunk]], bool]


def coverage(question: str, chunk: RetrievedChunk) -> float:
    """Share of the question's content words present in the chunk (header included)."""
    wanted = content_words(question)
    if not wanted:
        return 0.0
    return len(wanted & content_words(f"{chunk.chunk.header}\n{chunk.chunk.text}")) / len(wanted)


@dataclass(frozen=True)
class OverlapOrSimilarity:
    min_coverage: float = 0.5
    min_dense: float = 0.9

    def __call__(self, question: str, retrieved: Sequence[RetrievedChunk]) -> bool:
        return any(
            coverage(question, r) >= self.min_coverage or (r.dense_score or 0.0) >= self.min_dense for r in retrieved
        )
