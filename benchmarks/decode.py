"""Our decode vs transformers `generate`: same model, same ~300-token prompt, greedy, same dtype, same process.

CPU (default): the bundled SmolLM2-135M-Instruct, fp32, plus our int8 weight-only variant. "ours" is the
step the engine uses by default: on CPU the C decode step (model.native; --no-native for the PyTorch
step). The eager PyTorch step is reported beside it, and with --compile the torch.compile'd step too.
GPU: `--device cuda --random llama-2-7b` times a Llama-2-7B-shaped model of random bf16 weights; "ours"
is then the engine's CUDA step, StaticStep (static shapes captured as CUDA graphs by torch.compile),
with the eager step beside it, and a --prefill-tokens prompt (2,000 by default) is timed through
both models' forward. With --streams N (16 by default) the same step also decodes N requests
together through the batching scheduler: `streams_speedup` is their aggregate tok/s over one
request's. Each phase's figures go to stderr as it ends ("partial: {...}"), and a phase that fails
is reported as "<phase>_error" while the others go on: a GPU is lent for minutes, not hours.
--context N gives our cache the engine's length (4096 for Llama-2; a step reads only the positions
it needs, in steps of 256, 512, ...). `--random tiny` is a two-layer model of the same shape
family, to try all of it on a CPU.
Prints one JSON line last. Runs disturbed by other processes (more than --max-others cores busy) are
repeated; the median of --runs undisturbed runs is reported.
"""

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.cpu_load import OthersCpu
from benchmarks.int8_gemv import seconds_per_call
from model.batching import BatchScheduler, BatchSettings
from model.decode_step import CompiledStep, DecodeStep, NativeStep, StaticStep, TorchStep
from model.engine import Engine
from model.generate import decode_tokens
from model.generation_config import GenerationConfig
from model.memory import place_in_huge_pages
from model.model import KVCache, Transformer
from model.quantize import Int8Linear, fused_gemv, quantize_int8, single_row_product

HELD_TEXT = Path(__file__).with_name("held_text.txt")
LLAMA2_7B = dict(
    vocab_size=32000,
    hidden_size=4096,
    intermediate_size=11008,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=32,
    max_position_embeddings=4096,
    rms_norm_eps=1e-5,
)
TINY = LLAMA2_7B | dict(
    hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2
)
RANDOM_CONFIGS = {"llama-2-7b": LLAMA2_7B, "tiny": TINY}


def timed(
    fn: Callable[[], Any], max_others: float, retries: int, sync: Callable[[], None]
) -> tuple[float, float]:
    """(seconds, other processes' cores) of fn(); re-run while another process disturbs it."""
    for _ in range(retries + 1):
        sync()
        with OthersCpu() as window:
            fn()
            sync()
        if window.others_cores <= max_others:
            break
    return window.wall_s, window.others_cores


def median_rate(
    run: Callable[[int], Any], new_tokens: int, args: argparse.Namespace, sync: Callable[[], None]
) -> dict[str, float]:
    """tok/s of decoding = (new_tokens - 1) / (time(new_tokens) - time(1)); TTFT = time(1)."""
    rates, ttfts, others = [], [], []
    for _ in range(args.runs):
        for _ in range(args.retries + 1):
            ttft, o1 = timed(lambda: run(1), args.max_others, args.retries, sync)
            total, o2 = timed(lambda: run(new_tokens), args.max_others, args.retries, sync)
            # A stall in the one-token run that outlasts the whole decode (a few ms on a tiny model
            # beside other work) would read as near-infinite tok/s: no measurement, take the pair again.
            if total > ttft:
                break
        rates.append((new_tokens - 1) / max(total - ttft, 1e-9))
        ttfts.append(ttft)
        others.append(max(o1, o2))
    return {
        "tok_s": statistics.median(rates),
        "ttft_ms": statistics.median(ttfts) * 1000,
        "others": max(others),
    }


def perplexity(model: Transformer, ids: torch.Tensor, step: DecodeStep | None = None) -> float:
    """Of the held text, through the step that decodes: one token at a time after the first, so the
    C step (or the compiled one) is what is measured, not the PyTorch prefill."""
    step = step or TorchStep()
    with torch.inference_mode():
        step.prepare(model)
        logits = [model(ids[:, :1], 0)[:, -1]]
        logits += [step.step(model, ids[:, pos : pos + 1], pos) for pos in range(1, ids.shape[1] - 1)]
    return float(torch.exp(torch.nn.functional.cross_entropy(torch.cat(logits).float(), ids[0, 1:])))


