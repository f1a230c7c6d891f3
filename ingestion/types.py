"""Plain dataclasses that cross the ingestion layer's boundaries (parsing -> splitting -> store)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class DocumentMetadata:
    """Facts read from the document itself; put on every chunk and usable as query filters."""

    title: str | None = None
    organisation: str | None = None  # e.g. "Apple Inc."
    kind: str | None = None  # e.g. "10-Q", "10-K", "8-K", "earnings release", "manual"
    period: str | None = None  # e.g. "quarter ended April 1, 2023"

    def header(self) -> str:
        """One line that heads every chunk of the document in both indexes (dense and BM25)."""
        parts = [p for p in (self.organisation, self.kind, self.period, self.title) if p]
        return " | ".join(parts)


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


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before it is stored: text plus where it came from."""

    ordinal: int  # 0-based position within the document
    text: str  # the chunk body, without the metadata header
    page_start: int  # 1-based, inclusive
    page_end: int  # 1-based, inclusive
    char_start: int  # offset into ParsedDocument.text
    char_end: int  # exclusive
    # Offsets in `text` where each later page of the span begins (page_end - page_start of them),
    # so a sentence inside the chunk can be cited with its own page.
    page_breaks: tuple[int, ...] = ()


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
