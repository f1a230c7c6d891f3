"""The model on other machines: OpenAI-compatible servers (`kb model-server`, vLLM, llama.cpp's
server) behind KB_MODEL_URL, used where the app would use its own engine.

The tokenizer stays here: the chain packs its prompt to the token (history, passages, answer room),
so the app renders the chat template itself and sends token ids to /v1/completions, which all three
servers accept. Requests go to the servers in turn; one that is down or busy (503) is skipped for
the next, and only when every server refuses does the asker hear 'busy, retry in N s'.
"""

import itertools
import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.errors import KBError, ServerBusyError
from app.settings import Settings
from model.chat_template import ChatMessage
from model.engine import GenerationResult
from model.generation_config import GenerationConfig
from model.loader import resolve_model_path
from model.tokenizer import Tokenizer

DEFAULT_CONTEXT = 4096  # when no server says its context length
TIMEOUT = httpx.Timeout(connect=5.0, read=300.0, write=30.0, pool=30.0)


class ModelServerError(KBError):
    """No model server answered, or one refused the request."""


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _retry_after(response: httpx.Response) -> int:
    try:
        return max(1, int(response.headers.get("retry-after", "30")))
    except ValueError:
        return 30


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


class RemoteStream:
    """Text pieces of one streamed completion; `result` is complete when iteration ends."""

    def __init__(self, response: httpx.Response, result: GenerationResult, tokenizer: Tokenizer, start: float):
        self._response, self.result, self._tokenizer, self._start = response, result, tokenizer, start

    def __iter__(self) -> Iterator[str]:
        completed = False
        try:
            for line in self._response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if "error" in chunk:
                    raise ModelServerError(f"The model server failed: {chunk['error'].get('message', 'unknown')}")
                choice = (chunk.get("choices") or [{}])[0]
                piece = choice.get("text") or ""
                if piece:
                    if not self.result.text:
                        self.result.ttft_s = time.perf_counter() - self._start
                    self.result.text += piece
                    yield piece
                if choice.get("finish_reason"):
                    self.result.finish_reason = "length" if choice["finish_reason"] == "length" else "stop"
            completed = True
        finally:
            if not completed:
                self.result.finish_reason = "cancelled"
            self.result.total_s = time.perf_counter() - self._start
            self.result.token_ids = self._tokenizer.encode(self.result.text)  # what the server produced, re-read
            self._response.close()

    def close(self) -> None:
        """Stop: closing the connection cancels the request on the server (its slot is freed)."""
        self._response.close()


class RemoteEngine:
    """What the chat adapter needs of an engine (app.adapters.llm.EngineLike), over HTTP."""

    def __init__(
        self, urls: Sequence[str], api_key: str | None, tokenizer: Tokenizer, name: str, context_window: int
    ) -> None:
        if not urls:
            raise ModelServerError("KB_MODEL_URL names no model server.")
        self.urls = [url.rstrip("/") for url in urls]
        self.tokenizer, self.name, self.context_window = tokenizer, name, context_window
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers, timeout=TIMEOUT)
        self._turns = itertools.cycle(range(len(self.urls)))
        self._turn_lock = threading.Lock()

    @classmethod
    def connect(cls, settings: Settings) -> "RemoteEngine":
        """The servers in KB_MODEL_URL; the tokenizer from KB_MODEL (the same model's files here)."""
        urls = [url.strip() for url in (settings.model_url or "").split(",") if url.strip()]
        path = resolve_model_path(settings.model)
        tokenizer = Tokenizer.from_gguf(path) if path.is_file() else Tokenizer.from_hf_folder(Path(path))
        name = path.stem if path.is_file() else path.name
        engine = cls(urls, settings.model_api_key, tokenizer, name, DEFAULT_CONTEXT)
        served = engine._served_context()
        window = served or settings.max_context or DEFAULT_CONTEXT
        engine.context_window = min(window, settings.max_context) if settings.max_context else window
        return engine

    def _served_context(self) -> int | None:
        """The context length the first reachable server reports (vLLM and ours: max_model_len;
        llama.cpp: meta.n_ctx_train)."""
        for url in self.urls:
            try:
                response = self._client.get(f"{url}/models", timeout=10.0)
            except httpx.HTTPError:
                continue
            if response.status_code == 401:
                raise ModelServerError(f"The model server at {_host(url)} refused the key (KB_MODEL_API_KEY).")
            if response.status_code != 200:
                continue
            for card in response.json().get("data", []):
                value = card.get("max_model_len") or (card.get("meta") or {}).get("n_ctx_train")
                if isinstance(value, int) and value > 0:
                    return value
        return None

    def describe(self) -> dict[str, str]:
        return {
            "model": self.name,
            "model servers": ", ".join(_host(url) for url in self.urls),
            "context window": f"{self.context_window} tokens",
        }

    def chat_prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True)

    def _body(self, prompt_ids: Sequence[int], cfg: GenerationConfig) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.name,
            "prompt": list(prompt_ids),
            "max_tokens": min(cfg.max_new_tokens, max(1, self.context_window - len(prompt_ids))),
            "temperature": cfg.temperature,
            "top_p": cfg.top_p,
            "stream": True,
            "stop_token_ids": sorted(self.tokenizer.stop_ids | frozenset(cfg.stop_token_ids)),
        }
        if cfg.top_k:
            body["top_k"] = cfg.top_k
        if cfg.repetition_penalty != 1.0:
            body["repetition_penalty"] = cfg.repetition_penalty
        if cfg.stop_strings:
            body["stop"] = list(cfg.stop_strings)
        if cfg.seed is not None:
            body["seed"] = cfg.seed
        return body

    def _order(self) -> list[str]:
        with self._turn_lock:
            first = next(self._turns)
        return self.urls[first:] + self.urls[:first]

    def stream(self, prompt_ids: Sequence[int], cfg: GenerationConfig) -> RemoteStream:
        """Start a streamed completion on the next server that takes it."""
        body, start = self._body(prompt_ids, cfg.validate()), time.perf_counter()
        busy: list[int] = []
        for url in self._order():
            request = self._client.build_request("POST", f"{url}/completions", json=body)
            try:
                response = self._client.send(request, stream=True)
            except httpx.HTTPError:
                continue  # down: the next one
            if response.status_code == 200:
                return RemoteStream(response, GenerationResult(prompt_tokens=len(prompt_ids)), self.tokenizer, start)
            response.read()
            response.close()
            if response.status_code == 503:
                busy.append(_retry_after(response))
                continue
            if response.status_code == 401:
                raise ModelServerError(f"The model server at {_host(url)} refused the key (KB_MODEL_API_KEY).")
            raise ModelServerError(f"The model server refused the request: {_error_message(response)}")
        if busy:
            wait = min(busy)
            raise ServerBusyError(f"Every model server is busy; please try again in about {wait} s.", wait)
        raise ModelServerError("No model server answered (KB_MODEL_URL); an administrator must check them.")
