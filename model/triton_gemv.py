"""Int8 weight x one activation row on a GPU, as one Triton kernel (the int8 decode step's products).

Inductor's fused dequantise-and-reduce (model.quantize._gemv) reads about 1.5 G weights per ms on an
H200 whatever their width: 3.1 TB/s of bf16 weights but only 1.6 TB/s of int8, so int8 decoded no
faster than bf16 (217.6 vs 217.9 tok/s). This kernel has each program read a [BLOCK_N, BLOCK_K] tile
of int8 weights in wide contiguous loads, dequantise in registers and keep per-lane partial sums,
reducing them once at the end.

Measured on an H200 (benchmarks/int8_gemv.py, products captured in a CUDA graph): 2.2-2.9 TB/s of
int8 weights against the bf16 matmul's 3.3-4.1 TB/s, 1.35-1.43x faster per product; decode 1.16-1.26x
bf16 (benchmarks/decode.py). The int8-to-float conversion, at a quarter of the FMA rate on the CUDA
cores, held it back: the kernel may now read whole 32-bit words of four weights and make them floats
with integer bit operations and one subtraction (PACKED), and the timing chose that way for every
shape of Llama-2-7B. On an H100 (2026-12-06): each product 10-17% faster than the best byte-wise tile,
1.54-1.99x the bf16 matmul (1.87x over a layer's products and the head), decode 264.6 tok/s against
bf16's 174.2 (1.52x; the target is 1.6x), perplexity +1.6%.

Triton is imported only when the kernel is first used: a CPU install has no Triton, and the CPU
tests run the kernel through Triton's interpreter (TRITON_INTERPRET=1) when it is installed.
The op is registered here (torch.library, no Triton import) and not inside the first call, because
that call may come while torch.compile traces the model, which cannot trace a registration.
"""

import os
from functools import cache
from typing import Any, Literal

import torch
from torch.library import triton_op, wrap_triton

Runner = Literal["cuda", "interpreter", "none"]
_runner: Runner | None = None


def runner() -> Runner:
    """Where the kernel runs: on CUDA tensors, on CPU tensors by Triton's interpreter, or nowhere.
    Worked out once, before any tracing (model.quantize asks when it quantises), and then a plain
    global that torch.compile reads as a constant."""
    global _runner
    if _runner is None:
        try:
            import triton  # noqa: F401

            _runner = "interpreter" if interpreted() else "cuda" if torch.cuda.is_available() else "none"
        except ImportError:
            _runner = "none"
    return _runner


def forget_runner() -> None:
    """For tests that change TRITON_INTERPRET."""
    global _runner
    _runner = None


def runs_on(weight: torch.Tensor) -> bool:
    kind = runner()
    return kind == "interpreter" or (kind == "cuda" and weight.is_cuda)


def interpreted() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def in_words(width: int) -> bool:
    """Whether rows of this width can be read as whole 32-bit words of four weights (all of Llama's)."""
    return width % 4 == 0


