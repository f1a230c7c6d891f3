"""The serving engine: one loaded model + tokenizer, text in, streamed text out.

With batching (the default) requests are decoded together by model.batching's scheduler, each
joining the running batch at the next step; beam search borrows the model alone. Without it,
requests are served one at a time (a lock around the model and its KV cache), the cache allocated
once and grown only when a request needs more room.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import torch

from model.batching import BatchScheduler, BatchSettings, kv_bytes_per_token, slots_that_fit
from model.chat_template import ChatMessage
from model.decode_step import CompiledStep, DecodeStep, NativeStep, StaticStep, TorchStep
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
DEFAULT_BATCHING = BatchSettings()


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

    def __init__(
        self,
        pieces: Iterator[str],
        result: GenerationResult,
        on_close: Callable[[], None] | None = None,
        queued: Callable[[], int] | None = None,
    ) -> None:
        self._pieces = pieces
        self.result = result
        self._on_close = on_close
        self._queued = queued

    def __iter__(self) -> Iterator[str]:
        return self._pieces

    def available(self) -> list[str]:
        """The next piece (waiting for it), then every piece whose token is already generated:
        a server sends them in one write instead of one thread hop per token. [] at the end."""
        pieces = []
        for piece in self._pieces:
            pieces.append(piece)
            if self._queued is None or self._queued() == 0:
                break
        return pieces

    def close(self) -> None:
        """Stop generating (e.g. the user pressed stop); releases the engine (or the batch slot)."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
        if self._on_close is not None:
            self._on_close()

    def text(self) -> str:
        return "".join(self)


def choose_step(model: Transformer, native: bool, compile: bool) -> DecodeStep:
    """The C step on CPU where it can serve the model (it is faster than the compiled step), else
    when compiling is asked for: static shapes captured as CUDA graphs on a GPU, the dynamic-shape
    compiled step on CPU; else eager PyTorch."""
    if native and model.device.type == "cpu":
        try:
            return NativeStep(model)
        except NativeUnavailableError as error:
            log.warning("decoding with the PyTorch step: %s", error)
    if compile:
        return StaticStep(model) if model.device.type == "cuda" else CompiledStep(model)
    return TorchStep()


class Engine:
    def __init__(
        self,
        model: Transformer,
        tokenizer: Tokenizer,
        name: str,
        max_context: int | None = None,
        batching: BatchSettings | None = None,
        step: DecodeStep | None = None,
    ):
        self.model = model
        self.step = step or TorchStep()
        self.tokenizer = tokenizer
        self.name = name
        limit = model.args.max_position_embeddings
        self.context_window = min(limit, max_context) if max_context else limit
        self._lock = threading.Lock()
        self.scheduler = BatchScheduler(model, self.context_window, batching, self.step) if batching else None

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
        batching: BatchSettings | None = DEFAULT_BATCHING,
    ) -> "Engine":
        """native: decode with the C step on CPU (model.native) where it can serve the model; it
        is faster than the compiled step, so `compile` then only applies where it cannot.
        batching: decode concurrent requests together (None: one at a time)."""
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
        step = choose_step(model, native, compile)
        if batching is not None and model.device.type == "cuda":
            window = min(model.args.max_position_embeddings, max_context or model.args.max_position_embeddings)
            per_slot = kv_bytes_per_token(model) * window
            fitting = slots_that_fit(batching.slots, per_slot, torch.cuda.mem_get_info(model.device)[0])
            if fitting < batching.slots:
                log.warning("KV cache: %d of %d batch slots fit in GPU memory at %d tokens each; lower "
                            "KB_MAX_CONTEXT for more", fitting, batching.slots, window)  # fmt: skip
                batching = replace(batching, slots=fitting)
        engine = cls(model, tokenizer, name, max_context, batching, step)
        if isinstance(step, (CompiledStep, StaticStep)):
            engine.generate(engine.raw_prompt_ids("Hello"), GenerationConfig(max_new_tokens=2))  # compile now
        return engine

    def describe(self) -> dict[str, str]:
        """What is actually running (not what was asked for): for the Admin tab and the log."""
        from model.gguf_quant import LAYOUTS, GGUFLinear
        from model.quantize import Int8Linear

        weights = next(self.model.parameters())
        int8 = any(isinstance(m, Int8Linear) for m in self.model.modules())
        scheduler = self.scheduler
        batching = f"up to {scheduler.settings.slots} requests at once" if scheduler else "one request at a time"
        block_types = sorted({t for m in self.model.modules() if isinstance(m, GGUFLinear) for t in m.part_types})
        caches = {id(b) for m in self.model.modules() if isinstance(m, KVCache) for b in m.buffers()}
        parameters = sum(p.numel() for p in self.model.parameters()) + sum(
            b.numel() for b in self.model.buffers() if b.dtype != torch.uint8 and id(b) not in caches
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
            "decode step": self.step.name,
            "CPU threads": str(torch.get_num_threads()),
            "context window": f"{self.context_window} tokens",
            "batching": batching,
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
        """Start generating; raises EngineBusyError at once (not on the first piece) when the
        batch and its line are full."""
        cfg = self._fit_to_context(len(prompt_ids), cfg.validate())
        result = GenerationResult(prompt_tokens=len(prompt_ids))
        stop_ids = (frozenset() if cfg.ignore_eos else self.tokenizer.stop_ids) | frozenset(cfg.stop_token_ids)
        if self.scheduler is not None and cfg.num_beams == 1:
            start = time.perf_counter()
            request = self.scheduler.submit(list(prompt_ids), cfg, stop_ids)
            pieces = self._text(iter(request), cfg, stop_ids, result, start, request.cancel)
            return GenerationStream(pieces, result, on_close=request.cancel, queued=request.tokens.qsize)
        return GenerationStream(self._pieces(list(prompt_ids), cfg, stop_ids, result), result)

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

    def _model_alone(self) -> AbstractContextManager[object]:
        return self.scheduler.exclusive() if self.scheduler is not None else self._lock

    def _pieces(
        self, prompt: list[int], cfg: GenerationConfig, stop_ids: frozenset[int], result: GenerationResult
    ) -> Iterator[str]:
        """One request with the model to itself: beam search, or every request without batching."""
        with self._model_alone():
            start = time.perf_counter()
            needed = len(prompt) + cfg.max_new_tokens
            rounded = min(-(-needed // CACHE_ROUNDING) * CACHE_ROUNDING, self.context_window)
            self.model.setup_caches(max_batch=cfg.num_beams, max_seq=max(rounded, needed))
            if cfg.num_beams > 1:
                result.searched = True
                tokens: Iterator[int] = iter(beam_search(self.model, prompt, cfg, stop_ids, self.step))
            else:
                tokens = decode_tokens(self.model, prompt, cfg, stop_ids, self.step)
            yield from self._text(tokens, cfg, stop_ids, result, start)

    def _text(
        self,
        tokens: Iterator[int],
        cfg: GenerationConfig,
        stop_ids: frozenset[int],
        result: GenerationResult,
        start: float,
        on_exit: Callable[[], None] | None = None,
    ) -> Iterator[str]:
        """Token ids -> text pieces, held back at a possible stop string; fills `result`."""
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
            if on_exit is not None:
                on_exit()  # a batched request stopped by a stop string leaves its slot now
