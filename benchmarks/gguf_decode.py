"""Our C decode step on a GGUF file's own blocks against llama.cpp (xllamacpp) on the same file.

One run, same thread count, same prompt (token ids taken from benchmarks/held_text.txt), greedy,
exactly --new-tokens tokens on both sides, medians of --runs. llama.cpp runs in a child process that
has exited before ours is timed: its OpenMP workers keep spinning after a request and, in one
process, would steal the cores our step's threads wait on (measured: ours fell from 160 to 7 tok/s).
Decode rate = tokens after the first / time after the first (llama.cpp: its own `predicted_per_second`).
Our resident memory is measured before llama.cpp loads: the growth of this process's RSS while the
model loads, its KV cache is allocated and a first few tokens bind the step (with the strips of
model/csrc/strip_kernels.h where they are built), against the file size plus that cache.

Files: the bundled SmolLM2-135M Q4_1 file, and any --gguf PATH (e.g. benchmarks/split_gguf.py's
Qwen2.5-Coder Q4_K_M). Needs `pip install -e .[bench]` (xllamacpp). Prints one JSON line last.
"""

import argparse
import collections
import functools
import gc
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.bundled import bundled_gguf_path
from model.decode_step import NativeStep
from model.engine import Engine
from model.generate import decode_tokens
from model.generation_config import GenerationConfig
from model.loader import load_transformer
from model.native import load_library
from model.tokenizer import Tokenizer

HELD_TEXT = Path(__file__).with_name("held_text.txt")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def describe_file(path: Path) -> tuple[str, int]:
    """(main block type by values, parameter count) from the GGUF's tensor table."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    by_type: collections.Counter[str] = collections.Counter()
    for tensor in reader.tensors:
        by_type[tensor.tensor_type.name] += int(tensor.n_elements)
    return by_type.most_common(1)[0][0], sum(by_type.values())


def ours_rate(engine: Engine, prompt: list[int], new_tokens: int) -> float:
    cfg = GenerationConfig(max_new_tokens=new_tokens)
    stamps = [time.perf_counter() for _ in decode_tokens(engine.model, prompt, cfg, frozenset(), engine.step)]
    assert isinstance(engine.step, NativeStep) and engine.step.decoder is not None, "the C step did not serve"
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0


def cpu_rate(run: Callable[[int], object], new_tokens: int) -> float:
    """Tokens per second of this process's CPU time: (n - 1) / (cpu(n) - cpu(1)), prefill cancelling
    out. On a shared machine it is what one thread would reach alone; only meaningful with --threads 1
    (with more, waiting threads spin and count)."""
    start = time.process_time()
    run(new_tokens)
    middle = time.process_time()
    run(1)
    return (new_tokens - 1) / max((middle - start) - (time.process_time() - middle), 1e-9)


def llamacpp_rates(path: Path, prompt: list[int], args: argparse.Namespace) -> tuple[list[float], list[float]]:
    """llama.cpp's decode rates (wall, CPU time), measured in a child process (see the module docstring)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_llamacpp_child, (path, prompt, args.threads, args.new_tokens, args.runs))


def _llamacpp_child(
    path: Path, prompt: list[int], threads: int, new_tokens: int, runs: int
) -> tuple[list[float], list[float]]:
    server = llamacpp_server(path, threads, len(prompt) + new_tokens + 16)
    llamacpp_rate(server, prompt, 4)  # warm
    rates = [llamacpp_rate(server, prompt, new_tokens) for _ in range(runs)]
    return rates, [cpu_rate(lambda n: llamacpp_rate(server, prompt, n), new_tokens) for _ in range(runs)]


def llamacpp_server(path: Path, threads: int, context: int) -> Any:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = context
    params.n_parallel = 1
    params.n_gpu_layers = 0
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    return xllamacpp.Server(params)


