"""Continuous batching: many requests decoded together, each joining at the next step and leaving
when it is done.

Why: a decode step reads every weight once whatever the number of rows it computes, so on CPU and
GPU alike one step for 16 requests costs little more than a step for one. One scheduler thread
owns the model: each request gets its own row (slot) of the KV cache, its prompt is prefilled in
chunks between the others' decode steps (a long prompt does not stall everyone; on the C step the
chunk's tokens are rows of those decode steps themselves), and then all decoding requests take one
step together (`DecodeStep.step_rows`: each row at its own position). Each request keeps its own
sampling settings, seed and stop tokens; its tokens reach its caller through a queue. A cancelled
request (closed tab, dropped stream) leaves at the next step and its slot is free at once. Past
`max_waiting` queued requests, `submit` refuses with EngineBusyError (the API's 503 with
Retry-After) instead of letting the line grow.

A request's rows are computed the same whatever else is in the batch (the C step's tiles, its bf16
kernels included, sum each row the same way; prefill chunks fall at the same places, and on the C
step a prompt row's arithmetic does not depend on its chunk), so greedy tokens are identical
batched or alone. Beam search stays outside the batch: `exclusive()` drains the batch and lends the model.
"""

import atexit
import logging
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from model.decode_step import DecodeStep, TorchStep
from model.errors import GenerationError
from model.generate import make_generator
from model.generation_config import GenerationConfig
from model.model import Transformer
from model.native import MAX_BATCH
from model.sampling import select_next_token

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchSettings:
    slots: int = 16  # requests decoded together (rows of the KV cache)
    max_waiting: int = 64  # requests queued for a slot before the next one is told 'busy'
    prefill_chunk: int = 256  # prompt tokens prefilled per scheduler turn


def kv_bytes_per_token(model: Transformer) -> int:
    """Keys and values of one token in every layer."""
    args = model.args
    return 2 * args.n_layers * args.n_kv_heads * args.head_dim * model.dtype.itemsize


