"""A deterministic fake embedder for fast tests of the layers above: hashed tokens, no model."""

import re
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

# Latin/digit words, or single CJK characters (Chinese has no spaces between words).
_TOKEN = re.compile(r"[^\W_\u3400-\u9fff\uf900-\ufaff]+|[\u3400-\u9fff\uf900-\ufaff]")


class HashingEmbedder:
    """Each token adds ±1 to one of `dim` buckets (crc32, stable across processes); rows are
    L2-normalised. Texts without tokens embed as the zero vector."""

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim

    @property
    def name(self) -> str:
        return f"hashing-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        vectors = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in self._tokens(text):
                code = zlib.crc32(token.encode("utf-8"))
                vectors[row, code % self._dim] += 1.0 if (code >> 31) & 1 else -1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self.embed_documents([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(self._tokens(text))

    @staticmethod
    def _tokens(text: str) -> list[str]:
        return _TOKEN.findall(text.lower())