@cache
def _kernel() -> Any:
    import triton
    import triton.language as tl

    # (tile rows, tile width in weights, warps), chosen among by timing once per weight shape. On an
    # H200 the first nine reached 2.1-2.8 TB/s of int8 weights (bf16 matmul: 3.2-3.9); the wider
    # ones keep more bytes in flight per program.
    tiles = [(1, 2048, 4), (2, 1024, 4), (4, 512, 4), (4, 1024, 4), (8, 512, 4), (8, 512, 8), (16, 256, 4)]
    tiles += [(16, 512, 8), (32, 256, 8), (8, 1024, 8), (16, 1024, 8), (32, 512, 8), (4, 2048, 8), (2, 4096, 8)]
    # Each tile in both ways of turning bytes into floats (PACKED below); timing picks per shape.
    configs = [
        triton.Config({"BLOCK_N": n, "BLOCK_K": k, "PACKED": packed}, num_warps=w)
        for packed in (False, True)
        for n, k, w in tiles
    ]

    def fit(configs: list[Any], named_args: dict[str, Any], **_: Any) -> list[Any]:
        return [c for c in configs if not c.kwargs["PACKED"] or in_words(named_args["K"])]

    @triton.autotune(configs=configs, key=["N", "K"], prune_configs_by={"early_config_prune": fit})
    @triton.jit
    def int8_gemv_kernel(  # type: ignore[no-untyped-def]
        x_ptr, w_ptr, s_ptr, y_ptr, N, K, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, PACKED: tl.constexpr
    ):
        rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
        row_ok = rows < N
        if PACKED:
            # Four weights per 32-bit load, made floats without the int-to-float conversion (a quarter
            # of the FMA rate on CUDA cores): XOR 0x80 turns a signed byte b into b + 128, and OR-ing
            # that into the low bits of 2^23's float gives the float 2^23 + 128 + b exactly, so one
            # subtraction of 2^23 + 128 leaves b.
            words = K // 4
            w32_ptr = w_ptr.to(tl.pointer_type(tl.int32))
            partial = tl.zeros((BLOCK_N, BLOCK_K // 4), dtype=tl.float32)
            for start in range(0, words, BLOCK_K // 4):
                at = start + tl.arange(0, BLOCK_K // 4)
                ok = at < words
                packed = tl.load(w32_ptr + rows[:, None] * words + at[None, :], mask=row_ok[:, None] & ok[None, :])
                biased = packed.to(tl.uint32, bitcast=True) ^ 0x80808080
                for byte in tl.static_range(4):
                    x = tl.load(x_ptr + at * 4 + byte, mask=ok, other=0.0).to(tl.float32)
                    bits = ((biased >> (8 * byte)) & 0xFF) | 0x4B000000
                    w = bits.to(tl.float32, bitcast=True) - 8388736.0
                    partial += w * x[None, :]
        else:
            partial = tl.zeros((BLOCK_N, BLOCK_K), dtype=tl.float32)
            for start in range(0, K, BLOCK_K):
                cols = start + tl.arange(0, BLOCK_K)
                col_ok = cols < K
                x = tl.load(x_ptr + cols, mask=col_ok, other=0.0).to(tl.float32)
                w = tl.load(w_ptr + rows[:, None] * K + cols[None, :], mask=row_ok[:, None] & col_ok[None, :], other=0)
                partial += w.to(tl.float32) * x[None, :]
        scales = tl.load(s_ptr + rows, mask=row_ok, other=0.0).to(tl.float32)
        y = tl.sum(partial, axis=1) * scales
        tl.store(y_ptr + rows, y.to(y_ptr.dtype.element_ty), mask=row_ok)

    return int8_gemv_kernel


def launch(x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor, out: torch.Tensor) -> None:
    """out [N] = (weight [N, K] int8 @ x [K]) * scales. `wrap_triton` hands torch.compile the kernel
    to trace; run eagerly (or by Triton's interpreter), it is the kernel itself."""
    n, k = weight.shape

    def grid(meta: dict[str, int]) -> tuple[int]:
        return ((n + meta["BLOCK_N"] - 1) // meta["BLOCK_N"],)

    if interpreted():  # no timing there (no GPU driver): one tile, words wherever rows allow them
        tile = {"BLOCK_N": 4, "BLOCK_K": 512, "PACKED": in_words(k)}
        wrap_triton(_kernel().fn)[grid](x, weight, scales, out, n, k, **tile)
    else:
        wrap_triton(_kernel())[grid](x, weight, scales, out, n, k)


@triton_op("kb::int8_gemv", mutates_args=())
def int8_gemv(x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """x [1, K] float, weight [N, K] int8, scales [N] -> [1, N] in x's dtype, as one kernel launch:
    torch.compile places it in its graph as it is, and a captured CUDA graph replays it."""
    out = torch.empty(1, weight.shape[0], dtype=x.dtype, device=x.device)
    launch(x.contiguous(), weight, scales, out)
    return out