def slots_that_fit(wanted: int, bytes_per_slot: int, free_bytes: int, share: float = 0.9) -> int:
    """How many full-length cache rows fit in `share` of the free memory (at least one). A GPU
    allocates the whole cache up front (a CPU touches pages only as they are written)."""
    return max(1, min(wanted, int(free_bytes * share) // max(1, bytes_per_slot)))


class EngineBusyError(GenerationError):
    """Every slot is taken and the line is full; try again after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


_END = None  # put on a request's queue after its last token


@dataclass(eq=False)
class BatchRequest:
    """One generation in the batch. Iterate for its token ids (the stop token included)."""

    prompt: list[int]
    cfg: GenerationConfig
    stop_ids: frozenset[int]
    tokens: "queue.SimpleQueue[int | BaseException | None]" = field(default_factory=queue.SimpleQueue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    slot: int = -1
    prefilled: int = 0  # prompt tokens in the cache so far
    produced: int = 0
    length: int = 0  # tokens in history (prompt + produced)
    history: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.long))
    generator: torch.Generator | None = None
    submitted: float = field(default_factory=time.perf_counter)

    def __iter__(self) -> Iterator[int]:
        while True:
            item = self.tokens.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def cancel(self) -> None:
        """Leave the batch at the next step (the caller is gone); the slot is freed then."""
        self.cancelled.set()

    @property
    def decoding(self) -> bool:
        return self.prefilled == len(self.prompt)


class BatchScheduler:
    """Owns one model: admits requests into free slots and steps them together on its own thread
    (started by the first request, not at construction)."""

    def __init__(
        self, model: Transformer, max_seq: int, settings: BatchSettings, step: DecodeStep | None = None
    ) -> None:
        if settings.slots < 1 or settings.max_waiting < 0 or settings.prefill_chunk < 1:
            raise GenerationError("Batching needs at least one slot and a positive prefill chunk.")
        self.model, self.max_seq, self.settings = model, max_seq, settings
        self.step = step or TorchStep()
        self._cond = threading.Condition()
        self._waiting: deque[BatchRequest] = deque()
        self._active: list[BatchRequest] = []
        self._free = list(range(settings.slots))
        self._exclusive_wanted = 0
        self._model_touched = True  # the step (re)binds before the first turn and after exclusive()
        self._model_lock = threading.Lock()  # held for each step, and by exclusive() users
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._seconds_per_request = 10.0  # running estimate for Retry-After

    # -- callers ------------------------------------------------------------------------------------

    def submit(self, prompt: list[int], cfg: GenerationConfig, stop_ids: frozenset[int]) -> BatchRequest:
        if len(prompt) + cfg.max_new_tokens > self.max_seq:
            raise GenerationError(f"{len(prompt)} prompt + {cfg.max_new_tokens} new tokens exceed {self.max_seq}.")
        request = BatchRequest(list(prompt), cfg, stop_ids)
        with self._cond:
            if len(self._waiting) >= self.settings.max_waiting and not self._free:
                waits = len(self._waiting) / max(1, self.settings.slots)
                retry = max(1, round(waits * self._seconds_per_request))
                raise EngineBusyError(
                    f"The model is busy: {len(self._active)} answers are being written and "
                    f"{len(self._waiting)} wait; please try again in about {retry} s.",
                    retry,
                )
            self._waiting.append(request)
            if self._thread is None or not self._thread.is_alive():
                if self._thread is None:
                    atexit.register(_stop_at_exit, weakref.ref(self))
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="kb-batch", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return request

    @property
    def running(self) -> bool:
        """Whether the scheduler thread is alive (it starts with the first request)."""
        return self._thread is not None and self._thread.is_alive()

    def load(self) -> tuple[int, int]:
        """(requests decoding or prefilling, requests waiting for a slot)."""
        with self._cond:
            return len(self._active), len(self._waiting)

    @contextmanager
    def exclusive(self) -> Iterator[Transformer]:
        """The model alone (beam search): new requests wait, running ones finish first."""
        with self._cond:
            self._exclusive_wanted += 1
            self._cond.wait_for(lambda: not self._active)
        try:
            with self._model_lock:
                yield self.model
        finally:
            with self._cond:
                self._exclusive_wanted -= 1
                self._model_touched = True  # beam search may have replaced caches or weights
                self._cond.notify_all()

    def stop(self, timeout_s: float = 30.0) -> None:
        """End the scheduler thread after the step it is in. Run at exit: a daemon thread still in a
        torch op (the GIL released) when the interpreter finalises aborts the process on its way back
        ("terminate called without an active exception", pytorch#38228), after a finished answer."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    # -- the scheduler thread -----------------------------------------------------------------------

    def _run(self) -> None:
        with torch.inference_mode():
            while not self._stopping:
                with self._cond:
                    self._retire_cancelled()
                    self._admit()
                    if not self._active:
                        self._cond.notify_all()  # an exclusive() caller may be waiting for this
                        if not self._stopping:
                            self._cond.wait(timeout=1.0)
                        continue
                    batch = list(self._active)
                with self._model_lock:
                    try:
                        self._step(batch)
                    except Exception as error:  # one bad step fails its requests, not the server
                        log.exception("batch step failed")
                        for request in batch:
                            self._finish(request, error)
                    del batch  # an idle scheduler holds no finished request

    def _admit(self) -> None:
        while self._waiting and self._free and not self._exclusive_wanted:
            request = self._waiting.popleft()
            request.slot = self._free.pop(0)
            self._active.append(request)

    def _retire_cancelled(self) -> None:
        """Cancelled requests leave now, running or waiting; their slots are free for the next."""
        for request in [r for r in self._active if r.cancelled.is_set()]:
            self._release(request)
            request.tokens.put(_END)
        for request in [r for r in self._waiting if r.cancelled.is_set()]:
            self._waiting.remove(request)
            request.tokens.put(_END)

    def _release(self, request: BatchRequest) -> None:
        if request in self._active:
            self._active.remove(request)
            self._free.append(request.slot)
            self._free.sort()
            took = time.perf_counter() - request.submitted
            self._seconds_per_request = 0.8 * self._seconds_per_request + 0.2 * took

    def _finish(self, request: BatchRequest, error: BaseException | None = None) -> None:
        with self._cond:
            self._release(request)
        request.tokens.put(error if error is not None else _END)

    def _ensure_caches(self) -> None:
        model = self.model
        if model.max_batch != self.settings.slots or model.max_seq < self.max_seq or model.rope is None:
            model.setup_caches(max_batch=self.settings.slots, max_seq=self.max_seq)
            self._model_touched = True
        # (Re)binds the C step if the caches or weights changed. Only when they may have: the check
        # walks every module (~4 ms a step on the bundled model, a third of a one-row step).
        if self._model_touched:
            self._model_touched = False
            self.step.prepare(model)

    def _step(self, batch: list[BatchRequest]) -> None:
        """One turn: a prefill chunk for the oldest request still prefilling, then one decode step
        for every request that has its next token to feed. Where the step takes prompt rows (the C
        step), the prompt tokens ride in the decode step itself instead."""
        self._ensure_caches()
        decoding = [r for r in batch if r.decoding and r.produced > 0]
        if self.step.takes_prompt_rows() and len(decoding) < MAX_BATCH:
            self._step_with_prompt_rows(decoding, [r for r in batch if not r.decoding])
            return
        prefilling = next((r for r in batch if not r.decoding), None)
        if prefilling is not None:
            self._prefill_chunk(prefilling)
        if decoding:
            tokens = torch.tensor([int(r.history[0, r.length - 1]) for r in decoding])
            positions = torch.tensor([r.length - 1 for r in decoding])
            slots = torch.tensor([r.slot for r in decoding])
            logits = self.step.step_rows(self.model, tokens, positions, slots)
            for i, request in enumerate(decoding):
                self._choose(request, logits[i : i + 1])

    def _step_with_prompt_rows(self, decoding: list[BatchRequest], prefilling: list[BatchRequest]) -> None:
        """One step over the decoding requests' next tokens plus up to a chunk of prompt tokens,
        oldest prompt first, each prompt token a row at its own position in its request's slot.
        Short prompts cost a few rows of a step the others take anyway, where a prefill of their
        own (forward over dequantised weights) held every stream up; a row's arithmetic does not
        depend on its neighbours, so tokens stay the same batched or alone."""
        tokens = [int(r.history[0, r.length - 1]) for r in decoding]
        positions = [r.length - 1 for r in decoding]
        slots = [r.slot for r in decoding]
        wanted = list(range(len(decoding)))
        completed: list[BatchRequest] = []  # prompts whose last token is in this step
        budget = min(self.settings.prefill_chunk, MAX_BATCH - len(decoding))
        for request in prefilling:
            if budget <= 0:
                break
            self._begin(request)
            end = min(request.prefilled + budget, len(request.prompt))
            tokens += request.prompt[request.prefilled : end]
            positions += range(request.prefilled, end)
            slots += [request.slot] * (end - request.prefilled)
            budget -= end - request.prefilled
            request.prefilled = end
            if request.decoding:
                wanted.append(len(tokens) - 1)
                completed.append(request)
        if not tokens:
            return
        logits = self.step.step_rows(
            self.model, torch.tensor(tokens), torch.tensor(positions), torch.tensor(slots), torch.tensor(wanted)
        )
        for i, request in enumerate(decoding + completed):
            self._choose(request, logits[i : i + 1])

    def _begin(self, request: BatchRequest) -> None:
        """Before a request's first prompt token: its history and its own random generator."""
        if request.prefilled == 0 and request.length == 0:
            total = len(request.prompt) + request.cfg.max_new_tokens
            request.history = torch.empty((1, total), dtype=torch.long)
            request.history[0, : len(request.prompt)] = torch.tensor(request.prompt, dtype=torch.long)
            request.length = len(request.prompt)
            request.generator = make_generator(request.cfg.seed, self.model.device)

    def _prefill_chunk(self, request: BatchRequest) -> None:
        self._begin(request)
        start = request.prefilled
        end = min(start + self.settings.prefill_chunk, len(request.prompt))
        chunk = request.history[:, start:end].to(self.model.device)
        logits = self.model(chunk, start, last_only=True, cache_row=request.slot)[:, -1]
        request.prefilled += chunk.shape[1]
        if request.decoding:
            self._choose(request, logits)

    def _choose(self, request: BatchRequest, logits: torch.Tensor) -> None:
        """Pick the request's next token from its logits [1, V], hand it over, finish if done."""
        if request.cancelled.is_set():
            self._finish(request)
            return
        history = request.history[:, : request.length].to(logits.device)
        token = int(select_next_token(logits, history, request.cfg, request.generator)[0])
        request.history[0, request.length] = token
        request.length += 1
        request.produced += 1
        request.tokens.put(token)
        if token in request.stop_ids or request.produced >= request.cfg.max_new_tokens:
            self._finish(request)


def _stop_at_exit(scheduler: "weakref.ref[BatchScheduler]") -> None:
    alive = scheduler()
    if alive is not None:
        alive.stop()
