"""Crash safety: SIGKILL `kb ingest` at random moments, restart, and check that SQL and FAISS agree.

Each round ingests new versions of two real PDFs (their bytes altered by a trailing PDF comment,
so every round is a replacement) with the HashingEmbedder, kills the whole process group after a
seeded random delay, then opens the store as the next start-up would (reconciliation) and checks:
every document is ready and fully searchable, or queued; FAISS holds exactly the ready chunks;
no duplicate documents or chunks; one ready version per file name."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from ingestion.embedders import HashingEmbedder
from ingestion.reconcile import ReconcileReport
from ingestion.service import KnowledgeBase, StoreConfig
from store.models import DocStatus

ROOT = Path(__file__).resolve().parents[2]
SEED = 20240611


def variant(source: Path, target: Path, tag: str) -> Path:
    """The same PDF with different bytes: a comment after %%EOF is ignored by readers."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes() + f"\n% {tag}\n".encode())
    return target


def in_flight(data_dir: Path) -> bool:
    """Whether some document is being parsed or embedded now (read-only, beside the writer)."""
    database = data_dir / "kb.sqlite3"
    if not database.exists():
        return False
    marks = ",".join("?" * len(DocStatus.IN_FLIGHT))
    query = f"SELECT 1 FROM documents WHERE status IN ({marks}) LIMIT 1"
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)) as db:
            return db.execute(query, DocStatus.IN_FLIGHT).fetchone() is not None
    except sqlite3.OperationalError:  # the schema is still being created
        return False


def kill_mid_document(child: subprocess.Popen[bytes], data_dir: Path) -> int | None:
    """Kill as soon as a document is in flight: a kill that certainly lands mid-document,
    whatever the machine's load (timed kills on a busy host can all land before or after)."""
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline:
        if in_flight(data_dir):
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            return None
        time.sleep(0.01)
    return child.wait()


def run_ingest(
    env: dict[str, str], cwd: Path, files: list[Path], kill_after: float | None, mid_document: bool = False
) -> int | None:
    command = [sys.executable, "-c", "from app.cli import main; main()", "ingest", "--no-progress", *map(str, files)]
    child = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    if kill_after is None and not mid_document:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err.decode()[-2000:]
        return 0
    try:
        if mid_document:
            return kill_mid_document(child, Path(env["KB_DATA_DIR"]))
        child.wait(timeout=kill_after)
        return child.returncode  # finished before the kill
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)  # the whole tree, parse workers included
        child.wait()
        return None
    finally:
        assert child.stderr is not None
        child.stderr.close()


def check_after_restart(data_dir: Path, repairs: list[ReconcileReport] | None = None) -> dict[str, str]:
    """Start-up (reconcile) then the invariants; returns {file name: status} of current documents."""
    # A killed parse worker lets go of the writer's lock a moment after its parent is reaped: wait
    # for it as a second kb process would (the lock is the product's own, kb.lock_wait_s).
    config = StoreConfig(data_dir, lock_wait_s=10.0)
    with KnowledgeBase.open(config, embedder=lambda: HashingEmbedder(64), writer=True) as kb:
        assert kb.last_reconcile is not None
        if repairs is not None:
            repairs.append(kb.last_reconcile)
        assert kb.check() == []
        admin = kb.actor(None)
        docs = kb.list_documents(admin, include_superseded=True)
        assert len({d.sha256 for d in docs}) == len(docs)
        for doc in docs:
            assert doc.status in ("ready", "queued", "superseded"), (doc.file_name, doc.status, doc.error)
            if doc.status != "ready":
                assert doc.chunks == 0
        for doc in (d for d in docs if d.status == "ready"):
            ids = [c for c in kb.reads.readable_chunk_ids(admin).tolist()]
            first = min(c.id for c in kb.reads.get_chunks(ids).values() if c.document_id == doc.id)
            text = kb.reads.get_chunks([first])[first].embedding_text
            assert doc.id in {h.chunk.document_id for h in kb.reads.search(text, admin, k=5)}
        return {d.file_name: d.status for d in docs if d.status != "superseded"}


def kill_rounds(tmp_path: Path, data_dir: Path, sample_pdfs: tuple[Path, Path], rounds: int) -> None:
    footlocker, aapl = sample_pdfs
    env = {**os.environ, "KB_DATA_DIR": str(data_dir), "KB_EMBEDDER": "hashing-64", "PYTHONPATH": str(ROOT)}
    env.pop("KB_DATABASE_URL", None)
    rng = random.Random(SEED)
    killed = finished = 0
    repairs: list[ReconcileReport] = []
    # Kills land within an uninterrupted run's time on this machine (fast hosts finish in ~3 s).
    started = time.monotonic()
    run_ingest(env, tmp_path, [variant(aapl, tmp_path / "timing" / "aapl.pdf", "timing")], kill_after=None)
    whole_run_s = time.monotonic() - started
    for round_no in range(rounds):
        files = [
            variant(aapl, tmp_path / f"r{round_no}" / "aapl.pdf", f"round {round_no}"),
            variant(footlocker, tmp_path / f"r{round_no}" / "footlocker.pdf", f"round {round_no}"),
        ]
        rng.shuffle(files)
        started = time.monotonic()
        # Odd rounds kill at a random time, even ones the moment a document is in flight.
        kill_after = rng.uniform(0.5, max(1.0, whole_run_s))
        outcome = run_ingest(env, tmp_path, files, kill_after=kill_after, mid_document=round_no % 2 == 0)
        killed += outcome is None
        finished += outcome is not None
        check_after_restart(data_dir, repairs)
        assert time.monotonic() - started < 60
    rolled_back = sum(r.rolled_back for r in repairs)
    print(
        f"{rounds} rounds: {killed} killed mid-run, {finished} finished; reconciliation rolled back "
        f"{rolled_back} documents, removed {sum(r.orphan_vectors for r in repairs)} orphan vectors"
    )
    assert killed >= rounds // 2, f"only {killed} of {rounds} rounds were killed mid-run"
    assert rolled_back > 0  # some kills did land mid-document

    last = [
        variant(p, tmp_path / "final" / name, "final")
        for p, name in ((aapl, "aapl.pdf"), (footlocker, "footlocker.pdf"))
    ]
    run_ingest(env, tmp_path, last, kill_after=None)
    assert check_after_restart(data_dir) == {"aapl.pdf": "ready", "footlocker.pdf": "ready"}


def test_sigkill_at_random_moments_never_leaves_sql_and_faiss_apart(
    tmp_path: Path, data_dir: Path, sample_pdfs: tuple[Path, Path]
) -> None:
    kill_rounds(tmp_path, data_dir, sample_pdfs, rounds=12)


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_sigkill_100_times(tmp_path: Path, data_dir: Path, sample_pdfs: tuple[Path, Path]) -> None:
    kill_rounds(tmp_path, data_dir, sample_pdfs, rounds=100)
