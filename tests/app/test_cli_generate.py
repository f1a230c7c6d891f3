"""`kb generate` streams from the bundled model through the real console script."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
KB = Path(sys.executable).with_name("kb")


def run_kb(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KB_DATA_DIR": str(tmp_path), "KB_DEVICE": "cpu"}
    return subprocess.run([str(KB), *args], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)


def test_generate_greedy_is_deterministic_and_reports_stats(tmp_path: Path) -> None:
    args = ("generate", "List three fruits.", "--max-new-tokens", "12", "--stats")
    first, second = run_kb(*args, tmp_path=tmp_path), run_kb(*args, tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout.strip() and first.stdout == second.stdout
    assert "prompt tokens" in first.stderr and "tok/s" in first.stderr


def test_generate_with_bad_settings_is_one_clear_sentence(tmp_path: Path) -> None:
    result = run_kb("generate", "hi", "--model", str(tmp_path / "missing.gguf"), tmp_path=tmp_path)
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
