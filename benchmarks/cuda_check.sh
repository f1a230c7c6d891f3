#!/usr/bin/env bash
# The GPU checks in one call (a GPU is lent for minutes): run from the repository root on the device
# machine, with gguf's wheel in .whl/ (model.tokenizer imports it; that machine's image lacks it).
# Writes int8_gemv.json and decode.json (the last lines: benchmarks/int8_gemv.py's and decode.py's JSON)
# and their .err files under $OUT.
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
python3 -c "import torch, transformers, triton; print('torch', torch.__version__, 'transformers', transformers.__version__, 'triton', triton.__version__)"
# The int8 kernel alone first (about a minute): its figures come back even if the decode run is cut short.
timeout "${GEMV_TIMEOUT_S:-120}" python3 -m benchmarks.int8_gemv 2> >(tee "$OUT/int8_gemv.err" >&2) | tee "$OUT/int8_gemv.json"
echo "int8_gemv exit: ${PIPESTATUS[0]}"
timeout "${DECODE_TIMEOUT_S:-500}" python3 -m benchmarks.decode --device cuda --random llama-2-7b --context 4096 "$@" \
  2> >(grep -v -E "^\s*$" | tee "$OUT/decode.err" >&2) | tee "$OUT/decode.json"
echo "decode exit: ${PIPESTATUS[0]}"