def llamacpp_rate(server: Any, prompt: list[int], new_tokens: int) -> float:
    request = {"prompt": prompt, "max_tokens": new_tokens, "temperature": 0, "ignore_eos": True, "cache_prompt": False}
    timings = server.handle_completions(request)["timings"]
    if new_tokens > 1 and timings["predicted_n"] != new_tokens:
        raise RuntimeError(f"llama.cpp produced {timings['predicted_n']} tokens, not {new_tokens}")
    return float(timings["predicted_per_second"])


@functools.cache
def warm_imports() -> None:
    """Load the bundled file once and drop it: loading imports ~850 modules (torch's lazy parts,
    sympy), ~45 MB that every process holds anyway and that are no model's memory."""
    model, _ = load_transformer(bundled_gguf_path(), "cpu", "float32", keep_blocks=True)
    del model


def bench_file(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    quant, params = describe_file(path)
    tokenizer = Tokenizer.from_gguf(path)
    prompt = tokenizer.encode(HELD_TEXT.read_text())[: args.prompt_tokens]
    context = len(prompt) + args.new_tokens
    load_library()  # built before the memory is measured
    warm_imports()
    gc.collect()
    before = rss_bytes()
    model, _ = load_transformer(path, "cpu", "float32", keep_blocks=True)  # as Engine.load does
    model.setup_caches(1, context)
    kv_bytes = sum(b.nbytes for b in model.buffers() if b.dtype == torch.float32 and b.dim() == 4)
    engine = Engine(model, tokenizer, path.stem, step=NativeStep(model))
    ours_rate(engine, prompt, 4)  # warm: binds the step (and builds the strips, where it does)
    gc.collect()
    resident = rss_bytes() - before  # the model as it decodes: blocks, strips, norms and KV cache
    theirs, theirs_cpu = llamacpp_rates(path, prompt, args)
    ours = [ours_rate(engine, prompt, args.new_tokens) for _ in range(args.runs)]
    run_ours = functools.partial(ours_rate, engine, prompt)
    ours_cpu = [cpu_rate(run_ours, args.new_tokens) for _ in range(args.runs)]
    row = {
        "name": path.name,
        "quant": quant,
        "params": params,
        "ours_tok_s": round(statistics.median(ours), 2),
        "llamacpp_tok_s": round(statistics.median(theirs), 2),
        "ours_runs": [round(r, 2) for r in ours],
        "llamacpp_runs": [round(r, 2) for r in theirs],
        "file_mb": round(path.stat().st_size / 2**20, 1),
        "kv_cache_mb": round(kv_bytes / 2**20, 1),
        "ours_resident_mb": round(resident / 2**20, 1),
    }
    row["ratio"] = round(row["ours_tok_s"] / row["llamacpp_tok_s"], 3)
    if args.threads == 1:
        row["ours_tok_per_cpu_s"] = round(statistics.median(ours_cpu), 2)
        row["llamacpp_tok_per_cpu_s"] = round(statistics.median(theirs_cpu), 2)
        row["ratio_cpu_time"] = round(row["ours_tok_per_cpu_s"] / row["llamacpp_tok_per_cpu_s"], 3)
    row["resident_over_file_plus_kv"] = round(resident / (path.stat().st_size + kv_bytes), 3)
    del engine
    gc.collect()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gguf", type=Path, action="append", default=[], help="another GGUF file to compare on")
    parser.add_argument("--no-bundled", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # the C step's thread count
    paths = ([] if args.no_bundled else [bundled_gguf_path()]) + args.gguf
    files = []
    for path in paths:
        files.append(bench_file(path, args))
        print(json.dumps(files[-1]), flush=True)
    load = os.getloadavg()[0]  # this machine is shared: a busy one slows both sides unevenly
    summary = {"threads": args.threads, "load_average_1min": load, "files": files}
    print(json.dumps(summary | {"min_ratio": min(f["ratio"] for f in files)}))


if __name__ == "__main__":
    main()
