"""Plain dataclasses that cross the app layer: what retrieval finds, what the chain answers."""

from dataclasses import dataclass, field

from store.records import StoredChunk


@dataclass(frozen=True)
class RetrievedChunk:
    """A chunk the asking user may read, with how retrieval ranked it."""

    chunk: StoredChunk
    score: float  # fused score (higher is better)
    dense_score: float | None = None  # cosine similarity, when the dense search found it
    keyword_score: float | None = None  # BM25 score, when the keyword search found it


@dataclass(frozen=True)
class Source:
    """A chunk given to the model as source [n]."""

    n: int  # 1-based number used in the prompt and in citation markers
    retrieved: RetrievedChunk

    @property
    def chunk(self) -> StoredChunk:
        return self.retrieved.chunk


@dataclass(frozen=True)
class Citation:
    n: int
    document: str  # file name
    document_id: int
    page: int  # 1-based physical page of the supporting sentence
    snippet: str  # the quoted passage (the chunk text, trimmed)
    sentence: str  # the sentence of the source that best supports the claim, for highlighting
    score: float


@dataclass(frozen=True)
class Usage:
    """Model tokens of the answer's generation (0 when the model was not asked)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class CheckedSentence:
    """One sentence of the model's answer and whether the sources it cites hold it."""

    text: str  # as written, with its [n] markers
    verified: bool
    reason: str  # why it was dropped ("" when kept): "Elon, Musk is in none of its cited passages"
    sources: tuple[int, ...] = ()  # the source numbers it was checked against


ANSWERED = "answered"  # verified sentences (generated or extracted), with citations
UNVERIFIED = "unverified"  # sources were found, but nothing said about them survived checking
NOT_FOUND = "not_found"  # the knowledge base holds nothing relevant
STOPPED = "stopped"  # the asker stopped the answer part-way; what was written is kept, unchecked

SEARCHING = "searching"  # AnswerStage kinds, in order
READING = "reading"  # the sources are chosen: `passages` of them
WRITING = "writing"  # the model is asked (a quoted answer skips this)


@dataclass(frozen=True)
class AnswerStage:
    """What an answer in progress is doing, for a page to say so before its first words."""

    kind: str  # SEARCHING, READING, WRITING
    conversation_id: int | None = None  # where the question is stored (None: not stored)
    passages: int = 0  # READING: how many passages the answer is drawn from


@dataclass
class Answer:
    text: str
    found: bool  # False: "not in the knowledge base", no citations
    citations: list[Citation] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    conversation_id: int | None = None
    message_id: int | None = None
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"  # "length" when the answer hit its token limit
    outcome: str = ANSWERED  # ANSWERED, UNVERIFIED or NOT_FOUND
    method: str = "generated"  # "extractive" (quoted from a source), "generated" (the model's, checked), ""
    checked: list[CheckedSentence] = field(default_factory=list)  # every sentence the model wrote

    @property
    def dropped(self) -> list[CheckedSentence]:
        return [c for c in self.checked if not c.verified]
