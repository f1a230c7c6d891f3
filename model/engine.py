"""The serving engine: one loaded model + tokenizer, text in, streamed text out.

Requests are served one at a time (a lock around the model and its KV cache); the cache is
allocated once and grown only when a request needs more room.
"""

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import torch

from model.chat_template import ChatMessage
from model.errors import GenerationError
from model.generate import beam_search, decode_tokens
from model.generation_config import GenerationConfig
from model.loader import load_transformer, resolve_model_path
from model.memory import place_in_huge_pages
from model.model import KVCache, Transformer
from model.native import NativeUnavailableError
from model.quantize import quantize_int8
from model.tokenizer import Tokenizer

log = logging.getLogger(__name__)
CACHE_ROUNDING = 256  # grow the KV cache in steps, not for every request


@dataclass
class GenerationResult:
    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    prompt_tokens: int = 0
    finish_reason: Literal["stop", "length", "cancelled"] = "length"
    ttft_s: float = 0.0  # prompt in -> first token out
    total_s: float = 0.0
    searched: bool = False  # beam search: every token arrives at the end, so the rate is over the whole search

    @property
    def decode_tokens_per_s(self) -> float:
        if self.searched:
            return len(self.token_ids) / self.total_s if self.total_s > 0 else 0.0
        decode_time = self.total_s - self.ttft_s
        return (len(self.token_ids) - 1) / decode_time if len(self.token_ids) > 1 and decode_time > 0 else 0.0


class StopStringFilter:
    """Holds back text that could be the start of a stop string; reports when one is complete."""

    def __init__(self, stop_strings: Sequence[str]) -> None:
        self.stop_strings = [s for s in stop_strings if s]
        self.pending = ""
        self.stopped = False

    def push(self, piece: str) -> str:
        """Add generated text; return what is safe to show now."""
        self.pending += piece
        for stop in self.stop_strings:
            index = self.pending.find(stop)
            if index >= 0:
                self.stopped = True
                safe, self.pending = self.pending[:index], ""
                return safe
        hold = max((self._overlap(stop) for stop in self.stop_strings), default=0)
        safe = self.pending[: len(self.pending) - hold]
        self.pending = self.pending[len(safe) :]
        return safe

    def flush(self) -> str:
        rest, self.pending = self.pending, ""
        return rest

    def _overlap(self, stop: str) -> int:
        """Length of the longest suffix of pending that is a proper prefix of `stop`."""
        for size in range(min(len(stop) - 1, len(self.pending)), 0, -1):
            if self.pending.endswith(stop[:size]):
                return size
        return 0


