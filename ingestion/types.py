"""Plain dataclasses that cross the ingestion layer's boundaries (parsing -> splitting -> store)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from store.records import ChunkDraft, DocumentMetadata  # the store's records; ingestion makes them

__all__ = ["ChunkDraft", "DocumentMetadata", "Embedder", "PageText", "ParsedDocument"]


@dataclass(frozen=True)
class PageText:
    number: int  # 1-based physical page (pypdf index + 1); never the printed footer number
    text: str


@dataclass(frozen=True)
class ParsedDocument:
    file_name: str
    mime: str
    pages: tuple[PageText, ...]
    metadata: DocumentMetadata = field(default_factory=DocumentMetadata)

    PAGE_SEPARATOR = "\n\n"

    @property
    def text(self) -> str:
        """The whole document; chunk offsets index into this string."""
        return self.PAGE_SEPARATOR.join(p.text for p in self.pages)


class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors. `name` and `dim` are stored with the index."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """[len(texts), dim], each row L2-normalised."""
        ...

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        """[dim], L2-normalised (with the model's query prefix where it has one)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Length in the embedding model's tokens; the splitter sizes chunks with it."""
        ...
