"""Near-duplicate suppression: one copy of a passage in the results, not three.

Duplicates are overlapping chunks of the same document (the splitter's overlap, the same pages)
and the same text in several documents (boilerplate repeated across filings, a file uploaded
under two names). The better-ranked copy stays."""

import re
from collections.abc import Sequence

from app.retrieval.text import CJK_CHAR
from app.types import RetrievedChunk

_WORDS = re.compile(r"[^\W_]+")


def _shingles(text: str) -> frozenset[str]:
    """Word sets for Latin text, character bigrams for Chinese (no spaces to split on)."""
    if len(CJK_CHAR.findall(text)) * 3 > len(text):
        joined = "".join(_WORDS.findall(text))
        return frozenset(joined[i : i + 2] for i in range(len(joined) - 1))
    return frozenset(_WORDS.findall(text.lower()))


def _span_overlap(a: RetrievedChunk, b: RetrievedChunk) -> float:
    """Shared characters as a share of the shorter chunk, when both are from one document."""
    if a.chunk.document_id != b.chunk.document_id:
        return 0.0
    shared = min(a.chunk.char_end, b.chunk.char_end) - max(a.chunk.char_start, b.chunk.char_start)
    shorter = min(a.chunk.char_end - a.chunk.char_start, b.chunk.char_end - b.chunk.char_start)
    return max(shared, 0) / max(shorter, 1)


def suppress_near_duplicates(
    ranked: Sequence[RetrievedChunk], k: int, *, span_overlap: float = 0.5, jaccard: float = 0.9
) -> list[RetrievedChunk]:
    """The first `k` of `ranked` (best first) that duplicate no better-ranked kept chunk."""
    kept: list[RetrievedChunk] = []
    kept_shingles: list[frozenset[str]] = []
    for candidate in ranked:
        if len(kept) >= k:
            break
        shingles = _shingles(candidate.chunk.text)
        duplicate = False
        for other, other_shingles in zip(kept, kept_shingles, strict=True):
            if _span_overlap(candidate, other) >= span_overlap:
                duplicate = True
                break
            union = len(shingles | other_shingles)
            if union and len(shingles & other_shingles) / union >= jaccard:
                duplicate = True
                break
        if not duplicate:
            kept.append(candidate)
            kept_shingles.append(shingles)
    return kept