class GenerationStream:
    """Iterate for text pieces; `result` is complete once iteration ends (or the stream is closed)."""

    def __init__(self, pieces: Iterator[str], result: GenerationResult) -> None:
        self._pieces = pieces
        self.result = result

    def __iter__(self) -> Iterator[str]:
        return self._pieces

    def close(self) -> None:
        """Stop generating (e.g. the user pressed stop); releases the engine."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()

    def text(self) -> str:
        return "".join(self)


def _try_native(model: Transformer) -> bool:
    if model.device.type != "cpu":
        return False
    try:
        model.use_native_decode()
    except NativeUnavailableError as error:
        log.warning("decoding with the PyTorch step: %s", error)
        return False
    return True


class Engine:
    def __init__(self, model: Transformer, tokenizer: Tokenizer, name: str, max_context: int | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        limit = model.args.max_position_embeddings
        self.context_window = min(limit, max_context) if max_context else limit
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        source: str | Path = "bundled",
        *,
        device: str = "auto",
        dtype: str = "auto",
        quantize: str = "none",
        threads: int | None = None,
        max_context: int | None = None,
        compile: bool = False,
        native: bool = True,
    ) -> "Engine":
        """native: decode with the C step on CPU (model.native) where it can serve the model; it
        is faster than the compiled step, so `compile` then only applies where it cannot."""
        if threads:
            torch.set_num_threads(threads)
        path = resolve_model_path(source)
        # A GGUF file's quantised blocks stay as stored unless int8 was asked for (which starts from floats).
        model, _ = load_transformer(path, device, dtype, keep_blocks=quantize == "none")
        if quantize == "int8":
            quantize_int8(model)
            if model.device.type == "cpu":
                place_in_huge_pages(model, skip=(KVCache,))  # +6% int8 decode; fp32 measured no gain
        elif quantize != "none":
            raise GenerationError(f"Unknown quantisation {quantize!r}; use 'none' or 'int8'.")
        tokenizer = Tokenizer.from_gguf(path) if path.is_file() else Tokenizer.from_hf_folder(path)
        name = path.stem if path.is_file() else path.name
        engine = cls(model, tokenizer, name, max_context)
        if native and _try_native(model):
            compile = False
        if compile:
            model.compile_decode()
            engine.generate(engine.raw_prompt_ids("Hello"), GenerationConfig(max_new_tokens=2))  # compile now
        return engine

    def describe(self) -> dict[str, str]:
        """What is actually running (not what was asked for): for the Admin tab and the log."""
        from model.gguf_quant import LAYOUTS, GGUFLinear
        from model.quantize import Int8Linear

        weights = next(self.model.parameters())
        int8 = any(isinstance(m, Int8Linear) for m in self.model.modules())
        block_types = sorted({t for m in self.model.modules() if isinstance(m, GGUFLinear) for t in m.part_types})
        step = "C step (model/csrc)" if self.model.native_decode else "PyTorch"
        if self.model._compiled_forward is not None and not self.model.native_decode:
            step = "PyTorch, torch.compile'd"
        parameters = sum(p.numel() for p in self.model.parameters()) + sum(
            b.numel() for b in self.model.buffers() if b.dtype != torch.uint8
        )
        blocks = {id(rows): rows.shape[0] * m.in_features for m in self.model.modules() if isinstance(m, GGUFLinear)
                  for rows in m.parts()}  # fmt: skip
        parameters += sum(blocks.values())  # values, not bytes; a tied table counts once
        return {
            "model": self.name,
            "parameters": f"{parameters / 1e6:,.0f} M (with buffers)",
            "device": str(weights.device),
            "weights": (
                "GGUF blocks " + ", ".join(LAYOUTS[t].name for t in block_types)
                if block_types
                else "int8 (per-row scales)" if int8 else str(weights.dtype).removeprefix("torch.")
            ),
            "decode step": step,
            "CPU threads": str(torch.get_num_threads()),
            "context window": f"{self.context_window} tokens",
        }

    # -- prompts -----------------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def chat_prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True)

    def raw_prompt_ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_bos=self.tokenizer.add_bos_token)

    # -- generation --------------------------------------------------------------------------------

    def chat(self, messages: Sequence[ChatMessage], cfg: GenerationConfig) -> GenerationStream:
        return self.stream(self.chat_prompt_ids(messages), cfg)

    def stream(self, prompt_ids: Sequence[int], cfg: GenerationConfig) -> GenerationStream:
        cfg = self._fit_to_context(len(prompt_ids), cfg.validate())
        result = GenerationResult(prompt_tokens=len(prompt_ids))
        return GenerationStream(self._pieces(list(prompt_ids), cfg, result), result)

    def generate(self, prompt_ids: Sequence[int], cfg: GenerationConfig) -> GenerationResult:
        stream = self.stream(prompt_ids, cfg)
        for _ in stream:
            pass
        return stream.result

    def _fit_to_context(self, prompt_len: int, cfg: GenerationConfig) -> GenerationConfig:
        room = self.context_window - prompt_len
        if room < 1:
            raise GenerationError(
                f"The prompt has {prompt_len} tokens; the model's context holds {self.context_window}."
            )
        return replace(cfg, max_new_tokens=room) if cfg.max_new_tokens > room else cfg

    def _pieces(self, prompt: list[int], cfg: GenerationConfig, result: GenerationResult) -> Iterator[str]:
        stop_ids = self.tokenizer.stop_ids | frozenset(cfg.stop_token_ids)
        with self._lock:
            start = time.perf_counter()
            needed = len(prompt) + cfg.max_new_tokens
            rounded = min(-(-needed // CACHE_ROUNDING) * CACHE_ROUNDING, self.context_window)
            self.model.setup_caches(max_batch=cfg.num_beams, max_seq=max(rounded, needed))
            if cfg.num_beams > 1:
                result.searched = True
                tokens: Iterator[int] = iter(beam_search(self.model, prompt, cfg, stop_ids))
            else:
                tokens = decode_tokens(self.model, prompt, cfg, stop_ids)
            decoder = self.tokenizer.stream_decoder()
            stops = StopStringFilter(cfg.stop_strings)
            completed = False
            try:
                for token in tokens:
                    if not result.token_ids:
                        result.ttft_s = time.perf_counter() - start
                    result.token_ids.append(token)
                    if token in stop_ids:
                        result.finish_reason = "stop"
                        break
                    piece = stops.push(decoder.feed(token))
                    if piece:
                        result.text += piece
                        yield piece
                    if stops.stopped:
                        result.finish_reason = "stop"
                        break
                if not stops.stopped:
                    tail = stops.push(decoder.flush()) + ("" if stops.stopped else stops.flush())
                    if stops.stopped:
                        result.finish_reason = "stop"
                    if tail:
                        result.text += tail
                        yield tail
                completed = True
            finally:
                if not completed:  # closed early by the consumer (stop button, client gone)
                    result.finish_reason = "cancelled"
                result.total_s = time.perf_counter() - start