def streams_rate(
    model: Transformer, step: DecodeStep, prompt: list[int], new_tokens: int, streams: int, context: int
) -> float:
    """Aggregate decode tok/s of `streams` requests decoded together by the batching scheduler
    (model.batching), counted from when the last of them has its first token (prefill excluded)."""
    settings = BatchSettings(slots=streams, max_waiting=0)
    scheduler = BatchScheduler(model, max(context, len(prompt) + new_tokens), settings, step)
    warm_up = [scheduler.submit(prompt, GenerationConfig(max_new_tokens=3), frozenset()) for _ in range(streams)]
    for request in warm_up:  # the step's graph for this many rows is compiled here, not in the timing
        list(request)
    cfg = GenerationConfig(max_new_tokens=new_tokens)
    requests = [scheduler.submit(prompt, cfg, frozenset()) for _ in range(streams)]
    iterators = [iter(r) for r in requests]
    for tokens in iterators:
        next(tokens)
    start = time.perf_counter()
    produced = sum(sum(1 for _ in tokens) for tokens in iterators)
    return produced / (time.perf_counter() - start)


def load_pair(args: argparse.Namespace) -> tuple[Engine | None, Any, Any, str]:
    """(our engine or None for --random, HF model, our Transformer, model name)."""
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    from model.args import ModelArgs
    from model.bundled import bundled_gguf_path
    from model.loader import build_transformer
    from model.weights import Checkpoint, convert_hf_tensors

    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[args.dtype]
    if args.random:
        config = LlamaConfig(**RANDOM_CONFIGS[args.random])
        torch.manual_seed(0)
        with torch.device(args.device):
            hf = LlamaForCausalLM(config).to(dtype).eval()
        ours_args = ModelArgs.from_hf_config(config.to_dict())
        tensors = convert_hf_tensors(ours_args, dict(hf.state_dict()), "random", dtype)
        ours = build_transformer(Checkpoint(ours_args, tensors, {}), torch.device(args.device))
        return None, hf, ours, f"random {args.random}"
    engine = Engine.load("bundled", device=args.device, dtype=args.dtype, native=False)  # the eager step first
    path = bundled_gguf_path()
    hf = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=dtype)
    return engine, hf.to(args.device).eval(), engine.model, engine.name


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens two greedy runs share (bf16 kernels differ, so long runs may part)."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def prefill_ms(model_forward: Callable[[], Any], runs: int, sync: Callable[[], None]) -> float:
    """Median ms of a prompt's forward, after one warm-up."""
    with torch.inference_mode():
        model_forward()
        times = []
        for _ in range(runs):
            sync()
            start = time.perf_counter()
            model_forward()
            sync()
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def gemv_gb_s(model: Transformer, calls: int = 50) -> dict[str, float]:
    """GB/s of int8 weights read by the one-row product alone (captured in a CUDA graph on a GPU, as
    the step runs it), for each distinct shape of the first layer and the head."""
    found: dict[str, float] = {}
    for layer in [*model.layers[0].modules(), model.output]:
        if not isinstance(layer, Int8Linear) or f"{layer.out_features}x{layer.in_features}" in found:
            continue
        x = torch.randn(1, layer.in_features, device=layer.weight.device, dtype=layer.scales.dtype)
        with torch.inference_mode():
            seconds = seconds_per_call(single_row_product(layer.weight), (x, layer.weight, layer.scales), calls)
        # three significant figures: a tiny model's 16 KB product reads well under 0.05 GB/s on a busy CPU
        found[f"{layer.out_features}x{layer.in_features}"] = float(f"{layer.weight.numel() / seconds / 1e9:.3g}")
    return found


