"""Concurrent streams against a running model server over HTTP: what continuous batching buys.

    .venv/bin/python benchmarks/serve.py [--streams 1,4,16,64] [--tokens 64] [--soak-s 600]
                                         [--slots 16] [--waiting 64] [--unbatched] [--repeat 3]

A `kb model-server` process (the bundled model unless KB_MODEL says otherwise; KB_BATCH_SLOTS
--slots, KB_BATCH_WAITING --waiting) is started on a free loopback port. At each level that many
clients each stream one completion of --tokens tokens (greedy, different prompts, end-of-text
ignored so every stream is as long) through POST /v1/completions at once. Reported per level:
aggregate tokens/s (all tokens / wall time), per-stream tokens/s (after its first token), time to
first token p50/p95, streams answered, told busy (503 + Retry-After) and errors (anything else,
timeouts included). Each level runs --repeat times (default 3): the figures are the run of median
aggregate tokens/s; busy and errors count every run. --unbatched starts the server with
KB_BATCH_SLOTS=0 (one request at a time) for comparison. With --soak-s, 16 clients stream without
pause for that long while the server's resident memory is sampled.
Prints one JSON line last: {"speedup_16", "errors", "streams": {...}, ...}.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import percentile, rss_mb
from benchmarks.common import soak as sample_soak

ROOT = Path(__file__).resolve().parents[1]
KEY = "benchmark-key"
TOPICS = ("the history of bread", "how rivers form", "why the sky is blue", "the rules of chess",
          "how bees make honey", "the water cycle", "how a bicycle works", "the moon's phases")  # fmt: skip






def one_stream(http: httpx.Client, n: int, tokens: int) -> dict[str, Any]:
    body = {
        "prompt": f"Write a short essay about {TOPICS[n % len(TOPICS)]} (part {n}).\n\n",
        "max_tokens": tokens,
        "temperature": 0,
        "stream": True,
        "stop_token_ids": [],
        "ignore_eos": True,
    }
    started = time.perf_counter()
    first: float | None = None
    produced = 0
    with http.stream("POST", "/completions", json=body) as response:
        if response.status_code != 200:
            response.read()
            return {"status": response.status_code, "retry_after": response.headers.get("retry-after")}
        for line in response.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            if "error" in chunk:
                return {"status": 500}
            if chunk["choices"][0].get("text") and first is None:
                first = time.perf_counter() - started
            if "usage" in chunk:
                produced = chunk["usage"]["completion_tokens"]
    total = time.perf_counter() - started
    rate = (produced - 1) / (total - first) if first is not None and produced > 1 and total > first else 0.0
    return {"status": 200, "ttft": first or total, "tokens": produced, "seconds": total, "stream_tok_s": rate}


def level(url: str, streams: int, tokens: int, timeout_s: float) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        try:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=timeout_s) as http:
                outcome = one_stream(http, n, tokens)
        except httpx.HTTPError as error:
            outcome = {"status": type(error).__name__}
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(streams)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    done = [r for r in results if r["status"] == 200]
    busy = [r for r in results if r["status"] == 503 and r.get("retry_after")]
    produced = sum(r["tokens"] for r in done)
    return {
        "streams": streams,
        "answered": len(done),
        "busy": len(busy),
        "errors": len(results) - len(done) - len(busy),
        "tokens": produced,
        "wall_s": round(wall, 2),
        "aggregate_tok_s": round(produced / wall, 1),
        "per_stream_tok_s_p50": round(statistics.median([r["stream_tok_s"] for r in done]), 1) if done else None,
        "ttft_p50_ms": percentile([r["ttft"] for r in done], 0.5),
        "ttft_p95_ms": percentile([r["ttft"] for r in done], 0.95),
    }


def median_level(url: str, streams: int, args: argparse.Namespace) -> dict[str, Any]:
    """The level run --repeat times: the run of median aggregate tok/s, with every run's rate and the
    busy and error counts of all runs (a run of one stream lasts a third of a second: one run is noise)."""
    runs = [level(url, streams, args.tokens, args.timeout_s) for _ in range(args.repeat)]
    chosen = sorted(runs, key=lambda r: r["aggregate_tok_s"])[len(runs) // 2]
    return {**chosen, "busy": sum(r["busy"] for r in runs), "errors": sum(r["errors"] for r in runs),
            "runs": len(runs), "aggregate_tok_s_runs": [r["aggregate_tok_s"] for r in runs]}  # fmt: skip


def soak(url: str, pid: int, seconds: float, tokens: int) -> dict[str, Any]:
    counts = {"answered": 0, "busy": 0, "errors": 0}

    def client(n: int, stop: threading.Event) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=300) as http:
            while not stop.is_set():
                try:
                    status = one_stream(http, n, tokens)["status"]
                except httpx.HTTPError:
                    status = 0
                counts["answered" if status == 200 else "busy" if status == 503 else "errors"] += 1

    memory = sample_soak(pid, seconds, 16, client)
    return {**counts, **memory}


def start_server(slots: int, waiting: int) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KB_MODEL_API_KEY": KEY,
           "KB_BATCH_SLOTS": str(slots), "KB_BATCH_WAITING": str(waiting)}  # fmt: skip
    command = [sys.executable, "-c", "from ui.cli import main; main()", "model-server", "--port", str(port)]
    server = subprocess.Popen(command, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return server, f"{url}/v1"
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("the model server did not start")
        time.sleep(0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", default="1,4,16,64")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--waiting", type=int, default=64)
    parser.add_argument("--unbatched", action="store_true", help="KB_BATCH_SLOTS=0: one request at a time")
    parser.add_argument("--timeout-s", type=float, default=900)
    parser.add_argument("--repeat", type=int, default=3, help="runs per level; the median's figures are reported")
    parser.add_argument("--soak-s", type=float, default=0)
    args = parser.parse_args()
    server, url = start_server(0 if args.unbatched else args.slots, args.waiting)
    try:
        level(url, 2, 4, args.timeout_s)  # warm up: the C step is built and the caches touched
        rss_start = rss_mb(server.pid)
        streams: dict[str, Any] = {}
        for count in (int(x) for x in args.streams.split(",")):
            streams[str(count)] = median_level(url, count, args)
            print(json.dumps(streams[str(count)]), flush=True)
        single = streams.get("1", {}).get("aggregate_tok_s") or 0
        result: dict[str, Any] = {
            "model": os.environ.get("KB_MODEL", "bundled"),
            "batching": "off" if args.unbatched else f"{args.slots} slots, {args.waiting} waiting",
            "tokens_per_stream": args.tokens,
            "threads": os.environ.get("KB_THREADS", "torch default"),
            "speedup_16": round(streams["16"]["aggregate_tok_s"] / single, 2) if "16" in streams and single else None,
            "errors": sum(v["errors"] for v in streams.values()),
            "streams": streams,
            "rss_mb_start": round(rss_start, 1),
            "rss_mb_end": round(rss_mb(server.pid), 1),
        }
        if args.soak_s:
            result["soak"] = soak(url, server.pid, args.soak_s, args.tokens)
        print(json.dumps(result))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
