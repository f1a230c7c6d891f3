"""The int8 decode step's Triton kernel (model.triton_gemv), run on CPU by Triton's interpreter: the
same kernel source a GPU compiles, so its indexing, masks and dequantisation are checked here; its
speed only on a GPU (benchmarks/cuda_check.sh). Each check runs in a fresh Python
(tests/model/triton_checks.py says why)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model import quantize, triton_gemv

pytest.importorskip("triton")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("check", ["products_match", "bfloat16_stays_bfloat16", "model_decodes_the_same"])
def test_interpreted_kernel(check: str, tmp_path: Path) -> None:
    done = interpreted("tests.model.triton_checks", check, str(tmp_path))
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


def test_the_kernel_benchmark_runs_and_checks_its_products() -> None:
    """benchmarks/int8_gemv.py, which cuda_check.sh runs on a GPU, on two small shapes."""
    done = interpreted("benchmarks.int8_gemv", "--shapes", "tiny", "--calls", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result["shapes"]) == {"a", "b"}
    assert all(shape["max_rel_error"] < 1e-4 and shape["int8_us"] > 0 for shape in result["shapes"].values())


def interpreted(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"TRITON_INTERPRET": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def test_without_a_gpu_or_the_interpreter_the_kernel_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is here")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    triton_gemv.forget_runner()
    assert triton_gemv.runner() == "none"
    assert quantize.single_row_product(torch.zeros(2, 2, dtype=torch.int8)) is quantize.fused_gemv()
