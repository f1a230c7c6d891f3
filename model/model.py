"""The Llama decoder: RMSNorm, SwiGLU feed-forward, grouped-query attention with a static KV cache.

Written after gpt-fast's model.py: the whole model in one file, shapes next to the code.
B batch, T new tokens, S cached positions, H query heads, K key/value heads, D head dim, C model dim.
"""

import logging
from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from model.args import ModelArgs
from model.native import NativeDecoder, NativeUnavailableError
from model.rope import RotaryEmbedding, apply_rotary

log = logging.getLogger(__name__)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in float32 whatever the weights' dtype, as the reference does.
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


class KVCache(nn.Module):
    """Preallocated keys and values [B, K, S_max, D], written at the positions being computed."""

    def __init__(
        self,
        batch: int,
        max_seq: int,
        n_kv_heads: int,
        head_dim: int,
        dtype: torch.dtype,
        device: torch.device,
    ) -> None:
        super().__init__()
        shape = (batch, n_kv_heads, max_seq, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.k: torch.Tensor
        self.v: torch.Tensor

    def update(self, start_pos: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write k, v [B, K, T, D] at start_pos; return views of everything so far [B, K, start_pos+T, D].

        B may be below the cache's batch (a beam-search prompt is prefilled once): rows 0..B-1 are used.
        """
        batch, end = k.shape[0], start_pos + k.shape[2]
        self.k[:batch, :, start_pos:end] = k
        self.v[:batch, :, start_pos:end] = v
        return self.k[:batch, :, :end], self.v[:batch, :, :end]

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep batch rows `rows` (beam search: each beam continues from its parent's cache)."""
        self.k = self.k.index_select(0, rows)
        self.v = self.v.index_select(0, rows)


class Attention(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = args.n_heads, args.n_kv_heads, args.head_dim
        q_size, kv_size = args.n_heads * args.head_dim, args.n_kv_heads * args.head_dim
        # One matmul for q, k and v: fewer, larger kernels per token.
        self.wqkv = nn.Linear(args.dim, q_size + 2 * kv_size, bias=args.attention_bias)
        self.wo = nn.Linear(q_size, args.dim, bias=False)
        self.split_sizes = (q_size, kv_size, kv_size)
        self.kv_cache: KVCache | None = None

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, start_pos: int, mask: torch.Tensor | None
    ) -> torch.Tensor:
        B, T, _ = x.shape
        q, k, v = self.wqkv(x).split(self.split_sizes, dim=-1)
        q = q.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # [B, H, T, D]
        k = k.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # [B, K, T, D]
        v = v.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # [B, K, T, D]
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if self.kv_cache is not None:
            k, v = self.kv_cache.update(start_pos, k, v)  # [B, K, S, D], S = start_pos + T
        # Causal only when the queries are the whole sequence; otherwise the explicit mask (or none for T=1).
        causal = mask is None and T > 1
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal, enable_gqa=self.n_kv_heads != self.n_heads
        )  # [B, H, T, D]
        return self.wo(y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim))


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(x W_gate) * x W_up), gate and up fused into one matmul."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.hidden = args.intermediate_size
        self.w13 = nn.Linear(args.dim, 2 * args.intermediate_size, bias=False)
        self.w2 = nn.Linear(args.intermediate_size, args.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w13(x).split(self.hidden, dim=-1)  # [B, T, F] each
        return self.w2(F.silu(gate) * up)


class TransformerBlock(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.attention = Attention(args)
        self.feed_forward = FeedForward(args)
        self.attention_norm = RMSNorm(args.dim, args.norm_eps)
        self.ffn_norm = RMSNorm(args.dim, args.norm_eps)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, start_pos: int, mask: torch.Tensor | None
    ) -> torch.Tensor:
        h = x + self.attention(self.attention_norm(x), cos, sin, start_pos, mask)
        return h + self.feed_forward(self.ffn_norm(h))


class Transformer(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.args = args
        self.tok_embeddings = nn.Embedding(args.vocab_size, args.dim)
        self.layers = nn.ModuleList(TransformerBlock(args) for _ in range(args.n_layers))
        self.norm = RMSNorm(args.dim, args.norm_eps)
        self.output = nn.Linear(args.dim, args.vocab_size, bias=False)
        if args.tie_word_embeddings:
            self.output.weight = self.tok_embeddings.weight
        self.rope: RotaryEmbedding | None = None
        self.max_batch = 0
        self.max_seq = 0
        self._compiled_forward: Callable[..., torch.Tensor] | None = None
        self.native_decode = False  # use the C decode step (model.native) where it can serve
        self._native: NativeDecoder | None = None

    @property
    def device(self) -> torch.device:
        return self.norm.weight.device  # the embedding may be GGUF blocks (model.gguf_quant), without .weight

    @property
    def dtype(self) -> torch.dtype:
        return self.norm.weight.dtype

    def setup_caches(self, max_batch: int, max_seq: int) -> None:
        """Allocate the static KV cache once; reused across requests of at most this size."""
        if self.max_batch == max_batch and self.max_seq >= max_seq and self.rope is not None:
            return
        self.max_batch, self.max_seq = max_batch, max_seq
        self._native = None  # bound to the old cache; begin_decode() binds the new one
        for layer in self.blocks():
            layer.attention.kv_cache = KVCache(
                max_batch, max_seq, self.args.n_kv_heads, self.args.head_dim, self.dtype, self.device
            )
        self.rope = RotaryEmbedding(self.args, self.device)

    def blocks(self) -> list[TransformerBlock]:
        return cast(list[TransformerBlock], list(self.layers))

    def compile_decode(self) -> None:
        """Compile the one-token decode step (torch.compile, Inductor). One graph for every position
        and batch size (dynamic shapes): Python and kernel-launch overhead per layer disappears and
        norms, rotary and residual adds fuse into the matmuls' neighbours. The first step compiles.

        Every intermediate is stored rather than recomputed inside its consumer (realize thresholds 1):
        a decode step's activations are a few KB, but left to itself Inductor inlines RMSNorm into the
        int8 matrix-vector loop, redoing it for each of the N output rows (4 float loads per 16 weight
        bytes instead of 1), which made the int8 step compute-bound: 57 -> 64 tok/s, fp32 38.5 -> 40."""
        self._compiled_forward = torch.compile(
            self.forward,
            dynamic=True,
            options={"realize_cpu_opcount_threshold": 1, "realize_reads_threshold": 1},
        )

    def use_native_decode(self) -> None:
        """Decode with the C step (model.native) from the next request on; raises
        NativeUnavailableError where it cannot serve this model (no C compiler, not fp32 on CPU)."""
        NativeDecoder.check(self)
        self.native_decode = True
        self._native = None

    def begin_decode(self) -> None:
        """Called before a request's first decode step: (re)binds the C step to the weights and cache
        the model holds now (quantisation or huge-page placement may have replaced them since)."""
        if self.native_decode and (self._native is None or not self._native.is_current()):
            try:
                self._native = NativeDecoder(self)
            except NativeUnavailableError as error:  # e.g. a layer swapped for one it cannot run
                log.warning("native decode step off: %s", error)
                self.native_decode, self._native = False, None

    def decode_step(self, tokens: torch.Tensor, start_pos: int) -> torch.Tensor:
        """tokens [B, 1] at position start_pos -> logits [B, V]: the C step when use_native_decode()
        was called (and begin_decode() bound it), else compiled when compile_decode() was called."""
        native = self._native
        if native is not None and native.supports(tokens.shape[0]):
            return native.step(tokens, start_pos)
        forward = self._compiled_forward or self.forward
        return forward(tokens, start_pos, last_only=True)[:, -1]

    def reorder_cache(self, rows: torch.Tensor) -> None:
        for layer in self.blocks():
            assert layer.attention.kv_cache is not None
            layer.attention.kv_cache.reorder(rows)
        if self._native is not None:
            self._native.rebind_caches()

    def forward(self, tokens: torch.Tensor, start_pos: int = 0, last_only: bool = False) -> torch.Tensor:
        """tokens [B, T] at positions start_pos.. -> logits [B, T, V] (or [B, 1, V] with last_only)."""
        T = tokens.shape[1]
        if self.rope is None:
            raise RuntimeError("call setup_caches() before forward()")
        if start_pos + T > self.max_seq:
            raise ValueError(f"positions up to {start_pos + T} exceed the cache of {self.max_seq}")
        cos, sin = self.rope.cos_sin(start_pos, T, self.dtype)
        mask = None
        if T > 1 and start_pos > 0:
            # Query i (absolute start_pos + i) sees keys 0 .. start_pos + i.
            key_pos = torch.arange(start_pos + T, device=self.device)
            query_pos = torch.arange(start_pos, start_pos + T, device=self.device)
            mask = key_pos[None, :] <= query_pos[:, None]  # [T, S]
        x = self.tok_embeddings(tokens)  # [B, T, C]
        for layer in self.layers:
            x = layer(x, cos, sin, start_pos, mask)
        if last_only:
            x = x[:, -1:]
        return self.output(self.norm(x)).float()  # [B, T|1, V]
