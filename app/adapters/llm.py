"""Our engine as a LangChain chat model that streams (`_stream` yields ChatGenerationChunk).

Messages are converted to model.chat_template.ChatMessage and rendered with the model's own chat
template; every message's text is neutralised first so that nobody can write control tokens.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, Protocol

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from app.chain.sanitize import neutralise
from model.chat_template import ChatMessage
from model.generation_config import GenerationConfig


@dataclass(frozen=True)
class Sampling:
    """Sampling for the streamed answers generated inside `sampled(...)` (regenerate asks for a
    different answer; the chain's own settings stay greedy)."""

    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None


_SAMPLING: ContextVar[Sampling | None] = ContextVar("kb_sampling", default=None)


@contextmanager
def sampled(sampling: Sampling | None) -> Iterator[None]:
    """Streamed generations started in this block sample with `sampling` (None: as configured)."""
    token = _SAMPLING.set(sampling)
    try:
        yield
    finally:
        _SAMPLING.reset(token)


_ROLES = {"system": "system", "human": "user", "ai": "assistant", "user": "user", "assistant": "assistant"}


class TextStream(Protocol):
    """What Engine.stream returns: iterate for text; `result` has finish_reason, ttft_s, token_ids."""

    result: Any

    def __iter__(self) -> Iterator[str]: ...

    def close(self) -> None: ...


class EngineLike(Protocol):
    """The part of model.engine.Engine the adapter uses (a fake implements it for fast tests)."""

    @property
    def context_window(self) -> int: ...

    def chat_prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]: ...

    def stream(self, prompt_ids: Sequence[int], cfg: GenerationConfig) -> TextStream: ...


def special_token_strings(engine: Any) -> tuple[str, ...]:
    """The tokenizer's special tokens as text (<|im_start|>, </s>, ...), to strip from user text."""
    backend = getattr(getattr(engine, "tokenizer", None), "backend", None)
    if backend is None:
        return ()
    return tuple(t.content for t in backend.get_added_tokens_decoder().values() if t.special and t.content)


class EngineChatModel(BaseChatModel):
    """A LangChain chat model over our engine. `max_tokens`, `temperature` may be bound per call."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: Any = Field(exclude=True)  # EngineLike; Any because pydantic cannot check a Protocol
    model_name: str = "kb"
    max_tokens: int = 512
    temperature: float = 0.0
    repetition_penalty: float = 1.0
    specials: tuple[str, ...] = ()

    @classmethod
    def from_engine(cls, engine: EngineLike, **kwargs: Any) -> "EngineChatModel":
        return cls(engine=engine, specials=special_token_strings(engine), **kwargs)

    @property
    def _llm_type(self) -> str:
        return "kb-engine"

    @property
    def context_window(self) -> int:
        return int(self.engine.context_window)

    def chat_messages(self, messages: Sequence[BaseMessage]) -> list[ChatMessage]:
        return [ChatMessage(_ROLES.get(m.type, "user"), neutralise(m.text, self.specials)) for m in messages]

    def prompt_tokens(self, messages: Sequence[BaseMessage]) -> int:
        """Exact prompt length in the model's tokens, template included."""
        return len(self.engine.chat_prompt_ids(self.chat_messages(messages)))

    def _config(self, stop: list[str] | None, kwargs: dict[str, Any]) -> GenerationConfig:
        cfg = GenerationConfig(
            max_new_tokens=int(kwargs.get("max_tokens", self.max_tokens)),
            temperature=float(kwargs.get("temperature", self.temperature)),
            repetition_penalty=float(kwargs.get("repetition_penalty", self.repetition_penalty)),
            stop_strings=tuple(stop or ()),
        )
        chosen = _SAMPLING.get()
        if chosen is None:
            return cfg
        return replace(cfg, temperature=chosen.temperature, top_p=chosen.top_p, seed=chosen.seed)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        ids = self.engine.chat_prompt_ids(self.chat_messages(messages))
        stream = self.engine.stream(ids, self._config(stop, kwargs))
        try:
            for piece in stream:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager is not None:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
        finally:
            stream.close()  # the consumer stopped early: free the engine for the next request
        result = stream.result
        info = {
            "finish_reason": result.finish_reason,
            "prompt_tokens": len(ids),
            "completion_tokens": len(result.token_ids),
            "ttft_ms": round(result.ttft_s * 1000, 1),
        }
        yield ChatGenerationChunk(message=AIMessageChunk(content="", response_metadata=info), generation_info=info)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = ""
        info: dict[str, Any] = {}
        with sampled(None):  # whole replies (condensing a follow-up) stay as configured
            for chunk in self._stream(messages, stop, run_manager, **kwargs):
                text += chunk.text
                info = chunk.generation_info or info
        message = AIMessage(content=text, response_metadata=info)
        return ChatResult(generations=[ChatGeneration(message=message, generation_info=info)])
