"""Request and response bodies of the OpenAI-compatible endpoints (plus our citations)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """Plain text of the message; OpenAI clients may send a list of typed parts."""
        if isinstance(self.content, list):
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send more fields than we use

    model: str = "kb"
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    conversation_id: int | None = Field(None, description="Continue (and store into) this conversation of yours.")


class CitationOut(BaseModel):
    n: int
    document: str
    document_id: int
    page: int
    snippet: str
    sentence: str
    score: float


class CheckedSentenceOut(BaseModel):
    text: str
    verified: bool
    reason: str = Field(description="Why it was dropped; empty when verified.")
    sources: list[int]


class ChatChoice(BaseModel):
    index: int = 0
    message: dict[str, str]
    finish_reason: Literal["stop", "length"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: dict[str, int]
    citations: list[CitationOut] = Field(description="Checked citations of the answer's [n] markers.")
    found: bool = Field(description="False: the answer is not in the knowledge base, or nothing could be verified.")
    outcome: Literal["answered", "unverified", "not_found"] = Field(
        "answered",
        description="answered: verified text with citations; unverified: sources were found but nothing said "
        "about them survived checking (citations are then the most relevant passages); not_found.",
    )
    method: str = Field("", description="extractive (quoted from a source), generated (the model's, checked) or ''.")
    checked: list[CheckedSentenceOut] = Field(
        default_factory=list, description="Every sentence the model wrote: verified and kept, or dropped with why."
    )
    conversation_id: int | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "kb"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class DocumentOut(BaseModel):
    id: int
    file_name: str
    status: str
    pages: int | None
    chunks: int
    version: int
    groups: list[str]
    uploaded_by: str | None
    created_at: str


class IngestOut(BaseModel):
    file_name: str
    outcome: str
    document_id: int | None
    pages: int
    chunks: int
    message: str


class ConversationOut(BaseModel):
    id: int
    title: str
    created_at: str
    updated_at: str
    messages: int


class MessageOut(BaseModel):
    id: int
    conversation_id: int
    role: str
    content: str
    found: bool | None
    citations: list[dict[str, Any]]
    timings_ms: dict[str, float]
    created_at: str | None
    checks: dict[str, Any] = Field(default_factory=dict, description="outcome, method, checked sentences.")


class FeedbackIn(BaseModel):
    rating: Literal[1, -1] = Field(description="1 thumbs up, -1 thumbs down.")
    comment: str = Field("", max_length=2000)
