"""Text -> vectors. Models load lazily, on first embed or count, never at import.

load_embedder(name) returns one of EMBEDDER_NAMES (or "auto", the measured default).
"""

from ingestion.embedders.e5 import E5SmallEmbedder
from ingestion.embedders.hashing import HashingEmbedder
from ingestion.embedders.minilm import MiniLMEmbedder
from ingestion.errors import EmbedderError
from ingestion.types import Embedder

EMBEDDER_NAMES: tuple[str, ...] = (E5SmallEmbedder.name, MiniLMEmbedder.name, "hashing-64")

# Chosen by measured recall (benchmarks/embedders.py), not by name; figures beside the choice.
DEFAULT_EMBEDDER = E5SmallEmbedder.name


def load_embedder(name: str = "auto") -> Embedder:
    """An embedder by name (case-insensitive); "auto" is DEFAULT_EMBEDDER; "hashing-N" is the fake."""
    wanted = (DEFAULT_EMBEDDER if name == "auto" else name).strip().lower()
    if wanted == E5SmallEmbedder.name.lower():
        return E5SmallEmbedder()
    if wanted == MiniLMEmbedder.name.lower():
        return MiniLMEmbedder()
    if wanted.startswith("hashing-") and wanted.removeprefix("hashing-").isdigit():
        return HashingEmbedder(dim=int(wanted.removeprefix("hashing-")))
    known = ", ".join(("auto", *EMBEDDER_NAMES))
    raise EmbedderError(f"Unknown embedder {name!r}; choose one of: {known}.")


__all__ = ["DEFAULT_EMBEDDER", "EMBEDDER_NAMES", "HashingEmbedder", "load_embedder"]
