"""How one decode step is computed: the engine's choice, not the model's.

The Transformer is a plain module (forward over a prompt or one token, forward_rows for rows at
their own positions). A DecodeStep turns that into the step generation calls for every new token:
PyTorch eager, torch.compile'd, or our C step on CPU (model.native). The engine picks one at load
time and hands it to greedy/sampled decoding, beam search and the batching scheduler, so the
model never imports the C step and the C step never reaches into the model's methods.
"""

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import torch

from model.cuda_graph import CapturedStep, binding_key, place_rows
from model.model import Transformer
from model.native import MAX_BATCH, NativeDecoder, NativeUnavailableError, batch_kernel, kquant_kernel

if TYPE_CHECKING:
    from torch.cuda import _POOL_HANDLE

log = logging.getLogger(__name__)


class DecodeStep(Protocol):
    name: str  # what the Admin tab shows as the decode step in use

    def prepare(self, model: Transformer) -> None:
        """Before a request's prefill: bind to the weights and caches the model holds now."""

    def step(self, model: Transformer, tokens: torch.Tensor, pos: int) -> torch.Tensor:
        """tokens [B, 1] at position pos, row b in cache row b -> logits [B, V]."""

    def step_rows(
        self,
        model: Transformer,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        slots: torch.Tensor,
        logits_for: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """tokens [B], row b at positions[b] in cache row slots[b] -> logits [B, V], or only the rows
        logits_for lists ([len(logits_for), V])."""

    def takes_prompt_rows(self) -> bool:
        """Whether step_rows may take a prompt's tokens as rows of one slot (distinct positions)
        beside other requests' rows: then the batching scheduler prefills through decode steps."""

    def caches_reordered(self, model: Transformer) -> None:
        """Beam search replaced the cache tensors (model.reorder_cache)."""


class TorchStep:
    """The model's own forward, eager."""

    name = "PyTorch"

    def prepare(self, model: Transformer) -> None:
        pass

    def step(self, model: Transformer, tokens: torch.Tensor, pos: int) -> torch.Tensor:
        return model(tokens, pos, last_only=True)[:, -1]

    def step_rows(
        self,
        model: Transformer,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        slots: torch.Tensor,
        logits_for: torch.Tensor | None = None,
    ) -> torch.Tensor:
        logits = model.forward_rows(tokens, positions, slots)
        return logits if logits_for is None else logits[logits_for.to(logits.device).long()]

    def takes_prompt_rows(self) -> bool:
        return False  # forward (one matrix product over the chunk) prefills faster than rows here

    def caches_reordered(self, model: Transformer) -> None:
        pass


class CompiledStep(TorchStep):
    """The one-token forward through torch.compile (Inductor): one graph for every position and
    batch size (dynamic shapes), so Python and kernel-launch overhead per layer disappears and norms,
    rotary and residual adds fuse into the matmuls' neighbours. The first step compiles.

    Every intermediate is stored rather than recomputed inside its consumer (realize thresholds 1):
    a decode step's activations are a few KB, but left to itself Inductor inlines RMSNorm into the
    int8 matrix-vector loop, redoing it for each of the N output rows (4 float loads per 16 weight
    bytes instead of 1), which made the int8 step compute-bound: 57 -> 64 tok/s, fp32 38.5 -> 40.
    Rows at different positions (batching) stay eager: their attention lengths differ row to row."""

    name = "PyTorch, torch.compile'd"

    def __init__(self, model: Transformer) -> None:
        self._forward: Callable[..., torch.Tensor] = torch.compile(
            model.forward,
            dynamic=True,
            options={"realize_cpu_opcount_threshold": 1, "realize_reads_threshold": 1},
        )

    def step(self, model: Transformer, tokens: torch.Tensor, pos: int) -> torch.Tensor:
        return self._forward(tokens, pos, last_only=True)[:, -1]


class NativeStep:
    """Our C step (model.native) on CPU, bound afresh whenever the model's weights or caches are
    replaced (quantisation, huge-page placement, setup_caches, beam reordering). Raises
    NativeUnavailableError at construction where it cannot serve the model (no C compiler, not
    fp32 on CPU); a later change it cannot serve switches it to the PyTorch step with a warning."""

    name = "C step (model/csrc)"

    def __init__(self, model: Transformer) -> None:
        NativeDecoder.check(model)
        kernel, kquants = batch_kernel(model), kquant_kernel(model)
        self.name = NativeStep.name + (f"; batched GGUF rows on {kernel}" if kernel else "")
        self.name += f"; k-quants on {kquants}" if kquants else ""
        self.decoder: NativeDecoder | None = None
        self.enabled = True
        self._torch = TorchStep()

    def prepare(self, model: Transformer) -> None:
        if not self.enabled or (self.decoder is not None and self.decoder.is_current()):
            return
        try:
            self.decoder = NativeDecoder(model)
        except NativeUnavailableError as error:  # e.g. a layer swapped for one it cannot run
            log.warning("native decode step off: %s", error)
            self.enabled, self.decoder = False, None
            self.name = TorchStep.name

    def step(self, model: Transformer, tokens: torch.Tensor, pos: int) -> torch.Tensor:
        decoder = self.decoder
        if decoder is not None and decoder.supports(tokens.shape[0]):
            return decoder.step(tokens, pos)
        return self._torch.step(model, tokens, pos)

    def step_rows(
        self,
        model: Transformer,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        slots: torch.Tensor,
        logits_for: torch.Tensor | None = None,
    ) -> torch.Tensor:
        decoder = self.decoder
        if decoder is not None and tokens.numel() <= MAX_BATCH:
            return decoder.step_rows(tokens, positions, slots, logits_for=logits_for)
        return self._torch.step_rows(model, tokens, positions, slots, logits_for)

    def takes_prompt_rows(self) -> bool:
        return self.decoder is not None

    def caches_reordered(self, model: Transformer) -> None:
        if self.decoder is not None:
            self.decoder.rebind_caches()


def key_lengths(max_seq: int, shortest: int = 256) -> list[int]:
    """How many cache positions a static step may read: doubling from `shortest`, up to all but the
    cache's last. A step reads the shortest that holds every row's position, so a 300-token answer
    in a 4k cache reads 512 positions, not 4,096 (for 16 rows of a 7B model, 4 GB a step instead
    of 34). Never the whole cache: Inductor specialises a slice as long as its tensor, which would
    cost a second compile (of a minute on a GPU); the one step at the last position runs eager."""
    lengths = []
    length = shortest
    while length < max_seq - 1:
        lengths.append(length)
        length *= 2
    return [*lengths, max_seq - 1]


class StaticStep(TorchStep):
    """Static shapes, for CUDA graphs: every step computes all rows of the cache at positions given
    as a tensor (Transformer.forward_static) and reads the cache's first L positions, L one of a
    few lengths (key_lengths), so one graph per cache size and length serves every step. On CUDA
    the forward is torch.compile'd once (Inductor, kernels tuned by coordinate descent as gpt-fast
    does; L a symbolic size, so a new length needs no new compile) and captured as CUDA graphs
    (model.cuda_graph), replayed with no Python, guard or kernel-launch cost per layer; elsewhere
    it runs eager (tests check its maths on CPU).

    Batched rows (step_rows) fill the cache's other rows with a dummy token at the last position: a
    row's own later write there comes before any read of it (reads stop at the row's position), so
    the dummy never reaches a request. Dynamic-NTK rope (frequencies depend on the length) and
    steps over part of the cache take the eager path."""

    name = "PyTorch, static shapes (CUDA graphs)"

    def __init__(self, model: Transformer, compile: bool | None = None) -> None:
        compile = model.device.type == "cuda" if compile is None else compile
        forward = model.forward_static
        if compile:
            # Inductor turns one-row matmuls into reductions it tunes (decoding is memory-bound).
            options: dict[str, str | int | bool | Callable[..., Any]] = {
                "coordinate_descent_tuning": model.device.type == "cuda"
            }
            forward = torch.compile(forward, fullgraph=True, dynamic=False, options=options)
        self._forward: Callable[..., torch.Tensor] = forward
        self._compiled = compile
        self._graphs = compile and model.device.type == "cuda"
        self._captured: dict[tuple[int, int], CapturedStep] = {}  # by cache rows and length read
        self._key: tuple[int, ...] = ()
        self._pool: _POOL_HANDLE | None = None
        self._tables: tuple[torch.Tensor, torch.Tensor] | None = None
        self._key_positions: dict[int, torch.Tensor] = {}  # arange(L) for each length L read

    def _serves(self, model: Transformer, rows: int) -> bool:
        rope = model.rope
        return rope is not None and rope.args.rope_scaling.kind != "dynamic" and rows <= model.max_batch

    def prepare(self, model: Transformer) -> None:
        """New caches are zeroed once (a masked position must hold a finite value: 0 x NaN is NaN)
        and the rotary table is built for their length; graphs of other weights or caches go."""
        caches = [block.attention.kv_cache for block in model.blocks()]
        if model.rope is None or any(cache is None for cache in caches):
            return
        for cache in caches:
            if cache is not None and not cache.zeroed:
                cache.k.zero_(), cache.v.zero_()
                cache.zeroed = True
        if self._tables is None or self._tables[0].shape[0] != model.max_seq:
            self._tables = model.rope.cos_sin(0, model.max_seq, model.dtype)
            self._key_positions = {}
            for length in key_lengths(model.max_seq):
                key_positions = torch.arange(length, device=model.device)
                if self._compiled:
                    torch._dynamo.mark_dynamic(key_positions, 0)  # one compiled graph for every length
                self._key_positions[length] = key_positions
        if self._graphs:
            key = binding_key(model)
            if key != self._key:
                # A fresh pool too: capturing into one whose graphs are all gone trips the
                # allocator's assert (use_count > 0, seen on torch 2.11).
                self._captured, self._key, self._pool = {}, key, None

    def step(self, model: Transformer, tokens: torch.Tensor, pos: int) -> torch.Tensor:
        rows = tokens.shape[0]
        positions = torch.full((rows,), pos, dtype=torch.long)
        return self.step_rows(model, tokens.reshape(-1), positions, torch.arange(rows))

    def _graph(self, model: Transformer, inputs: tuple[torch.Tensor, ...]) -> CapturedStep | None:
        """The captured step for the model's cache size and this length; captured on first use.
        None where capture fails (then the compiled forward runs uncaptured, with a warning once)."""
        shape = (model.max_batch, inputs[-1].shape[0])
        captured = self._captured.get(shape)
        if captured is None and self._graphs:
            try:
                if self._pool is None:
                    self._pool = torch.cuda.graph_pool_handle()
                captured = CapturedStep.capture(
                    self._forward, self._key, model.max_batch, model.max_seq - 1, inputs, self._pool
                )
                self._captured[shape] = captured
            except Exception as error:  # a kernel it cannot capture: slower, still right
                log.warning("CUDA graph capture failed, decoding without graphs: %s", error)
                self._graphs = False
                self.name = "PyTorch, static shapes, torch.compile'd (no CUDA graph)"
        return captured

    def step_rows(
        self,
        model: Transformer,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        slots: torch.Tensor,
        logits_for: torch.Tensor | None = None,
    ) -> torch.Tensor:
        tables = self._tables
        if not self._serves(model, tokens.numel()) or tables is None:
            return super().step_rows(model, tokens, positions, slots, logits_for)
        needed = int(positions.max()) + 1  # the batching scheduler's positions are on the CPU
        length = next((length for length in self._key_positions if length >= needed), None)
        if length is None:  # the cache's last position (key_lengths)
            return super().step_rows(model, tokens, positions, slots, logits_for)
        inputs = (*tables, self._key_positions[length])
        device = model.device
        slots = slots.to(device=device, dtype=torch.long)
        tokens, positions = tokens.reshape(-1).to(device), positions.to(device=device, dtype=torch.long)
        captured = self._graph(model, inputs)
        if captured is not None:
            logits = captured.run(tokens, positions, slots, model.max_seq - 1)
        else:
            every_token = torch.empty((model.max_batch, 1), dtype=torch.long, device=device)
            every_position = torch.empty((model.max_batch,), dtype=torch.long, device=device)
            place_rows(every_token, every_position, tokens, positions, slots, model.max_seq - 1)
            logits = self._forward(every_token, every_position, *inputs)[slots]
        return logits if logits_for is None else logits[logits_for.to(device).long()]
