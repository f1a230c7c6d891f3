"""Request bodies of the model server: OpenAI's completions and chat completions, with the
extensions vLLM and llama.cpp's server accept too (top_k, repetition_penalty, token-id prompts)."""

from typing import Literal

from pydantic import BaseModel, Field

MAX_PROMPT_ITEMS = 65_536  # token ids in one prompt; the context window refuses far less
MAX_PROMPT_CHARS = 1_000_000


class Sampling(BaseModel):
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=10.0)  # OpenAI's default; 0 is greedy
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0)
    repetition_penalty: float = Field(1.0, gt=0.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    stop_token_ids: list[int] = Field(default_factory=list, max_length=64)  # vLLM's extension
    ignore_eos: bool = False  # vLLM's extension: run to max_tokens (benchmarks)
    stream: bool = False

    def stop_strings(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop[:8])


class CompletionRequest(Sampling):
    model: str = ""
    prompt: str | list[int] = Field(..., max_length=MAX_PROMPT_CHARS)


class ChatMessageIn(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(..., max_length=MAX_PROMPT_CHARS)


class ChatRequest(Sampling):
    model: str = ""
    messages: list[ChatMessageIn] = Field(..., min_length=1, max_length=256)
