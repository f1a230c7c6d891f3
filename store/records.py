"""Plain dataclasses the store takes and returns. ORM objects and sessions never leave `store/`."""

from dataclasses import dataclass
from datetime import datetime


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


@dataclass(frozen=True)
class UserInfo:
    id: int
    name: str
    role: str  # "admin" | "member"
    groups: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class GroupInfo:
    id: int
    name: str
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    file_name: str
    sha256: str
    size: int
    mime: str | None
    pages: int | None
    chunks: int
    status: str
    error: str | None
    version: int
    previous_id: int | None
    uploaded_by: str | None
    groups: tuple[str, ...]  # empty: visible to every signed-in user
    metadata: DocumentMetadata
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StoredChunk:
    id: int  # also the vector's id in FAISS
    document_id: int
    file_name: str
    ordinal: int
    header: str  # the document's metadata line; kept apart so BM25 and display can choose
    text: str  # the body
    page_start: int  # 1-based, inclusive
    page_end: int
    char_start: int
    char_end: int
    page_breaks: tuple[int, ...] = ()  # offsets in `text` where pages page_start+1.. begin; () if unknown

    @property
    def recorded_breaks(self) -> tuple[int, ...]:
        """`page_breaks` when ingestion recorded one per page boundary, else () (an older chunk)."""
        return self.page_breaks if len(self.page_breaks) == self.page_end - self.page_start else ()

    @property
    def embedding_text(self) -> str:
        """What the embedder sees: the metadata header, then the body."""
        return embedding_text(self.header, self.text)


@dataclass(frozen=True)
class PageText:
    """The text of the pages a chunk lies on (the chunks around it joined, overlaps removed): a
    table's header may sit in the chunk before the row a search found."""

    text: str
    chunk_offset: int  # where the chunk asked about starts in `text`
    page_starts: tuple[tuple[int, int], ...]  # (offset in `text`, 1-based page), ascending

    def page_at(self, offset: int) -> int:
        page = self.page_starts[0][1] if self.page_starts else 1
        for start, number in self.page_starts:
            if start > offset:
                break
            page = number
        return page

    def span_of(self, first: int, last: int) -> tuple[int, int]:
        """Where pages `first`..`last` lie in `text` (from the first's start, or the text's, up to the
        page after the last). A page starts where its first chunk does: `page_starts` also marks where
        each later chunk on it starts."""
        begin = next((at for at, number in self.page_starts if number == first), 0)
        end = next((at for at, number in self.page_starts if number > last), len(self.text))
        return begin, end

    def of_page(self, page: int) -> str:
        """One page's part of `text`."""
        begin, end = self.span_of(page, page)
        return self.text[begin:end]


def embedding_text(header: str, body: str) -> str:
    return f"{header}\n{body}" if header else body


@dataclass(frozen=True)
class JobInfo:
    id: int
    document_id: int
    state: str
    attempts: int
    heartbeat_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    action: str
    target: str


@dataclass(frozen=True)
class SearchHit:
    chunk: StoredChunk
    score: float  # inner product of normalised vectors (cosine similarity)