class Phases:
    """Runs the benchmark's phases in order; one that fails is reported and the rest go on."""

    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result

    def run(self, name: str, fn: Callable[[], dict[str, Any] | None]) -> None:
        start = time.perf_counter()
        try:
            self.result |= fn() or {}
        except Exception as error:  # reported, and the next phase still runs
            self.result[f"{name}_error"] = f"{type(error).__name__}: {error}"[:500]
        self.result[f"{name}_phase_s"] = round(time.perf_counter() - start, 1)
        print("partial:", json.dumps(self.result), file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="default: float32 on CPU, bfloat16 on CUDA")
    parser.add_argument("--random", choices=sorted(RANDOM_CONFIGS), default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--prompt-tokens", type=int, default=300)
    parser.add_argument("--prefill-tokens", type=int, default=None, help="default: 2000 on CUDA, 0 (skip) on CPU")
    parser.add_argument(
        "--context", type=int, default=0, help="our KV cache's length (the engine's context window, e.g. 4096); "
        "default: prompt + new tokens"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--retries", type=int, default=3, help="re-runs of a disturbed measurement")
    parser.add_argument("--max-others", type=float, default=None, help="cores other processes may use (CPU)")
    parser.add_argument("--no-int8", action="store_true")
    parser.add_argument("--no-native", action="store_true", help="no C decode step: 'ours' is the PyTorch step")
    parser.add_argument("--compile", action="store_true", help="also time the torch.compile'd step (about a minute)")
    parser.add_argument(
        "--static", action="store_true", help="time StaticStep (on by default on CUDA, where the engine uses it)"
    )
    parser.add_argument("--streams", type=int, default=16, help="also time this many requests batched (0: skip)")
    args = parser.parse_args()
    cuda = args.device == "cuda"
    args.dtype = args.dtype or ("bfloat16" if cuda else "float32")
    args.static = args.static or cuda
    if args.prefill_tokens is None:
        args.prefill_tokens = 2000 if cuda else 0
    if args.max_others is None:  # the CPU is not what a GPU run measures; compile workers use it
        args.max_others = float("inf") if cuda else 0.15
    torch.set_num_threads(args.threads)

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    engine, hf, ours, name = load_pair(args)
    if engine is not None:
        text_ids = engine.tokenizer.encode(HELD_TEXT.read_text())
        prompt = text_ids[: args.prompt_tokens]
    else:
        vocab = ours.args.vocab_size
        random_ids = torch.randint(3, vocab, (max(args.prompt_tokens, args.prefill_tokens),),
                                   generator=torch.Generator().manual_seed(0))  # fmt: skip
        text_ids = random_ids.tolist()
        prompt = text_ids[: args.prompt_tokens]
    hf.generation_config.eos_token_id = None  # time exactly new_tokens tokens on both sides
    hf.generation_config.pad_token_id = 0
    input_ids = torch.tensor([prompt], device=args.device)
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if cuda else f"cpu ({os.cpu_count()} cores)",
        "model": name,
        "dtype": args.dtype,
        "threads": args.threads,
        "prompt_tokens": len(prompt),
        "new_tokens": args.new_tokens,
        "context": max(args.context, len(prompt) + args.new_tokens),
        "torch": torch.__version__,
    }
    phases = Phases(result)

    def prefill_phase() -> dict[str, Any]:
        ids = torch.tensor([text_ids[: args.prefill_tokens]], device=args.device)
        ours.setup_caches(1, ids.shape[1])
        ours_ms = prefill_ms(lambda: ours(ids, 0, last_only=True), args.runs, sync)
        hf_ms = prefill_ms(lambda: hf(ids, logits_to_keep=1), args.runs, sync)
        ours.free_caches()  # decoding gets a cache of its own length (StaticStep reads all of it)
        return {"prefill_tokens": ids.shape[1], "prefill_ms": round(ours_ms, 1), "hf_prefill_ms": round(hf_ms, 1)}

    if args.prefill_tokens:
        phases.run("prefill", prefill_phase)
    ours.setup_caches(1, max(args.context, len(prompt) + args.new_tokens))

    step: DecodeStep = TorchStep()

    def run_ours(n: int) -> list[int]:
        return list(decode_tokens(ours, prompt, GenerationConfig(max_new_tokens=n), frozenset(), step))

    def run_hf(n: int) -> list[int]:
        with torch.inference_mode():
            out = hf.generate(input_ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)
        return out[0, len(prompt) :].tolist()

    run_ours(4), run_hf(4)  # warm-up: allocator, thread pools
    reference = run_hf(args.new_tokens)
    agree = {"eager": common_prefix(run_ours(args.new_tokens), reference)}

    def step_alone_ms(step: DecodeStep, calls: int = 30) -> dict[str, float]:
        """ms per decode step alone (no sampling, no streaming): back to back, and waiting for
        each; against 1000 / tok_s this says what the generation loop around the step costs."""
        token = torch.tensor([[prompt[-1]]], device=args.device)
        with torch.inference_mode():
            step.prepare(ours)
            step.step(ours, token, len(prompt))
            sync()
            start = time.perf_counter()
            for _ in range(calls):
                step.step(ours, token, len(prompt))
            sync()
            back_to_back = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(calls):
                step.step(ours, token, len(prompt))
                sync()
            waiting = time.perf_counter() - start
        return {"queued": round(back_to_back / calls * 1000, 3), "waited": round(waiting / calls * 1000, 3)}

    step_ms = {"eager": step_alone_ms(TorchStep())}
    rates = {"eager": median_rate(run_ours, args.new_tokens, args, sync)}
    hf_m = median_rate(run_hf, args.new_tokens, args, sync)

    def timed_step(label: str, make: Callable[[], DecodeStep]) -> Callable[[], None]:
        def phase() -> None:
            nonlocal step
            step = make()
            run_ours(4)  # compiles (or binds the C step) outside the timing
            agree[label] = common_prefix(run_ours(args.new_tokens), reference)
            rates[label] = median_rate(run_ours, args.new_tokens, args, sync)
            step_ms[label] = step_alone_ms(step)
        return phase

    if args.compile:
        phases.run("compiled", timed_step("compiled", lambda: CompiledStep(ours)))
    if args.static:
        phases.run("static", timed_step("static", lambda: StaticStep(ours, compile=True)))
    native = not args.no_native and not cuda
    if native:
        phases.run("native", timed_step("native", lambda: NativeStep(ours)))
    best = next(s for s in ("native", "static", "compiled", "eager") if s in rates)
    step = step if best != "eager" else TorchStep()  # the last step timed is the best one
    ours_m = rates[best]
    result |= {
        "ours_step": best,
        "ours_tok_s": round(ours_m["tok_s"], 2),
        "hf_tok_s": round(hf_m["tok_s"], 2),
        "ratio": round(ours_m["tok_s"] / hf_m["tok_s"], 3),
        "ours_ttft_ms": round(ours_m["ttft_ms"], 1),
        "hf_ttft_ms": round(hf_m["ttft_ms"], 1),
        "tokens_identical": agree[best] == args.new_tokens,
        "tokens_agreeing_by_step": agree,
        "step_ms_by_step": step_ms,
        **{f"{label}_tok_s": round(m["tok_s"], 2) for label, m in rates.items()},
        **{f"{label}_ratio": round(m["tok_s"] / hf_m["tok_s"], 3) for label, m in rates.items()},
        "others_cores_max": round(max(m["others"] for m in [hf_m, *rates.values()]), 2),
    }
    print("partial:", json.dumps(result), file=sys.stderr, flush=True)

    def streams_phase() -> dict[str, Any]:
        with torch.inference_mode():
            rate = streams_rate(ours, step, prompt, args.new_tokens, args.streams, args.context)
        sync()
        return {
            "streams": args.streams,
            "streams_tok_s": round(rate, 2),
            "streams_speedup": round(rate / ours_m["tok_s"], 2),
        }

    if args.streams:
        phases.run("streams", streams_phase)

    def int8_phase() -> dict[str, Any]:
        nonlocal step
        ppl_ids = torch.tensor([text_ids if engine is not None else prompt], device=args.device)
        ours.free_caches()
        ours.setup_caches(1, max(ppl_ids.shape[1], args.context, len(prompt) + args.new_tokens))
        base_ppl = perplexity(ours, ppl_ids, step)
        quantize_int8(ours)
        if not cuda:
            place_in_huge_pages(ours, skip=(KVCache,))  # as Engine.load does after quantising
        if best == "static":
            step = StaticStep(ours, compile=True)  # a fresh graph for the int8 layers
        elif best == "compiled":
            step = CompiledStep(ours)
        run_ours(4)  # binds the C step to the int8 weights (or compiles the fused kernels) outside the timing
        int8_m = median_rate(run_ours, args.new_tokens, args, sync)
        product = {}  # which one-row product the PyTorch step ran, and its own speed
        if best != "native":
            chosen = single_row_product(ours.output.weight)
            product = {
                "int8_product": "inductor" if chosen is fused_gemv() else "triton",
                "int8_gemv_gb_s": gemv_gb_s(ours),
            }
        return {
            **product,
            "int8_step_ms": step_alone_ms(step),
            "int8_tok_s": round(int8_m["tok_s"], 2),
            "int8_ratio": round(int8_m["tok_s"] / hf_m["tok_s"], 3),
            "int8_over_ours": round(int8_m["tok_s"] / ours_m["tok_s"], 3),
            "int8_ttft_ms": round(int8_m["ttft_ms"], 1),
            "int8_ppl_delta": round((perplexity(ours, ppl_ids, step) - base_ppl) / base_ppl, 4),
            "int8_others_cores_max": round(int8_m["others"], 2),
        }

    if not args.no_int8:
        phases.run("int8", int8_phase)
    print(json.dumps(result))


if __name__ == "__main__":
    time.sleep(0)
    main()
