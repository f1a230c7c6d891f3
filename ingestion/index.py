"""The FAISS vector index: vectors only, keyed by chunk id; SQL is the source of truth.

Flat inner product (exact) while small; HNSW past `hnsw_threshold` live vectors. HNSW cannot
remove ids, so removals there are tombstones, excluded inside every search and compacted away
once they pile up. One file holds a JSON header (embedder name and dimension, kind, tombstones)
followed by the FAISS bytes, replaced atomically, so the two can never disagree after a crash.
"""

import json
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np
import numpy.typing as npt

from ingestion.atomic import atomic_writer
from ingestion.errors import EmbedderMismatchError, IndexCorruptError

MAGIC = b"KBVEC1\n"
_LEN = struct.Struct("<Q")
FLAT, HNSW = "flat", "hnsw"
IdArray = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]
faiss: Any = _faiss  # the SWIG module is untyped; keep mypy from guessing at it


@dataclass(frozen=True)
class IndexSpec:
    """Which embedder made the vectors. Vectors of two embedders are never mixed."""

    embedder: str
    dim: int


@dataclass(frozen=True)
class IndexTuning:
    hnsw_threshold: int = 50_000  # live vectors before switching from flat to HNSW
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 96
    exact_below: int = 20_000  # allowed sets this small are scored exactly, even under HNSW
    compact_fraction: float = 0.2  # rebuild HNSW once tombstones exceed this share


def _ids(values: Any) -> IdArray:
    return np.ascontiguousarray(np.asarray(values, dtype=np.int64).reshape(-1))


