"""Which embedder should be the default? Measured recall on English and Chinese, plus speed.

Plain recipe for every embedder: our splitter (sized in that embedder's tokens), each chunk embedded
with its document's metadata header in front (as the store does), a flat FAISS inner-product
index, top-5 chunks per question.

- CMRC2018 (Chinese): every context is one document; a question hits when one of its top-5 chunks
  comes from the question's own context. A fixed random sample of questions over all contexts.
- sec-10-q (English): the 20 10-Q PDFs; a question hits when a top-5 chunk's file name matches the
  question's 'Source Docs' glob. Parsed text is cached in a temp dir (parsing takes minutes).
- sentences/s: chunks per second (wall clock) on a fixed sample of 64 real chunks, half from
  each corpus. Vectors of the corpora are cached in a temp dir, so a second run is quick.

Usage: .venv/bin/python benchmarks/embedders.py [--embedders a,b] [--questions 300]
Prints progress to stderr and one JSON line last on stdout.
"""

import argparse
import csv
import fnmatch
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingestion.embedders import EMBEDDER_NAMES, load_embedder  # noqa: E402
from ingestion.parsing import ParseLimits, parse_file  # noqa: E402
from ingestion.parsing.metadata import extract_metadata  # noqa: E402
from ingestion.parsing.wire import document_from_json, document_to_json  # noqa: E402
from ingestion.splitter import split_document  # noqa: E402
from ingestion.types import Embedder, PageText, ParsedDocument  # noqa: E402

EVAL = Path(os.environ.get("KB_EVAL_DIR", ROOT.parent / "shared" / "eval"))
TOP_K = 5
CHUNK_TOKENS = 256
OVERLAP_TOKENS = 32
SHARD = 64  # chunks per cached vector file
SPEED_SAMPLE = 64  # chunks (half Chinese, half English) timed for sentences/s
PAGE_TEXT_CODE = ("pdf_loader.py", "text_cleaning.py")  # what the cached page text depends on


@dataclass(frozen=True)
class Corpus:
    chunk_texts: list[str]  # header + "\n" + body, what gets embedded
    chunk_owner: list[str]  # the document each chunk came from (file name or context id)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_corpus(docs: Sequence[ParsedDocument], embedder: Embedder) -> Corpus:
    texts, owners = [], []
    for doc in docs:
        header = doc.metadata.header()
        for chunk in split_document(doc, embedder.count_tokens, CHUNK_TOKENS, OVERLAP_TOKENS):
            texts.append(f"{header}\n{chunk.text}" if header else chunk.text)
            owners.append(doc.file_name)
    return Corpus(texts, owners)


def top_owners(corpus: Corpus, vectors: np.ndarray, queries: np.ndarray) -> list[set[str]]:
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    _, ids = index.search(queries, TOP_K)
    return [{corpus.chunk_owner[i] for i in row if i >= 0} for row in ids]


# CMRC2018


Questions = list[tuple[str, str]]  # (question, context id or file-name glob)


def cmrc_documents_and_questions(sample: int, seed: int) -> tuple[list[ParsedDocument], Questions]:
    data = json.loads((EVAL / "cmrc2018" / "cmrc2018_dev.json").read_text(encoding="utf-8"))
    docs, questions = [], []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            docs.append(
                ParsedDocument(
                    file_name=paragraph["id"],
                    mime="text/plain",
                    pages=(PageText(number=1, text=paragraph["context"]),),
                )
            )
            questions.extend((qa["question"], paragraph["id"]) for qa in paragraph["qas"])
    return docs, random.Random(seed).sample(questions, min(sample, len(questions)))


# sec-10-q


def sec_documents(name_globs: list[str]) -> list[ParsedDocument]:
    """Parsed through parse_file (the real path, limits included). Cached by the file's bytes and the
    page-text code; the metadata is always read again from the cached pages with the current code."""
    cache = Path(tempfile.gettempdir()) / "kb-benchmark-sec-10-q"
    cache.mkdir(exist_ok=True)
    paths = sorted(
        (
            p
            for p in (EVAL / "sec-10-q" / "docs").glob("*.pdf")
            if any(fnmatch.fnmatchcase(p.name, g) for g in name_globs)
        ),
        key=lambda p: -p.stat().st_size,
    )
    page_code = b"".join((ROOT / "ingestion" / "parsing" / n).read_bytes() for n in PAGE_TEXT_CODE)

    def load(path: Path) -> ParsedDocument:
        digest = hashlib.sha256(path.read_bytes() + page_code).hexdigest()[:16]
        cached = cache / f"{digest}.json"
        if cached.exists():
            doc = document_from_json(json.loads(cached.read_text(encoding="utf-8")))
            return replace(doc, metadata=extract_metadata(doc.pages, doc.metadata.title))
        started = time.perf_counter()
        doc = parse_file(path, ParseLimits(timeout_s=600))
        cached.write_text(json.dumps(document_to_json(doc), ensure_ascii=False), encoding="utf-8")
        log(f"  parsed {path.name}: {len(doc.pages)} pages in {time.perf_counter() - started:.1f} s")
        return doc

    with ThreadPoolExecutor(max_workers=2) as pool:  # each parse runs in its own process
        docs = list(pool.map(load, paths))
    return sorted(docs, key=lambda d: d.file_name)


