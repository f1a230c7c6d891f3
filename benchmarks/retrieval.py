"""Retrieval latency and FAISS HNSW recall on synthetic data (no embedder, no SQL).

For each size (default 10k and 100k chunks): vectors from a mixture of Gaussians (384-d,
normalised; real embeddings cluster by topic), stored in ingestion.index.VectorIndex with the
default tuning (flat below 50k vectors, HNSW above); a BM25 index over Zipf-distributed synthetic
texts. Reported: dense search p50/p95 (all ids allowed, and half of them allowed as a permission
filter), BM25 search p50/p95, and HNSW recall@10 against exact search (flat inner product).

Usage: .venv/bin/python benchmarks/retrieval.py [--sizes 10000,100000] [--queries 200]
Progress goes to stderr; one JSON line last on stdout.
"""

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.retrieval.bm25 import BM25Index  # noqa: E402
from ingestion.index import IndexSpec, IndexTuning, VectorIndex  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def clustered(n: int, dim: int, rng: np.random.Generator, centres: int = 256, latent: int = 48) -> np.ndarray:
    """Topic clusters in a low-dimensional latent space, projected to `dim` with a little isotropic
    noise: sentence embeddings have a far lower intrinsic dimension than their width. (Isotropic
    384-d noise is the worst case for any graph index and unlike real text.)"""
    means = rng.standard_normal((centres, latent)).astype(np.float32)
    points = means[rng.integers(0, centres, n)] + 0.5 * rng.standard_normal((n, latent)).astype(np.float32)
    projection = rng.standard_normal((latent, dim)).astype(np.float32) / np.sqrt(latent)
    vectors = points @ projection + 0.05 * rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def percentiles(samples: list[float]) -> tuple[float, float]:
    return round(float(np.percentile(samples, 50)), 3), round(float(np.percentile(samples, 95)), 3)


def timed(fn, queries) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - start) * 1000.0)
    return out


def run_size(n: int, dim: int, n_queries: int, rng: np.random.Generator, folder: Path) -> dict[str, object]:
    vectors = clustered(n, dim, rng)
    ids = np.arange(1, n + 1, dtype=np.int64)
    index = VectorIndex(folder / f"bench-{n}.faiss", IndexSpec("synthetic", dim), IndexTuning())
    start = time.perf_counter()
    index.add(ids, vectors)
    build_s = time.perf_counter() - start
    log(f"{n}: {index.kind} index built in {build_s:.1f}s")
    picks = rng.choice(n, n_queries, replace=False)
    queries = vectors[picks] + 0.05 * rng.standard_normal((n_queries, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    half = np.sort(rng.choice(ids, n // 2, replace=False))

    dense_all = timed(lambda q: index.search(q, 32, ids), queries)
    dense_half = timed(lambda q: index.search(q, 32, half), queries)

    exact = faiss.IndexFlatIP(dim)
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    found = [[i - 1 for i, _ in index.search(q, 10, None)] for q in queries]
    recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
    by_ef = {}
    if index.kind == "hnsw":  # what a larger efSearch would buy (IndexTuning.ef_search is ingestion's)
        default = index.tuning
        for ef in (64, 96, 192, 384):
            index.tuning = replace(default, ef_search=ef)
            got = [[i - 1 for i, _ in index.search(q, 10, None)] for q in queries]
            took = timed(lambda q: index.search(q, 10, None), queries[:50])
            by_ef[str(ef)] = {
                "recall_at_10": round(
                    float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(got, truth, strict=True)])), 4
                ),
                "ms_p50": percentiles(took)[0],
            }
        index.tuning = default
    allowed_rows = set((half - 1).tolist())
    exact_half = faiss.IndexFlatIP(dim)
    exact_half.add(vectors[half - 1])
    _, truth_half = exact_half.search(queries, 10)
    found_half = [[i - 1 for i, _ in index.search(q, 10, half)] for q in queries]
    recall_half = float(
        np.mean(
            [len(set(f) & {int(half[t]) - 1 for t in th}) / 10 for f, th in zip(found_half, truth_half, strict=True)]
        )
    )
    assert all(set(f) <= allowed_rows for f in found_half)  # the filter holds inside the search

    vocabulary = [f"w{i}" for i in range(50_000)]
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)
    weights /= weights.sum()
    start = time.perf_counter()
    words = rng.choice(len(vocabulary), size=(n, 60), p=weights)
    bm25 = BM25Index(ids.tolist(), [Counter(vocabulary[w] for w in row) for row in words])
    log(f"{n}: BM25 built in {time.perf_counter() - start:.1f}s")
    term_queries = [[vocabulary[w] for w in rng.choice(2000, 6)] for _ in range(n_queries)]
    mask_all = np.ones(n, dtype=bool)
    mask_half = bm25.allowed_mask(half)
    bm25_all = timed(lambda t: bm25.search(t, mask_all, 32), term_queries)
    bm25_half = timed(lambda t: bm25.search(t, mask_half, 32), term_queries)

    p = percentiles
    return {
        "n": n,
        "kind": index.kind,
        "build_s": round(build_s, 1),
        "dense_ms_p50": p(dense_all)[0],
        "dense_ms_p95": p(dense_all)[1],
        "dense_filtered_ms_p50": p(dense_half)[0],
        "dense_filtered_ms_p95": p(dense_half)[1],
        "bm25_ms_p50": p(bm25_all)[0],
        "bm25_ms_p95": p(bm25_all)[1],
        "bm25_filtered_ms_p50": p(bm25_half)[0],
        "bm25_filtered_ms_p95": p(bm25_half)[1],
        "recall_at_10": round(recall, 4),
        "recall_at_10_filtered": round(recall_half, 4),
        "hnsw_by_ef_search": by_ef,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(s) for s in args.sizes.split(",")):
            results.append(run_size(size, args.dim, args.queries, rng, Path(folder)))
            log(json.dumps(results[-1]))
    hnsw = [r for r in results if r["kind"] == "hnsw"]
    summary = {
        "benchmark": "retrieval",
        "dim": args.dim,
        "queries": args.queries,
        "sizes": results,
        "hnsw_recall_at_10_min": min((min(r["recall_at_10"], r["recall_at_10_filtered"]) for r in hnsw), default=None),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
