"""The whole C step built for AVX2 without AVX-512 (KB_NATIVE_MARCH=x86-64-v3) passes the C step's
parity tests: on the AVX-512 machines we develop on, -march=native hides its 8-lane kernels (Q4_1 and
Q8_0 rows, fp32 and int8 tiles, attention, softmax, SiLU), so they run here in a child process."""

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARITY = [
    "tests/model/test_native.py::test_step_logits_match_the_pytorch_step",
    "tests/model/test_native.py::test_rows_of_a_batch_are_independent",
    "tests/model/test_native.py::test_thread_count_does_not_change_a_bit",
    "tests/model/test_native.py::test_int8_step_matches_the_pytorch_int8_step",
    "tests/model/test_gguf_models.py::test_random_gguf_greedy_tokens_equal_the_dequantised_fp32_model",
    "tests/model/test_gguf_models.py::test_a_rows_logits_do_not_depend_on_how_many_rows_share_the_step",
    "tests/model/test_gguf_models.py::test_gguf_blocks_give_the_same_tokens_batched_or_alone",
]


@pytest.mark.skipif(
    platform.machine() != "x86_64" or not shutil.which("cc"), reason="x86-64 targets need an x86-64 C compiler"
)
def test_the_avx2_build_passes_the_c_step_parity_tests(tmp_path: Path) -> None:
    env = {**os.environ, "KB_NATIVE_MARCH": "x86-64-v3", "KB_NATIVE_CACHE": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *PARITY],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "passed" in run.stdout and "failed" not in run.stdout
    assert len(list(tmp_path.glob("decode_step-*.so"))) == 1  # the child built and ran the x86-64-v3 library
