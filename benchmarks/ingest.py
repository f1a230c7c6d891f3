"""Ingest throughput and overhead: our pipeline end to end against bare pypdf + bare embedding.

    .venv/bin/python benchmarks/ingest.py [--limit N] [--embedder NAME] [--folder DIR]

Measured in one run, on the same files and the same chunk texts:
  ours      = KnowledgeBase.ingest(files) into a fresh data folder (SQLite + FAISS), wall time
  baseline  = pypdf extract_text of every page, sequential, in-process
            + embedder.embed_documents of exactly the chunks we stored, in batches
  ratio     = ours / baseline (target <= 1.15; < 1.0 means parsing overlapped with embedding)
The embedder's model is loaded and warmed before either timing. Prints one JSON line last.
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDER = ROOT.parent / "shared" / "eval" / "sec-10-q" / "docs"


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


def bare_embed(embedder: object, texts: list[str], batch: int) -> float:
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        embedder.embed_documents(texts[i : i + batch])  # type: ignore[attr-defined]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--limit", type=int, default=None, help="only the first N files (by name)")
    parser.add_argument("--embedder", default=os.environ.get("KB_EMBEDDER", "auto"))
    parser.add_argument("--parse-workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()

    from ingestion.embedders import load_embedder
    from ingestion.pipeline import IngestOptions
    from ingestion.service import KnowledgeBase, StoreConfig

    paths = sorted(args.folder.glob("*.pdf"))[: args.limit]
    embedder = load_embedder(args.embedder)
    embedder.embed_documents(["warm-up"])  # model load is not ingest time
    embedder.count_tokens("warm-up")

    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        config = StoreConfig(
            data_dir=Path(tmp), ingest=IngestOptions(parse_workers=args.parse_workers, embed_batch=args.batch)
        )
        with KnowledgeBase.open(config, embedder=lambda: embedder, writer=True) as kb:
            started = time.perf_counter()
            results = kb.ingest(paths, actor=kb.actor(None))
            ours = time.perf_counter() - started
            failed = [f"{r.file_name}: {r.message}" for r in results if r.outcome == "failed"]
            texts = [c.embedding_text for part in kb.reads.iter_chunks() for c in part]
            assert kb.check() == [], kb.check()
    pages = sum(r.pages for r in results)

    parse_s, bare_pages = bare_extract(paths)
    embed_s = bare_embed(embedder, texts, args.batch)
    baseline = parse_s + embed_s
    for line in failed:
        print("failed:", line)
    print(
        f"{len(paths)} files, {pages} pages, {len(texts)} chunks: ours {ours:.1f} s; "
        f"bare pypdf {parse_s:.1f} s + bare embedding {embed_s:.1f} s = {baseline:.1f} s"
    )
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "embedder": embedder.name,
                "files": len(paths),
                "failed": len(failed),
                "pages": pages,
                "bare_pages": bare_pages,
                "chunks": len(texts),
                "seconds": round(ours, 2),
                "pages_per_s": round(pages / ours, 2),
                "chunks_per_s": round(len(texts) / ours, 2),
                "bare_parse_s": round(parse_s, 2),
                "bare_embed_s": round(embed_s, 2),
                "ratio": round(ours / baseline, 3),
                "target_ratio": 1.15,
                "parse_workers": args.parse_workers,
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
