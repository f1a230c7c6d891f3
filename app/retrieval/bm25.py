"""Okapi BM25 over chunks (metadata header + body) as a compressed inverted index in numpy.

Statistics (document count, document frequency, average length) are taken over the chunks the
asking user may read, so ranking never depends on, and never reveals, documents hidden from them.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IdArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BM25Params:
    k1: float = 1.2
    b: float = 0.75


class BM25Index:
    """Immutable once built: a new set of chunks means a new index (see KeywordSearch)."""

    def __init__(self, ids: Sequence[int], term_counts: Sequence[Counter[str]], params: BM25Params = BM25Params()):
        order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
        self.ids: IdArray = np.asarray(ids, dtype=np.int64)[order]  # sorted: isin/searchsorted work
        counts = [term_counts[i] for i in order]
        self.params = params
        self.lengths = np.array([sum(c.values()) for c in counts], dtype=np.float32)
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        terms: list[int] = []
        tfs: list[int] = []
        for row, counter in enumerate(counts):
            for term, tf in counter.items():
                terms.append(vocabulary.setdefault(term, len(vocabulary)))
                rows.append(row)
                tfs.append(tf)
        term_array = np.asarray(terms, dtype=np.int64)
        by_term = np.argsort(term_array, kind="stable")
        self._rows = np.asarray(rows, dtype=np.int64)[by_term]
        self._tfs = np.asarray(tfs, dtype=np.float32)[by_term]
        self._offsets = np.searchsorted(term_array[by_term], np.arange(len(vocabulary) + 1))
        self._vocabulary = vocabulary

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def allowed_mask(self, allowed: IdArray) -> npt.NDArray[np.bool_]:
        return np.isin(self.ids, allowed, assume_unique=True)

    def scores(self, terms: Sequence[str], mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.float32]:
        """BM25 score of every indexed chunk (0 outside `mask`), statistics over `mask` only."""
        out = np.zeros(self.size, dtype=np.float32)
        n = int(mask.sum())
        if n == 0:
            return out
        avgdl = float(self.lengths[mask].mean()) or 1.0
        k1, b = self.params.k1, self.params.b
        for term in dict.fromkeys(terms):
            tid = self._vocabulary.get(term)
            if tid is None:
                continue
            rows = self._rows[self._offsets[tid] : self._offsets[tid + 1]]
            keep = mask[rows]
            rows = rows[keep]
            if rows.size == 0:
                continue
            tf = self._tfs[self._offsets[tid] : self._offsets[tid + 1]][keep]
            weight = idf(n, rows.size)
            norm = tf + k1 * (1.0 - b + b * self.lengths[rows] / avgdl)
            out[rows] += weight * tf * (k1 + 1.0) / norm
        return out

    def document_frequency(self, term: str, mask: npt.NDArray[np.bool_]) -> int:
        return int(self.rows_holding(term, mask).size)

    def rows_holding(self, term: str, mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        """Rows (positions in `ids`) of the chunks in `mask` that hold the term."""
        tid = self._vocabulary.get(term)
        if tid is None:
            return np.zeros(0, dtype=np.int64)
        rows = self._rows[self._offsets[tid] : self._offsets[tid + 1]]
        return rows[mask[rows]]

    def search(self, terms: Sequence[str], mask: npt.NDArray[np.bool_], k: int) -> list[tuple[int, float]]:
        """Top `k` (chunk id, BM25 score) among `mask`, zero scores left out."""
        scores = self.scores(terms, mask)
        hits = np.flatnonzero(scores > 0)
        if hits.size > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        return [(int(self.ids[i]), float(scores[i])) for i in hits]


def idf(n: int, df: int) -> float:
    """BM25's inverse document frequency of a term in `df` of `n` chunks; 0 for one found in none."""
    return float(np.log(1.0 + (n - df + 0.5) / (df + 0.5))) if df else 0.0
