"""The Llama decoder: RMSNorm, SwiGLU feed-forward, grouped-query attention with a static KV cache.

Written after gpt-fast's model.py: the whole model in one file, shapes next to the code.
B batch, T new tokens, S cached positions, H query heads, K key/value heads, D head dim, C model dim.
"""

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from model.args import ModelArgs
from model.rope import RotaryEmbedding, apply_rotary


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
    """Preallocated keys and values [B, K, S_max, D], written at the positions being computed.

    Left uninitialised: every read stops at the positions written, and untouched pages cost no
    memory, so a cache of many rows (one per request decoded together) grows only as it is used."""

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
        self.register_buffer("k", torch.empty(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.empty(shape, dtype=dtype, device=device), persistent=False)
        self.k: torch.Tensor
        self.v: torch.Tensor
        self.zeroed = False  # set by a step that reads unwritten positions under a mask (StaticStep)

    def update(
        self, start_pos: int, k: torch.Tensor, v: torch.Tensor, row: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write k, v [B, K, T, D] at start_pos into cache rows row..row+B-1; return views of
        everything so far [B, K, start_pos+T, D].

        B may be below the cache's batch (a beam-search prompt is prefilled once; the batching
        scheduler prefills one request into its own row).
        """
        rows, end = slice(row, row + k.shape[0]), start_pos + k.shape[2]
        self.k[rows, :, start_pos:end] = k
        self.v[rows, :, start_pos:end] = v
        return self.k[rows, :, :end], self.v[rows, :, :end]

    def append_rows(self, slots: torch.Tensor, positions: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """Write k, v [B, K, D]: row b at positions[b] of cache row slots[b]."""
        self.k[slots, :, positions] = k
        self.v[slots, :, positions] = v

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep batch rows `rows` (beam search: each beam continues from its parent's cache). In
        place: a captured CUDA graph and the C step keep pointing at the same memory."""
        self.k.copy_(self.k.index_select(0, rows))
        self.v.copy_(self.v.index_select(0, rows))


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

    def _projections(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, T, _ = x.shape
        q, k, v = self.wqkv(x).split(self.split_sizes, dim=-1)
        q = q.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # [B, H, T, D]
        k = k.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # [B, K, T, D]
        v = v.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # [B, K, T, D]
        return q, k, v

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        start_pos: int,
        mask: torch.Tensor | None,
        cache_row: int = 0,
    ) -> torch.Tensor:
        B, T, _ = x.shape
        q, k, v = self._projections(x)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if self.kv_cache is not None:
            k, v = self.kv_cache.update(start_pos, k, v, cache_row)  # [B, K, S, D], S = start_pos + T
        # Causal only when the queries are the whole sequence; otherwise the explicit mask (or none for T=1).
        causal = mask is None and T > 1
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal, enable_gqa=self.n_kv_heads != self.n_heads
        )  # [B, H, T, D]
        return self.wo(y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim))

    def forward_rows(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, positions: torch.Tensor, slots: torch.Tensor
    ) -> torch.Tensor:
        """x [B, 1, C], row b at positions[b] of cache row slots[b]; cos, sin [B, 1, 1, D]. Each row
        attends over its own cache row up to its own position."""
        assert self.kv_cache is not None
        B = x.shape[0]
        q, k, v = self._projections(x)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        self.kv_cache.append_rows(slots, positions, k[:, :, 0], v[:, :, 0])
        rows = []
        for b in range(B):  # lengths differ row to row; a row never reads past what it wrote
            end, slot = int(positions[b]) + 1, int(slots[b])
            keys, values = self.kv_cache.k[slot : slot + 1, :, :end], self.kv_cache.v[slot : slot + 1, :, :end]
            rows.append(F.scaled_dot_product_attention(
                q[b : b + 1], keys, values, enable_gqa=self.n_kv_heads != self.n_heads
            ))  # fmt: skip
        y = torch.cat(rows)  # [B, H, 1, D]
        return self.wo(y.transpose(1, 2).reshape(B, 1, self.n_heads * self.head_dim))


    def forward_static(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """x [B, 1, C] for every cache row, row b at positions[b]; mask [B, 1, 1, L] over the cache's
        first L positions. Shapes do not depend on the positions (they are a tensor, the cache is
        written with index_put_ and its first L positions read under the mask), so one captured
        CUDA graph serves every step whose rows all stand below L."""
        assert self.kv_cache is not None
        B, length = x.shape[0], mask.shape[-1]
        q, k, v = self._projections(x)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        rows = torch.arange(B, device=x.device)
        self.kv_cache.k[rows, :, positions] = k[:, :, 0]
        self.kv_cache.v[rows, :, positions] = v[:, :, 0]
        keys, values = self.kv_cache.k[:, :, :length], self.kv_cache.v[:, :, :length]
        y = F.scaled_dot_product_attention(
            q, keys, values, attn_mask=mask, enable_gqa=self.n_kv_heads != self.n_heads
        )  # [B, H, 1, D]
        return self.wo(y.transpose(1, 2).reshape(B, 1, self.n_heads * self.head_dim))


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
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        start_pos: int,
        mask: torch.Tensor | None,
        cache_row: int = 0,
    ) -> torch.Tensor:
        h = x + self.attention(self.attention_norm(x), cos, sin, start_pos, mask, cache_row)
        return h + self.feed_forward(self.ffn_norm(h))

    def forward_rows(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, positions: torch.Tensor, slots: torch.Tensor
    ) -> torch.Tensor:
        h = x + self.attention.forward_rows(self.attention_norm(x), cos, sin, positions, slots)
        return h + self.feed_forward(self.ffn_norm(h))

    def forward_static(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        h = x + self.attention.forward_static(self.attention_norm(x), cos, sin, positions, mask)
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
        for layer in self.blocks():
            layer.attention.kv_cache = KVCache(
                max_batch, max_seq, self.args.n_kv_heads, self.args.head_dim, self.dtype, self.device
            )
        self.rope = RotaryEmbedding(self.args, self.device)

    def free_caches(self) -> None:
        """Drop the KV cache (its memory goes back to the allocator); the next setup_caches
        allocates afresh at the size it is given rather than keeping a larger one."""
        for layer in self.blocks():
            layer.attention.kv_cache = None
        self.rope, self.max_batch, self.max_seq = None, 0, 0

    def blocks(self) -> list[TransformerBlock]:
        return cast(list[TransformerBlock], list(self.layers))

    def forward_rows(self, tokens: torch.Tensor, positions: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """tokens [B], row b at positions[b] in cache row slots[b] -> logits [B, V] (requests decoded
        together, model/batching.py). A row's logits do not depend on the other rows of the step."""
        if self.rope is None:
            raise RuntimeError("call setup_caches() before forward_rows()")
        positions, slots = positions.to(self.device), slots.to(self.device)
        if self.rope.args.rope_scaling.kind == "dynamic":  # the frequencies depend on each row's length
            pairs = [self.rope.cos_sin(int(pos), 1, self.dtype) for pos in positions]
            cos, sin = torch.cat([c for c, _ in pairs]), torch.cat([s for _, s in pairs])
        else:
            cos, sin = self.rope.cos_sin(0, int(positions.max()) + 1, self.dtype)
            cos, sin = cos[positions], sin[positions]
        cos, sin = cos[:, None, None], sin[:, None, None]  # [B, 1, 1, D]
        x = self.tok_embeddings(tokens.reshape(-1, 1).to(self.device))  # [B, 1, C]
        for layer in self.blocks():
            x = layer.forward_rows(x, cos, sin, positions, slots)
        return self.output(self.norm(x)).float()[:, -1]

    def forward_static(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        cos_table: torch.Tensor,
        sin_table: torch.Tensor,
        key_positions: torch.Tensor,
    ) -> torch.Tensor:
        """tokens [B, 1], one per cache row (B = the cache's batch), row b at positions[b] (a tensor)
        -> logits [B, V]; cos_table, sin_table [S_max, D]; key_positions = arange(L): attention reads
        the cache's first L positions (a decode step at position 300 of a 4k cache need not read
        4k). Static shapes for CUDA graphs (model.decode_step.StaticStep); unwritten cache positions
        below L are masked, so they must hold finite values (the step zeroes new caches)."""
        mask = (key_positions[None, :] <= positions[:, None])[:, None, None, :]  # [B, 1, 1, L]
        cos, sin = cos_table[positions][:, None, None], sin_table[positions][:, None, None]  # [B, 1, 1, D]
        x = self.tok_embeddings(tokens)
        for layer in self.blocks():
            x = layer.forward_static(x, cos, sin, positions, mask)
        return self.output(self.norm(x)).float()[:, -1]

    def reorder_cache(self, rows: torch.Tensor) -> None:
        for layer in self.blocks():
            assert layer.attention.kv_cache is not None
            layer.attention.kv_cache.reorder(rows)

    def forward(
        self, tokens: torch.Tensor, start_pos: int = 0, last_only: bool = False, cache_row: int = 0
    ) -> torch.Tensor:
        """tokens [B, T] at positions start_pos.. -> logits [B, T, V] (or [B, 1, V] with last_only);
        keys and values go to cache rows cache_row..cache_row+B-1."""
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
            x = layer(x, cos, sin, start_pos, mask, cache_row)
        if last_only:
            x = x[:, -1:]
        return self.output(self.norm(x)).float()  # [B, T|1, V]