def _empty(kind: str, dim: int, tuning: IndexTuning) -> Any:
    if kind == FLAT:
        inner: Any = faiss.IndexFlatIP(dim)
    else:
        inner = faiss.IndexHNSWFlat(dim, tuning.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = tuning.ef_construction
    return faiss.IndexIDMap2(inner)


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header alone: cheap, so the embedder check happens before loading vectors."""
    with open(path, "rb") as handle:
        header, _ = _read_header(handle, path)
    return header


def _read_header(handle: Any, path: Path) -> tuple[dict[str, Any], int]:
    if handle.read(len(MAGIC)) != MAGIC:
        raise IndexCorruptError(f"{path} is not a kb vector index; run `kb reindex` to rebuild it.")
    (length,) = _LEN.unpack(handle.read(_LEN.size))
    try:
        header = json.loads(handle.read(length))
    except ValueError as error:
        raise IndexCorruptError(
            f"The header of {path} is damaged; run `kb reindex` to rebuild it."
        ) from error
    return header, len(MAGIC) + _LEN.size + length


def check_spec(found: IndexSpec, wanted: IndexSpec) -> None:
    if found != wanted:
        raise EmbedderMismatchError(
            f"The vector index was built with embedder {found.embedder!r} ({found.dim} dimensions) but "
            f"the configured embedder is {wanted.embedder!r} ({wanted.dim} dimensions). Run `kb reindex` "
            "to rebuild the index with the configured embedder, or set KB_EMBEDDER back."
        )


class VectorIndex:
    """Thread-safe in one process; one writer process at a time (see `ingestion.lock`)."""

    def __init__(self, path: Path | str, spec: IndexSpec, tuning: IndexTuning = IndexTuning()) -> None:
        self.path = Path(path)
        self.spec = spec
        self.tuning = tuning
        self._lock = threading.RLock()
        self._kind = FLAT
        self._index: Any = _empty(FLAT, spec.dim, tuning)
        self._tombstones: set[int] = set()
        self._disk_stamp: tuple[int, int, int] | None = None
        self.dirty = False
        # Counts every change that can take ids out (remove, clear, reload): a reader that read its
        # allowed ids from SQL before such a change may find them gone, and reads again.
        self.removals = 0

    # ---- opening and saving -------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, spec: IndexSpec | None, tuning: IndexTuning = IndexTuning()) -> "VectorIndex":
        """Load `path`, or start empty when it does not exist (then `spec` is required).

        With `spec` given, an index built by another embedder is refused; with None (deleting,
        checking) the stored spec is taken as it is."""
        path = Path(path)
        if not path.exists():
            if spec is None:
                raise IndexCorruptError(f"There is no vector index at {path} yet; ingest a document first.")
            return cls(path, spec, tuning)
        header = read_header(path)
        found = IndexSpec(embedder=str(header["embedder"]), dim=int(header["dim"]))
        if spec is not None:
            check_spec(found, spec)
        index = cls(path, found, tuning)
        index.reload()
        return index

    def reload(self) -> None:
        with self._lock, open(self.path, "rb") as handle:
            self.removals += 1
            stamp = self._stamp()
            header, start = _read_header(handle, self.path)
            if os.fstat(handle.fileno()).st_size != start + int(header["payload_bytes"]):
                raise IndexCorruptError(f"{self.path} is truncated; run `kb reindex` to rebuild it.")
            try:
                index = faiss.read_index(faiss.PyCallbackIOReader(handle.read))
            except RuntimeError as error:
                raise IndexCorruptError(f"{self.path} cannot be read ({error}); run `kb reindex`.") from error
            if index.d != self.spec.dim:
                raise IndexCorruptError(
                    f"{self.path} holds {index.d}-d vectors, its header says {self.spec.dim}."
                )
            self._index = index
            self._kind = str(header["kind"])
            self._tombstones = {int(i) for i in header.get("tombstones", [])}
            self._disk_stamp = stamp
            self.dirty = False

    def save(self) -> None:
        """Write header + FAISS bytes to a temp file, fsync, rename over the old file, fsync the dir."""
        with self._lock:
            payload = faiss.serialize_index(self._index)  # uint8 array; one copy, then streamed
            header = json.dumps(
                {
                    "format": 1,
                    "embedder": self.spec.embedder,
                    "dim": self.spec.dim,
                    "kind": self._kind,
                    "count": self.count,
                    "tombstones": sorted(self._tombstones),
                    "payload_bytes": int(payload.nbytes),
                }
            ).encode()
            with atomic_writer(self.path) as handle:
                handle.write(MAGIC)
                handle.write(_LEN.pack(len(header)))
                handle.write(header)
                handle.write(payload.tobytes() if not payload.flags.c_contiguous else payload.data)
            self._disk_stamp = self._stamp()
            self.dirty = False

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def changed_on_disk(self) -> bool:
        """Another process saved since we loaded or saved (readers use this to refresh)."""
        return self._stamp() != self._disk_stamp

    def refresh_for(self, wanted: IdArray) -> bool:
        """Reload from disk when the file changed and some `wanted` ids are not in memory.

        A reader calls this after reading the allowed ids from SQL: the writer saves vectors before
        it flips a document to ready, so a newer file always has what SQL already calls ready."""
        with self._lock:
            if self.dirty or not self.changed_on_disk() or not self.path.exists():
                return False
            if wanted.size and np.isin(wanted, self.ids(), assume_unique=True).all():
                return False
            self.reload()
            return True

    # ---- contents -------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def count(self) -> int:
        """Live vectors (tombstoned ones excluded)."""
        return int(self._index.ntotal) - len(self._tombstones)

    def ids(self) -> IdArray:
        """Live ids, sorted."""
        with self._lock:
            stored = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            if self._tombstones:
                stored = stored[~np.isin(stored, _ids(sorted(self._tombstones)))]
            return np.sort(stored)

    def add(self, ids: Any, vectors: Vectors) -> None:
        """Add vectors under `ids` (an id already present is replaced)."""
        ids = _ids(ids)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (ids.size, self.spec.dim):
            raise ValueError(f"expected vectors of shape ({ids.size}, {self.spec.dim}), got {vectors.shape}")
        if ids.size == 0:
            return
        with self._lock:
            stored = faiss.vector_to_array(self._index.id_map)
            clash = ids[np.isin(ids, stored)]
            if clash.size:
                self.remove(clash)
                if self._tombstones.intersection(clash.tolist()):
                    self._rebuild(self._kind)  # HNSW: purge the tombstoned copies first
            if self._kind == FLAT and self.count + ids.size > self.tuning.hnsw_threshold:
                self._rebuild(HNSW)
            self._index.add_with_ids(vectors, ids)
            self.dirty = True

    def remove(self, ids: Any) -> int:
        """Remove vectors by id; returns how many were live."""
        ids = _ids(ids)
        with self._lock:
            stored = faiss.vector_to_array(self._index.id_map)
            present = ids[np.isin(ids, stored)]
            present = present[~np.isin(present, _ids(sorted(self._tombstones)))]
            if present.size == 0:
                return 0
            self.removals += 1
            if self._kind == FLAT:
                self._index.remove_ids(faiss.IDSelectorBatch(present))
            else:
                self._tombstones.update(int(i) for i in present)
                if len(self._tombstones) > self.tuning.compact_fraction * max(int(self._index.ntotal), 1):
                    self._rebuild(FLAT if self.count < self.tuning.hnsw_threshold else HNSW)
            self.dirty = True
            return int(present.size)

    def clear(self) -> None:
        with self._lock:
            self.removals += 1
            self._kind = FLAT
            self._index = _empty(FLAT, self.spec.dim, self.tuning)
            self._tombstones.clear()
            self.dirty = True

    def _rebuild(self, kind: str) -> None:
        """Re-create the FAISS structure from its own stored vectors, minus tombstones."""
        n = int(self._index.ntotal)
        stored_ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        vectors = self._index.index.reconstruct_n(0, n) if n else np.zeros((0, self.spec.dim), np.float32)
        keep = ~np.isin(stored_ids, _ids(sorted(self._tombstones)))
        fresh = _empty(kind, self.spec.dim, self.tuning)
        if keep.any():
            fresh.add_with_ids(np.ascontiguousarray(vectors[keep]), stored_ids[keep])
        self._index, self._kind = fresh, kind
        self._tombstones.clear()
        self.dirty = True

    # ---- search -------------------------------------------------------------------------

    def search(self, query: Vectors, k: int, allowed_ids: IdArray | None) -> list[tuple[int, float]]:
        """Top `k` (chunk id, inner product) for one query vector.

        `allowed_ids` restricts the search itself (a FAISS IDSelector inside the index scan),
        so documents a user may not read never take a slot in the top k. None: no restriction."""
        query = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        if query.shape[1] != self.spec.dim:
            raise ValueError(f"query has {query.shape[1]} dimensions, the index {self.spec.dim}")
        with self._lock:
            if k <= 0 or self.count == 0:
                return []
            if allowed_ids is not None:
                allowed = _ids(allowed_ids)
                if self._tombstones:
                    allowed = allowed[~np.isin(allowed, _ids(sorted(self._tombstones)))]
                if allowed.size == 0:
                    return []
                if self._kind == HNSW and allowed.size <= self.tuning.exact_below:
                    return self._exact(query, k, allowed)
                selector: Any = faiss.IDSelectorBatch(allowed)
                keep_alive: list[Any] = [selector, allowed]
            elif self._tombstones:
                dead = _ids(sorted(self._tombstones))
                inner = faiss.IDSelectorBatch(dead)
                selector = faiss.IDSelectorNot(inner)
                keep_alive = [inner, dead]
            else:
                selector, keep_alive = None, []
            if self._kind == HNSW:
                params: Any = faiss.SearchParametersHNSW(efSearch=max(self.tuning.ef_search, k))
            else:
                params = faiss.SearchParameters()
            if selector is not None:
                params.sel = selector
            scores, labels = self._index.search(query, k, params=params)
            del keep_alive
        return [(int(i), float(s)) for i, s in zip(labels[0], scores[0], strict=True) if i >= 0]

    def _exact(self, query: Vectors, k: int, allowed: IdArray) -> list[tuple[int, float]]:
        """Exact scores over a small allowed set: HNSW loses recall under a tight filter."""
        present = allowed[np.isin(allowed, faiss.vector_to_array(self._index.id_map))]
        if present.size == 0:
            return []
        vectors = self._index.reconstruct_batch(present)
        scores = vectors @ query[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(present[i]), float(scores[i])) for i in top]
