"""GGUF's quantised blocks kept as stored: their layouts, a PyTorch dequantiser, and the modules that hold them.

A GGUF file's Q4_0 ... Q6_K tensors stay in memory as the file's bytes, one row of blocks per output row
([rows, row_bytes] uint8). On CPU the decode step is the C step (model/csrc/quant_kernels.h), which
multiplies on the blocks directly. The PyTorch path here (prefill, GPU, and the tests' reference)
dequantises one layer at a time as it runs, so no full-precision copy of the model is ever held.
The layouts are ggml's; the dequantisers are gguf.quants' written in torch, so they agree with it.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from model.errors import UnsupportedModelError


@dataclass(frozen=True)
class BlockLayout:
    name: str
    type_id: int  # gguf.GGMLQuantizationType
    block_values: int
    block_bytes: int

    def row_bytes(self, cols: int) -> int:
        if cols % self.block_values:
            raise UnsupportedModelError(
                f"A {self.name} row of {cols} values is not whole blocks of {self.block_values}."
            )
        return cols // self.block_values * self.block_bytes


LAYOUTS: dict[int, BlockLayout] = {
    layout.type_id: layout
    for layout in (
        BlockLayout("F32", 0, 1, 4),
        BlockLayout("Q4_0", 2, 32, 18),
        BlockLayout("Q4_1", 3, 32, 20),
        BlockLayout("Q5_0", 6, 32, 22),
        BlockLayout("Q5_1", 7, 32, 24),
        BlockLayout("Q8_0", 8, 32, 34),
        BlockLayout("Q4_K", 12, 256, 144),
        BlockLayout("Q5_K", 13, 256, 176),
        BlockLayout("Q6_K", 14, 256, 210),
    )
}
QUANTIZED_TYPES = frozenset(t for t in LAYOUTS if t != 0)


def layout_of(type_id: int, what: str) -> BlockLayout:
    try:
        return LAYOUTS[type_id]
    except KeyError:
        supported = ", ".join(layout.name for layout in LAYOUTS.values())
        raise UnsupportedModelError(f"{what}: GGML type {type_id} is not supported (supported: {supported}).") from None


# ---- dequantisers: blocks [n, block_bytes] uint8 -> [n, block_values] float32


def _half(blocks: torch.Tensor, at: int) -> torch.Tensor:
    return blocks[:, at : at + 2].contiguous().view(torch.float16).float()  # [n, 1]


def _nibbles(qs: torch.Tensor) -> torch.Tensor:
    """[n, g, b] bytes -> [n, g, 2b]: all low nibbles, then all high ones (ggml's order)."""
    return torch.cat([qs & 0x0F, qs >> 4], dim=-1)


def _fifth_bits(qh: torch.Tensor) -> torch.Tensor:
    """4 bytes [n, 4] -> bit i of their little-endian uint32 for i < 32: [n, 32] (0 or 16)."""
    bits = (qh[:, :, None].int() >> torch.arange(8, dtype=torch.int32, device=qh.device)) & 1  # [n, 4, 8]
    return (bits.reshape(-1, 32) << 4).to(torch.uint8)


def _q4_0(b: torch.Tensor) -> torch.Tensor:
    return _half(b, 0) * (_nibbles(b[:, 2:]).float() - 8)


def _q4_1(b: torch.Tensor) -> torch.Tensor:
    return _half(b, 0) * _nibbles(b[:, 4:]).float() + _half(b, 2)


def _q5_0(b: torch.Tensor) -> torch.Tensor:
    return _half(b, 0) * ((_nibbles(b[:, 6:]) | _fifth_bits(b[:, 2:6])).float() - 16)


def _q5_1(b: torch.Tensor) -> torch.Tensor:
    return _half(b, 0) * (_nibbles(b[:, 8:]) | _fifth_bits(b[:, 4:8])).float() + _half(b, 2)


def _q8_0(b: torch.Tensor) -> torch.Tensor:
    return _half(b, 0) * b[:, 2:].contiguous().view(torch.int8).float()


def _scale_min_k4(scales: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """12 bytes [n, 12] -> the eight 6-bit scales and mins [n, 8] of a Q4_K / Q5_K super-block."""
    d, m, m_d = scales[:, 0:4], scales[:, 4:8], scales[:, 8:12]
    sc = torch.cat([d & 0x3F, (m_d & 0x0F) | ((d >> 2) & 0x30)], dim=-1)
    mn = torch.cat([m & 0x3F, (m_d >> 4) | ((m >> 2) & 0x30)], dim=-1)
    return sc.float(), mn.float()


def _k_quant(b: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """q [n, 8, 32] unsigned values of a Q4_K / Q5_K super-block -> d sc q - dmin m."""
    sc, mn = _scale_min_k4(b[:, 4:16])
    d = (_half(b, 0) * sc)[:, :, None]
    dm = (_half(b, 2) * mn)[:, :, None]
    return (d * q.float() - dm).reshape(-1, 256)


def _q4_k(b: torch.Tensor) -> torch.Tensor:
    return _k_quant(b, _nibbles(b[:, 16:].reshape(-1, 4, 32)).reshape(-1, 8, 32))


def _q5_k(b: torch.Tensor) -> torch.Tensor:
    low = _nibbles(b[:, 48:].reshape(-1, 4, 32)).reshape(-1, 8, 32)
    high = (b[:, 16:48, None].int() >> torch.arange(8, dtype=torch.int32, device=b.device)) & 1  # [n, 32, 8]
    return _k_quant(b, low | (high.transpose(1, 2) << 4).to(torch.uint8))


def _q6_k(b: torch.Tensor) -> torch.Tensor:
    n = b.shape[0]
    ql = _nibbles(b[:, :128].reshape(n, 2, 64)).reshape(n, 8, 32)  # [half][low 64, high 64] -> groups of 32
    shifts = torch.tensor([0, 2, 4, 6], dtype=torch.int32, device=b.device).reshape(1, 1, 4, 1)
    qh = (b[:, 128:192].reshape(n, 2, 1, 32).int() >> shifts) & 3
    q = (ql.int() | (qh.reshape(n, 8, 32) << 4)) - 32
    scales = b[:, 192:208].contiguous().view(torch.int8).float()  # [n, 16], one per 16 values
    d = (_half(b, 208) * scales)[:, :, None]
    return (d * q.reshape(n, 16, 16).float()).reshape(n, 256)


_DEQUANTISERS = {2: _q4_0, 3: _q4_1, 6: _q5_0, 7: _q5_1, 8: _q8_0, 12: _q4_k, 13: _q5_k, 14: _q6_k}


def dequantize_rows(rows: torch.Tensor, type_id: int, cols: int) -> torch.Tensor:
    """rows [N, row_bytes] uint8 of type type_id -> [N, cols] float32."""
    if type_id == 0:
        return rows.contiguous().view(torch.float32).reshape(-1, cols)
    layout = layout_of(type_id, "dequantise")
    blocks = rows.reshape(-1, layout.block_bytes)
    return _DEQUANTISERS[type_id](blocks).reshape(rows.shape[0], cols)


def _dequantize(rows: torch.Tensor, type_id: int, cols: int) -> torch.Tensor:
    """The C dequantiser on CPU (same values, several times faster), else the PyTorch one."""
    if rows.device.type == "cpu":
        from model.native import NativeUnavailableError
        from model.native_quant import native_dequantize_rows

        try:
            return native_dequantize_rows(rows, type_id, cols)
        except NativeUnavailableError:
            pass  # no C compiler here: the PyTorch dequantiser gives the very same values
    return dequantize_rows(rows, type_id, cols)


# ---- modules

ROW_CHUNK = 8192  # rows dequantised at once by the PyTorch path


class GGUFLinear(nn.Module):
    """y = x W^T (+ b) with W kept as GGUF blocks: row ranges ("parts", e.g. q, k, v fused) of their own type.

    Buffers part0..partN hold [rows, row_bytes] uint8 each. forward() dequantises the whole layer to
    x's dtype and multiplies: the PyTorch path (prefill, GPU); CPU decoding reads the blocks in C."""

    def __init__(self, in_features: int, parts: list[tuple[int, int]], bias: bool = False) -> None:
        """parts: (type_id, rows) per row range, in order."""
        super().__init__()
        self.in_features = in_features
        self.part_types = [type_id for type_id, _ in parts]
        self.part_rows = [rows for _, rows in parts]
        self.out_features = sum(self.part_rows)
        for i, (type_id, rows) in enumerate(parts):
            row_bytes = layout_of(type_id, f"part {i}").row_bytes(in_features)
            self.register_buffer(f"part{i}", torch.empty(rows, row_bytes, dtype=torch.uint8))
        self.bias: torch.Tensor | None = nn.Parameter(torch.empty(self.out_features)) if bias else None

    def parts(self) -> list[torch.Tensor]:
        return [getattr(self, f"part{i}") for i in range(len(self.part_types))]

    def dequantized(self, dtype: torch.dtype, first: int = 0, last: int | None = None) -> torch.Tensor:
        """Rows [first, last) of the weight [out_features, in_features] in dtype."""
        last = self.out_features if last is None else last
        pieces, start = [], 0
        for rows, type_id in zip(self.parts(), self.part_types, strict=True):
            lo, hi = max(first - start, 0), min(last - start, rows.shape[0])
            if lo < hi:
                pieces.append(_dequantize(rows[lo:hi], type_id, self.in_features))
            start += rows.shape[0]
        return torch.cat(pieces).to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Dequantised ROW_CHUNK rows at a time: a large head (150k x 1.5k values) never exists in fp32."""
        bias = None if self.bias is None else self.bias.to(x.dtype)
        if self.out_features <= ROW_CHUNK:
            return F.linear(x, self.dequantized(x.dtype), bias)
        out = torch.empty(*x.shape[:-1], self.out_features, dtype=x.dtype, device=x.device)
        for first in range(0, self.out_features, ROW_CHUNK):
            last = min(first + ROW_CHUNK, self.out_features)
            rows_bias = None if bias is None else bias[first:last]
            out[..., first:last] = F.linear(x, self.dequantized(x.dtype, first, last), rows_bias)
        return out

    def extra_repr(self) -> str:
        names = "+".join(LAYOUTS[t].name for t in self.part_types)
        return f"in_features={self.in_features}, out_features={self.out_features}, blocks={names}"


class GGUFEmbedding(nn.Module):
    """A token table kept as GGUF blocks ([vocab, row_bytes] uint8); looked-up rows are dequantised."""

    def __init__(self, vocab: int, dim: int, type_id: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.type_id, self.dim, self.dtype = type_id, dim, dtype
        row_bytes = layout_of(type_id, "token_embd").row_bytes(dim)
        self.register_buffer("part0", torch.empty(vocab, row_bytes, dtype=torch.uint8))
        self.part0: torch.Tensor

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        rows = self.part0[tokens.reshape(-1)]  # [B*T, row_bytes]
        return _dequantize(rows, self.type_id, self.dim).to(self.dtype).reshape(*tokens.shape, self.dim)


@dataclass(frozen=True)
class BlockSpec:
    """What module a checkpoint entry of GGUF blocks becomes (built before the state dict is loaded)."""

    in_features: int
    parts: tuple[tuple[int, int], ...]  # (type_id, rows) per row range
    embedding: bool = False
    bias: bool = False

    def build(self, dtype: torch.dtype) -> nn.Module:
        if self.embedding:
            (type_id, rows), = self.parts
            return GGUFEmbedding(rows, self.in_features, type_id, dtype)
        return GGUFLinear(self.in_features, list(self.parts), bias=self.bias)
