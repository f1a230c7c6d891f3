"""The C step built for older CPUs than this one (AVX2 without AVX-512, and plain x86-64) compiles
and its fallback kernels give the same products: -march=native hides the fallbacks on the
machines we develop on, so they are built and run here on purpose."""

import ctypes
import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType

from model.native import SOURCE, build_flags
from tests.model.test_gguf_kernels import random_rows, reference

pytestmark = pytest.mark.skipif(
    platform.machine() != "x86_64" or not shutil.which("cc"), reason="x86-64 targets need an x86-64 C compiler"
)


def build_for(target: str, tmp_path: Path) -> ctypes.CDLL:
    """target: a -march value, or "march+mtune" (e.g. x86-64-v3+znver2: GCC's AMD Zen tuning, which
    once left some accumulations unfused, on an instruction set every AVX2 machine runs)."""
    library_path = tmp_path / f"decode_step-{target}.so"
    march, _, tune = target.partition("+")
    flags = [*build_flags(march, "cc"), *([f"-mtune={tune}"] if tune else [])]
    command = ["cc", *flags, "-o", str(library_path), str(SOURCE), "-lm"]
    built = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    return ctypes.CDLL(str(library_path))


def within_rounding(out: np.ndarray, blocks: np.ndarray, type_id: int, x: np.ndarray) -> bool:
    """out equals gguf's dequantised weights times x up to fp32 rounding of the sums."""
    weight = reference(blocks, type_id).astype(np.float64)
    bound = 1e-5 * (np.abs(weight) @ np.abs(x.astype(np.float64)).T)
    return bool(np.all(np.abs(out - weight @ x.astype(np.float64).T) <= bound))


@pytest.mark.parametrize("target", ["x86-64-v3", "x86-64"])
def test_the_fallback_kernels_build_and_equal_gguf(tmp_path: Path, target: str) -> None:
    library = build_for(target, tmp_path)
    assert library.kb_int8_activations(-1) == 0  # no VNNI: k-quants on fp32 activations
    assert library.kb_batch_kernel() == 0  # no AMX, no AVX-512 BF16: fp32 FMAs
    rows, cols = 8, 512
    for type_id in (GGMLQuantizationType.Q4_1, GGMLQuantizationType.Q8_0, GGMLQuantizationType.Q4_K,
                    GGMLQuantizationType.Q6_K):  # fmt: skip
        blocks = np.ascontiguousarray(random_rows(int(type_id), rows, cols, seed=int(type_id)))
        x = torch.randn(cols, generator=torch.Generator().manual_seed(1)).numpy()
        out = np.empty(rows, dtype=np.float32)
        status = library.kb_quant_matvec(
            int(type_id), blocks.ctypes.data_as(ctypes.c_void_p), rows, cols, ctypes.c_int64(blocks.shape[1]),
            x.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p),
        )  # fmt: skip
        assert status == 0
        assert within_rounding(out, blocks, int(type_id), x), type_id.name


def batched_products(
    library: ctypes.CDLL, type_id: int, blocks: np.ndarray, rows: int, cols: int, activations: np.ndarray
) -> np.ndarray:
    activations = np.ascontiguousarray(activations, dtype=np.float32)
    out = np.empty((len(activations), rows), dtype=np.float32)
    status = library.kb_quant_rows_batch(
        int(type_id), blocks.ctypes.data_as(ctypes.c_void_p), rows, cols, ctypes.c_int64(blocks.shape[1]),
        activations.ctypes.data_as(ctypes.c_void_p), len(activations), out.ctypes.data_as(ctypes.c_void_p),
    )  # fmt: skip
    assert status == 0
    return out


@pytest.mark.parametrize("target", ["x86-64-v3", "x86-64", "native", "x86-64-v3+znver2"])
def test_batched_rows_equal_gguf_and_do_not_depend_on_the_batch(tmp_path: Path, target: str) -> None:
    """The batched kernels (AVX2's own 8-lane ones on x86-64-v3) give each activation row the product
    it gets alone, bit for bit, whatever the batch: greedy tokens batched equal tokens alone."""
    library = build_for(target, tmp_path)
    rows, cols = 6, 512
    for type_id in (GGMLQuantizationType.Q4_1, GGMLQuantizationType.Q8_0, GGMLQuantizationType.Q6_K):
        blocks = np.ascontiguousarray(random_rows(int(type_id), rows, cols, seed=int(type_id)))
        x = torch.randn(9, cols, generator=torch.Generator().manual_seed(2)).numpy()

        def products(activations: np.ndarray, blocks: np.ndarray = blocks, type_id: int = type_id) -> np.ndarray:
            return batched_products(library, type_id, blocks, rows, cols, activations)

        together = products(x)
        assert within_rounding(together.T, blocks, int(type_id), x), type_id.name
        for row in range(len(x)):
            assert np.array_equal(products(x[row : row + 1])[0], together[row]), (type_id.name, row)
        assert np.array_equal(products(x[:4]), together[:4]), type_id.name
