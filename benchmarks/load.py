"""Many clients at once against a running server over HTTP: latency, errors and the 'busy' answer.

    .venv/bin/python benchmarks/load.py [--levels 1,10,50,200] [--questions 2] [--answer-s 0.5]
                                        [--real] [--soak-s 600]

A server process (the web app: API and page, SQLite + FAISS, hashing embedder) is started on a
free loopback port with the fake model, which takes --answer-s per answer, one at a time as the
engine does (or, with --real, the bundled model). At each level, that many clients each ask
--questions questions through POST /v1/chat/completions at once. Reported per level: answered,
busy (503 with Retry-After), errors (anything else, timeouts included), p50/p95 of answers and
of busy replies. Past capacity (KB_MAX_WAITING_QUESTIONS) the server must say 'busy' quickly,
never time out. With --soak-s, 20 clients ask without pause for that long while the server's
resident memory is sampled.
Prints one JSON line last.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import percentile, rss_mb
from benchmarks.common import soak as sample_soak

ROOT = Path(__file__).resolve().parents[1]
HANDBOOK = (
    "New employees get 25 vacation days a year. The cafeteria serves lunch at noon every weekday. "
    "Parking is free for employees in garage B. Laptops are replaced every three years."
)
QUESTIONS = ("How many vacation days do new employees get?", "When is lunch served?", "Where can I park?")


def serve(port: int, data_dir: Path, answer_s: float, real: bool) -> None:
    """The server process: seed a document, write an admin key to data_dir/key, serve."""
    sys.path.insert(0, str(ROOT))
    import uvicorn

    from app.settings import load_settings
    from app.wiring import open_service
    from ui.server import create_web_app

    engine = None
    if not real:
        from tests.app.fake_llm import FakeEngine, best_source_sentence

        one_at_a_time = threading.Lock()  # as the real engine: one answer at a time

        def reply(messages: list) -> str:  # type: ignore[type-arg]
            with one_at_a_time:
                time.sleep(answer_s)  # the model's time for one answer
            return best_source_sentence(messages)

        engine = FakeEngine(reply)
    settings = load_settings(data_dir=data_dir, embedder="hashing-64")
    with open_service(settings, engine=engine) as service:
        handbook = data_dir / "handbook.txt"
        handbook.write_text(HANDBOOK, encoding="utf-8")
        service.ingest([handbook], service.actor(None))
        (data_dir / "key").write_text(service.create_api_key(service.actor(None)), encoding="utf-8")
        uvicorn.run(create_web_app(service, settings), host="127.0.0.1", port=port, log_level="error")






def ask_many(url: str, key: str, clients: int, questions: int, timeout_s: float) -> dict[str, object]:
    answered: list[float] = []
    busy: list[float] = []
    errors: list[str] = []
    retry_after: list[int] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout_s) as http:
            for i in range(questions):
                body = {"model": "kb", "messages": [{"role": "user", "content": QUESTIONS[(n + i) % len(QUESTIONS)]}]}
                started = time.perf_counter()
                try:
                    response = http.post("/v1/chat/completions", json=body)
                except httpx.HTTPError as error:
                    with lock:
                        errors.append(type(error).__name__)
                    continue
                took = time.perf_counter() - started
                with lock:
                    if response.status_code == 200:
                        answered.append(took)
                    elif response.status_code == 503 and response.headers.get("retry-after"):
                        busy.append(took)
                        retry_after.append(int(response.headers["retry-after"]))
                    else:
                        errors.append(str(response.status_code))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "clients": clients,
        "requests": clients * questions,
        "answered": len(answered),
        "busy": len(busy),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "answer_p50_ms": percentile(answered, 0.5),
        "answer_p95_ms": percentile(answered, 0.95),
        "busy_p50_ms": percentile(busy, 0.5),
        "busy_p95_ms": percentile(busy, 0.95),
        "retry_after_s_max": max(retry_after) if retry_after else None,
        "wall_s": round(time.perf_counter() - started, 1),
    }


def soak(url: str, key: str, pid: int, seconds: float) -> dict[str, object]:
    counts = {"answered": 0, "busy": 0, "errors": 0}

    def client(_: int, stop: threading.Event) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
            while not stop.is_set():
                body = {"model": "kb", "messages": [{"role": "user", "content": QUESTIONS[0]}]}
                try:
                    status = http.post("/v1/chat/completions", json=body).status_code
                except httpx.HTTPError:
                    status = 0
                key_ = "answered" if status == 200 else "busy" if status == 503 else "errors"
                counts[key_] += 1
                if status == 503:
                    time.sleep(0.5)

    memory = sample_soak(pid, seconds, 20, client)
    return {**counts, **memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,10,50,200")
    parser.add_argument("--questions", type=int, default=2)
    parser.add_argument("--answer-s", type=float, default=0.5)
    parser.add_argument("--real", action="store_true", help="the bundled model instead of the fake one")
    parser.add_argument("--timeout-s", type=float, default=600)
    parser.add_argument("--soak-s", type=float, default=0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.data_dir, args.answer_s, args.real)
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data_dir = Path(tempfile.mkdtemp(prefix="kb-load-"))
    command = [sys.executable, __file__, "--serve", str(port), "--data-dir", str(data_dir)]
    command += ["--answer-s", str(args.answer_s)] + (["--real"] if args.real else [])
    server = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while not (data_dir / "key").exists() or not _up(url):
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        key = (data_dir / "key").read_text(encoding="utf-8")
        rss_start = rss_mb(server.pid)
        levels = {}
        for clients in (int(x) for x in args.levels.split(",")):
            levels[str(clients)] = ask_many(url, key, clients, args.questions, args.timeout_s)
            print(json.dumps(levels[str(clients)]), flush=True)
        result: dict[str, object] = {
            "model": "bundled" if args.real else f"fake ({args.answer_s} s per answer)",
            "levels": levels,
            "errors": sum(int(str(v["errors"])) for v in levels.values()),
            "busy_p95_ms_max": max((v["busy_p95_ms"] or 0) for v in levels.values()),  # type: ignore[type-var]
            "rss_mb_start": round(rss_start, 1),
            "rss_mb_end": round(rss_mb(server.pid), 1),
        }
        if args.soak_s:
            result["soak"] = soak(url, key, server.pid, args.soak_s)
        print(json.dumps(result))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/models").status_code == 401  # up, and refusing the anonymous
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
