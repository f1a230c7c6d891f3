#!/usr/bin/env bash
# The whole test command: system packages the tests need, then ruff, mypy and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages used by tests with real components: PostgreSQL (store tests), Chromium
# (browser tests), a CJK font (so the browser's screenshots of Chinese answers are readable) and
# docker-compose (validates docker-compose.yml; no engine needed). Installed only when missing;
# needs root, as on CI.
need=()
command -v chromium >/dev/null || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v docker-compose >/dev/null || need+=(docker-compose)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${need[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "warning: missing ${need[*]}; tests that need them will be skipped" >&2
  fi
fi

.venv/bin/ruff check app ingestion model store ui tests benchmarks
.venv/bin/mypy app ingestion model store ui
# Tests run in parallel, one worker per core (up to 4). On 2 cores the suite is mostly CPU-bound,
# so the gain is modest (28 min against about 35 in one process on a Zen 1); handing out single
# tests ("load") beat whole files ("loadfile": 31 min), whose long e2e files ended the run alone.
exec .venv/bin/pytest --numprocesses auto --maxprocesses 4 --dist load "$@"
