"""e5's self-attention through the fused C kernel (csrc/e5_attention.c) on CPUs with AVX-512 BF16.

The kernel reads the query/key/value product's rows as they come out of the linear layer and writes
the attention output's rows in the order the next linear layer reads them, one (window, head) at a
time; the threads of a small pool (ctypes lets go of the GIL) take every n-th of them. Built with the
machine's compiler at first use (native_build.py); without a compiler, or on a CPU without
AVX-512 BF16, the encoder keeps its PyTorch attention.
"""

import ctypes
import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ingestion.embedders.native_build import NativeBuildError, build_library

SOURCE = Path(__file__).with_name("csrc") / "e5_attention.c"
ABI_VERSION = 1
HEAD_WIDTH = 32  # the only width the kernel takes (e5-small's)
MAX_LENGTH = 512


@functools.lru_cache(maxsize=1)
def load_kernel() -> ctypes.CDLL | None:
    """The built kernel, or None where it cannot be built (the caller keeps PyTorch's attention)."""
    try:
        library = build_library(SOURCE)
    except NativeBuildError:
        return None
    if library.kb_e5_abi_version() != ABI_VERSION:
        return None
    library.kb_e5_attention.restype = ctypes.c_int
    library.kb_e5_attention.argtypes = [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
        ctypes.c_float, ctypes.c_int, ctypes.c_int, ctypes.c_int,
    ]  # fmt: skip
    return library


def fused_kernel_is_fast() -> bool:
    """Whether the kernel's AVX-512 BF16 path was built (its plain-C path is for tests only)."""
    library = load_kernel()
    return library is not None and library.kb_e5_fast() == 1


class FusedAttention:
    def __init__(self, library: ctypes.CDLL, threads: int, fast: bool = True) -> None:
        self._library, self._threads, self._fast = library, max(1, threads), fast
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="e5-attention") if self._threads > 1 else None

    def __call__(self, qkv: Any, lengths: npt.NDArray[np.int32], count: int, length: int, heads: int) -> Any:
        """qkv: [count * length, 3 * heads * 32] bf16 -> [count * length, heads * 32] bf16, each window
        attending over its first lengths[w] tokens (its padding rows zero)."""
        import torch

        hidden = heads * HEAD_WIDTH
        if qkv.dtype != torch.bfloat16 or tuple(qkv.shape) != (count * length, 3 * hidden):
            raise ValueError(f"e5 attention takes [{count * length}, {3 * hidden}] bf16, not {tuple(qkv.shape)}")
        lengths = np.ascontiguousarray(lengths, dtype=np.int32)
        if length > MAX_LENGTH:
            raise ValueError(f"e5 attention takes windows of at most {MAX_LENGTH} tokens, not {length}")
        if lengths.shape != (count,) or (count and not (lengths.min() >= 1 and lengths.max() <= length)):
            raise ValueError(f"e5 attention needs {count} window lengths of 1 to {length} tokens")
        qkv = qkv.contiguous()
        out = torch.empty((count * length, hidden), dtype=torch.bfloat16)
        args = (qkv.data_ptr(), out.data_ptr(), lengths.ctypes.data, count, length, heads, HEAD_WIDTH)
        scale = HEAD_WIDTH**-0.5

        def run(first: int) -> int:
            return int(self._library.kb_e5_attention(*args, scale, first, self._threads, int(self._fast)))

        statuses = list(self._pool.map(run, range(self._threads))) if self._pool else [run(0)]
        if any(statuses):  # checked above; the kernel checks again rather than read out of bounds
            raise RuntimeError(f"the e5 attention kernel refused a batch of {count} x {length} tokens")
        return out
