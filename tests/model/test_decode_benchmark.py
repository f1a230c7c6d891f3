"""benchmarks/decode.py's GPU path (the one `benchmarks/cuda_check.sh` runs when a GPU is lent),
tried end to end on CPU with the two-layer random model: every phase runs and reports."""

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_decode_benchmark_runs_every_phase_on_the_tiny_random_model() -> None:
    args = "--random tiny --static --no-native --new-tokens 8 --prompt-tokens 16 --prefill-tokens 32"
    args += " --streams 2 --runs 3 --context 300"  # decoding reads 256 of the 300 cache positions
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.decode", *args.split()],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not [key for key in result if key.endswith("_error")], result
    assert result["ours_step"] == "static"
    assert result["tokens_identical"]  # fp32 on CPU: the static step's greedy tokens are transformers'
    for key in ("prefill_ms", "hf_prefill_ms", "ratio", "streams_speedup", "int8_tok_s"):
        assert result[key] > 0, key
    assert set(result["step_ms_by_step"]) == {"eager", "static"}
    assert abs(result["int8_ppl_delta"]) < 0.05
    assert result["int8_product"] == "inductor"  # no GPU: Inductor's fused loop, not the Triton kernel
    assert result["int8_gemv_gb_s"] and min(result["int8_gemv_gb_s"].values()) > 0
    assert "partial:" in done.stderr  # each phase's figures as it ends, for a run cut short


def test_a_stalled_one_token_run_is_measured_again_not_read_as_infinite_speed() -> None:
    from argparse import Namespace

    from benchmarks.decode import median_rate

    stalls = [0.08]  # the first one-token run outlasts the whole 8-token run

    def run(n: int) -> None:
        time.sleep(stalls.pop() if n == 1 and stalls else 0.002 * n)

    args = Namespace(runs=1, retries=3, max_others=float("inf"))
    rate = median_rate(run, 8, args, lambda: None)["tok_s"]
    assert 100 < rate < 1000  # 7 tokens in about 14 ms: ~500 tok/s
