"""Int8 weight x one activation row on a GPU, as one Triton kernel (the int8 decode step's products).

Inductor's fused dequantise-and-reduce (model.quantize._gemv) reads about 1.5 G weights per ms on an
H200 whatever their width: 3.1 TB/s of bf16 weights but only 1.6 TB/s of int8, so int8 decoded no
faster than bf16 (217.6 vs 217.9 tok/s). This kernel has each program read a [BLOCK_N, BLOCK_K] tile
of int8 weights in wide contiguous loads, dequantise in registers and keep per-lane partial sums,
reducing them once at the end.

Measured on an H200 (benchmarks/int8_gemv.py, products captured in a CUDA graph): 2.2-2.9 TB/s of
int8 weights against the bf16 matmul's 3.3-4.1 TB/s, 1.35-1.43x faster per product; decode 1.16-1.26x
bf16 (benchmarks/decode.py), up from 1.00x. The rest of the gap is likely the int8-to-float
conversion, which runs at a quarter of the FMA rate on the CUDA cores; int8 activations through the
tensor cores (tl.dot on int8, W8A8) or the fp16 magic-number conversion would remove it.

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


@cache
def _kernel() -> Any:
    import triton
    import triton.language as tl

    # (tile rows, tile width in weights, warps), chosen among by timing once per weight shape. On an
    # H200 the first nine reached 2.1-2.8 TB/s of int8 weights (bf16 matmul: 3.2-3.9); the wider
    # ones keep more bytes in flight per program.
    tiles = [(1, 2048, 4), (2, 1024, 4), (4, 512, 4), (4, 1024, 4), (8, 512, 4), (8, 512, 8), (16, 256, 4)]
    tiles += [(16, 512, 8), (32, 256, 8), (8, 1024, 8), (16, 1024, 8), (32, 512, 8), (4, 2048, 8), (2, 4096, 8)]
    configs = [triton.Config({"BLOCK_N": n, "BLOCK_K": k}, num_warps=w) for n, k, w in tiles]
    if interpreted():
        configs = configs[2:3]  # the interpreter is slow and times nothing worth choosing by

    @triton.autotune(configs=configs, key=["N", "K"])
    @triton.jit
    def int8_gemv_kernel(x_ptr, w_ptr, s_ptr, y_ptr, N, K, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):  # type: ignore[no-untyped-def]
        rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
        row_ok = rows < N
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

    wrap_triton(_kernel())[grid](x, weight, scales, out, n, k)


@triton_op("kb::int8_gemv", mutates_args=())
def int8_gemv(x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """x [1, K] float, weight [N, K] int8, scales [N] -> [1, N] in x's dtype, as one kernel launch:
    torch.compile places it in its graph as it is, and a captured CUDA graph replays it."""
    out = torch.empty(1, weight.shape[0], dtype=x.dtype, device=x.device)
    launch(x.contiguous(), weight, scales, out)
    return out
