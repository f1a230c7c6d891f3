"""Weighted reciprocal rank fusion: each list adds weight / (k + rank) to the chunks it ranks.

Ranks, not raw scores, are fused: cosine similarities and BM25 scores live on unrelated scales."""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RankedList:
    hits: Sequence[tuple[int, float]]  # (chunk id, score), best first
    weight: float


def reciprocal_rank_fusion(lists: Sequence[RankedList], k: float = 60.0) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranked in lists:
        if ranked.weight == 0:
            continue
        for rank, (chunk_id, _) in enumerate(ranked.hits, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + ranked.weight / (k + rank)
    return fused