def sec_questions() -> Questions:
    with (EVAL / "sec-10-q" / "qna_data.csv").open(encoding="utf-8-sig", newline="") as stream:
        return [(row["Question"], row["Source Docs"].strip()) for row in csv.DictReader(stream)]


# Measuring one embedder


def embed_with_cache(embedder: Embedder, texts: list[str], cache: Path) -> np.ndarray:
    """Vectors in shards of SHARD texts, each saved once computed: an interrupted or repeated run
    (e5 takes tens of minutes on a busy 2-core machine) only embeds what is missing."""
    shards = []
    for first in range(0, len(texts), SHARD):
        batch = texts[first : first + SHARD]
        key = hashlib.sha256("\x00".join([embedder.name, *batch]).encode()).hexdigest()[:20]
        path = cache / f"{key}.npy"
        if not path.exists():
            np.save(path, embedder.embed_documents(batch))
        shards.append(np.load(path))
        log(f"    {min(first + SHARD, len(texts))}/{len(texts)} chunks embedded")
    return np.concatenate(shards).astype(np.float32)


def sentences_per_second(embedder: Embedder, texts: list[str]) -> float:
    """Wall-clock rate on a fixed sample of real chunks (never cached)."""
    started = time.perf_counter()
    embedder.embed_documents(texts)
    return len(texts) / (time.perf_counter() - started)


def measure(
    name: str, cmrc: tuple[list[ParsedDocument], Questions], sec_docs: list[ParsedDocument], sec_qs: Questions
) -> dict[str, float | int | str]:
    embedder = load_embedder(name)
    embedder.embed_documents(["warm up"])  # load the model outside the timings
    cache = Path(tempfile.gettempdir()) / "kb-benchmark-vectors"
    cache.mkdir(exist_ok=True)
    cmrc_docs, cmrc_qs = cmrc
    result: dict[str, float | int | str] = {"name": embedder.name}
    sample: list[str] = []

    for label, docs, questions in (("cmrc2018", cmrc_docs, cmrc_qs), ("sec10q", sec_docs, sec_qs)):
        corpus = build_corpus(docs, embedder)
        sample += random.Random(1).sample(corpus.chunk_texts, SPEED_SAMPLE // 2)
        vectors = embed_with_cache(embedder, corpus.chunk_texts, cache)
        queries = np.stack([embedder.embed_query(question) for question, _ in questions])
        owners = top_owners(corpus, vectors, queries)
        if label == "cmrc2018":
            hits = [context_id in found for (_, context_id), found in zip(questions, owners, strict=True)]
            key = "cmrc2018_passage_recall@5"
        else:
            hits = [
                any(fnmatch.fnmatchcase(owner, pattern) for owner in found)
                for (_, pattern), found in zip(questions, owners, strict=True)
            ]
            key = "sec10q_document_recall@5"
        result[key] = round(sum(hits) / len(hits), 3)
        result[f"{label}_chunks"] = len(corpus.chunk_texts)
        log(f"  {embedder.name} {label}: {result[key]} over {len(corpus.chunk_texts)} chunks")
    result["sentences_per_s"] = round(sentences_per_second(embedder, sample), 1)
    result["load_average_1m"] = round(os.getloadavg()[0], 1)  # 2 cores, shared: read speeds with this
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    real_models = [name for name in EMBEDDER_NAMES if not name.startswith("hashing")]
    parser.add_argument("--embedders", default=",".join(real_models), help="comma-separated names")
    parser.add_argument("--questions", type=int, default=300, help="CMRC2018 questions sampled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sec-docs",
        default="*",
        help="comma-separated globs over sec-10-q file names, e.g. '2022 Q3*,2023 Q1*' (two filings per "
        "company, still 'right company, wrong filing' distractors; vectors cached by a full run are reused)",
    )
    args = parser.parse_args()

    started = time.perf_counter()
    log("loading CMRC2018 and sec-10-q (parsing PDFs on the first run) ...")
    cmrc = cmrc_documents_and_questions(args.questions, args.seed)
    sec_docs = sec_documents(args.sec_docs.split(","))
    # Questions whose source glob matches no indexed filing cannot hit; leave them out.
    sec_qs = [
        (question, pattern)
        for question, pattern in sec_questions()
        if any(fnmatch.fnmatchcase(doc.file_name, pattern) for doc in sec_docs)
    ]
    results = []
    for name in args.embedders.split(","):
        log(f"measuring {name} ...")
        results.append(measure(name, cmrc, sec_docs, sec_qs))
    print(
        json.dumps(
            {
                "benchmark": "embedders",
                "recipe": f"chunks {CHUNK_TOKENS}/{OVERLAP_TOKENS} tokens, header+chunk, flat IP, top-{TOP_K}",
                "cmrc2018_questions": len(cmrc[1]),
                "cmrc2018_contexts": len(cmrc[0]),
                "sec10q_questions": len(sec_qs),
                "sec10q_documents": len(sec_docs),
                "sec10q_docs_filter": args.sec_docs,
                "results": results,
                "seconds": round(time.perf_counter() - started, 1),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
