"""The FAISS index: flat and HNSW, tombstones, the permission filter inside the search, atomic
saves, and the embedder recorded with the index."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from ingestion import atomic
from ingestion.errors import EmbedderMismatchError, IndexCorruptError
from ingestion.index import FLAT, HNSW, IndexSpec, IndexTuning, VectorIndex

SPEC = IndexSpec("hashing-16", 16)


def unit(rows: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_flat_add_search_remove_and_reload(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path / "i.faiss", SPEC)
    vectors = unit(50)
    index.add(np.arange(100, 150), vectors)
    assert index.kind == FLAT and index.count == 50
    assert index.search(vectors[7], 1, None) == [(107, pytest.approx(1.0, abs=1e-5))]
    assert index.remove([107, 999]) == 1
    assert 107 not in [i for i, _ in index.search(vectors[7], 5, None)]
    index.add([120], vectors[7:8])  # an id already present is replaced, never duplicated
    assert index.count == 49 and index.search(vectors[7], 1, None)[0][0] == 120
    index.save()
    again = VectorIndex.open(tmp_path / "i.faiss", SPEC)
    assert again.ids().tolist() == index.ids().tolist()
    assert again.search(vectors[7], 1, None)[0][0] == 120


@pytest.mark.parametrize("threshold", [10_000, 20])  # flat, and HNSW past a tiny threshold
def test_permission_filter_runs_inside_the_search(tmp_path: Path, threshold: int) -> None:
    """Canary vectors identical to the query are excluded by the selector, not post-filtered:
    the k results are still all k best *allowed* vectors."""
    tuning = IndexTuning(hnsw_threshold=threshold, exact_below=0)  # exercise the HNSW selector path
    index = VectorIndex(tmp_path / "i.faiss", SPEC, tuning)
    vectors = unit(200)
    query = vectors[0]
    canaries = np.tile(query, (10, 1))
    index.add(np.arange(1, 201), vectors)
    index.add(np.arange(1000, 1010), canaries)
    assert index.kind == (HNSW if threshold == 20 else FLAT)
    assert {i for i, _ in index.search(query, 5, None)} & set(range(1000, 1010))  # they would rank first
    allowed = np.arange(2, 201)  # everything except the canaries and vector 1 (== query)
    hits = index.search(query, 5, allowed)
    assert len(hits) == 5 and all(2 <= i <= 200 for i, _ in hits)
    exact = sorted(range(2, 201), key=lambda i: -float(vectors[i - 1] @ query))[:5]
    assert len(set(exact) & {i for i, _ in hits}) >= 4  # HNSW is approximate; flat is exact
    assert index.search(query, 5, np.array([], dtype=np.int64)) == []


def test_hnsw_uses_tombstones_then_compacts(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path / "i.faiss", SPEC, IndexTuning(hnsw_threshold=20, compact_fraction=0.5))
    vectors = unit(100)
    index.add(np.arange(100), vectors)
    assert index.kind == HNSW
    index.remove([5, 6])
    assert index.count == 98 and 5 not in index.ids()
    assert all(i not in (5, 6) for i, _ in index.search(vectors[5], 10, None))
    assert all(i not in (5, 6) for i, _ in index.search(vectors[5], 10, np.arange(0, 10)))  # exact path
    index.save()
    reopened = VectorIndex.open(tmp_path / "i.faiss", SPEC, index.tuning)
    assert reopened.count == 98 and 5 not in reopened.ids()  # tombstones survive a reload
    reopened.remove(np.arange(10, 70))  # past compact_fraction: rebuilt without the dead ones
    assert reopened.count == 38 and sorted(reopened.ids().tolist()) == [*range(5), *range(7, 10), *range(70, 100)]
    reopened.add([5], vectors[5:6])  # an id that was tombstoned can come back
    assert reopened.search(vectors[5], 1, None)[0][0] == 5


def test_opening_with_another_embedder_is_refused(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path / "i.faiss", SPEC)
    index.add([1], unit(1))
    index.save()
    with pytest.raises(EmbedderMismatchError, match="kb reindex"):
        VectorIndex.open(tmp_path / "i.faiss", IndexSpec("multilingual-e5-small-q4", 384))
    with pytest.raises(EmbedderMismatchError, match="hashing-16"):
        VectorIndex.open(tmp_path / "i.faiss", IndexSpec("hashing-16b", 16))
    assert VectorIndex.open(tmp_path / "i.faiss", None).spec == SPEC  # deletes need no embedder


def test_a_failure_mid_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "i.faiss"
    index = VectorIndex(path, SPEC)
    index.add([1, 2], unit(2))
    index.save()
    before = path.read_bytes()
    index.add(np.arange(3, 500), unit(497, seed=1))

    def crash(_fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(atomic.os, "fsync", crash)
    with pytest.raises(OSError, match="disk gone"):
        index.save()
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))
    assert VectorIndex.open(path, SPEC).count == 2


def test_a_process_killed_while_saving_never_leaves_a_broken_index(tmp_path: Path) -> None:
    """SIGKILL a process that saves a growing index in a loop; the file always loads."""
    path = tmp_path / "i.faiss"
    script = textwrap.dedent(f"""
        import numpy as np
        from ingestion.index import IndexSpec, VectorIndex
        index = VectorIndex.open({str(path)!r}, IndexSpec("hashing-16", 16))
        rng = np.random.default_rng(0)
        n = index.count
        while True:
            x = rng.standard_normal((2000, 16)).astype(np.float32)
            index.add(np.arange(n, n + 2000), x / np.linalg.norm(x, axis=1, keepdims=True))
            n += 2000
            index.save()
            print(n, flush=True)
    """)
    rng = np.random.default_rng(7)
    counts = []
    for _ in range(4):
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        assert child.stdout.readline(), 'the saving process died'  # at least one save happened
        time.sleep(float(rng.uniform(0.0, 0.3)))
        child.kill()
        child.wait()
        counts.append(VectorIndex.open(path, SPEC).count)  # never raises IndexCorruptError
        atomic.remove_stale_temps(tmp_path)
    assert counts == sorted(counts) and counts[-1] > 0


def test_a_truncated_file_is_reported_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "i.faiss"
    index = VectorIndex(path, SPEC)
    index.add(np.arange(100), unit(100))
    index.save()
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(IndexCorruptError, match="kb reindex"):
        VectorIndex.open(path, SPEC)


def test_a_reader_picks_up_a_newer_file_when_sql_needs_it(tmp_path: Path) -> None:
    path = tmp_path / "i.faiss"
    writer = VectorIndex(path, SPEC)
    writer.add([1], unit(1))
    writer.save()
    reader = VectorIndex.open(path, SPEC)
    time.sleep(0.01)
    writer.add([2], unit(1, seed=3))
    writer.save()
    os.utime(path)
    assert not reader.refresh_for(np.array([1]))  # has what it needs: no reload
    assert reader.refresh_for(np.array([1, 2])) and reader.count == 2
