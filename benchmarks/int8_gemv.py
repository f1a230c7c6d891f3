"""One-row products of Llama-2-7B's weight shapes: our int8 Triton kernel (model.triton_gemv) vs the
bf16 matmul (`F.linear`, cuBLAS) on the same shapes, in the same run, and optionally (--inductor)
Inductor's fused int8 loop (model.quantize.fused_gemv), which the kernel replaces.

A decode step is these products back to back, each reading its whole weight once, so GB/s of weights
read is the figure: int8 decodes 1.6x faster than bf16 only if its bytes go at nearly the same speed.
Each product is checked against the dequantised product in float32 (max relative error).
CUDA only (Triton's interpreter on CPU runs it too, slowly: --shapes tiny). Prints one JSON line last.
"""

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model import triton_gemv
from model.quantize import Int8Linear, fused_gemv

SHAPES = {  # (out rows, in width) of each matrix a 7B layer and the head read
    "7b": {"wqkv": (12288, 4096), "wo": (4096, 4096), "w13": (22016, 4096), "w2": (4096, 11008), "head": (32000, 4096)},
    "tiny": {"a": (37, 300), "b": (64, 1100)},
}


def seconds_per_call(fn: Callable[..., torch.Tensor], inputs: tuple[torch.Tensor, ...], calls: int) -> float:
    """On CUDA, `calls` calls captured in one CUDA graph and replayed, as a decode step runs them: timed
    one launch at a time, a 60 us product measured Python's launch cost, not the kernel."""
    for _ in range(3):  # Triton's autotuning and cuBLAS's workspace happen here, not in the capture
        fn(*inputs)
    if not inputs[0].is_cuda:
        start = time.perf_counter()
        for _ in range(calls):
            fn(*inputs)
        return (time.perf_counter() - start) / calls
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn(*inputs)
    graph.replay()
    torch.cuda.synchronize()
    start = time.perf_counter()
    graph.replay()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / calls


def tile_choice(autotuner: Any) -> dict[str, Any]:
    """The tile the kernel's timing chose for the shape just run, and the best time of each way of
    reading the weights (whole words or bytes) among the tiles it timed."""
    timings = getattr(autotuner, "configs_timings", None) or {}
    best: dict[str, float] = {}
    for config, times in timings.items():
        way = "words" if config.kwargs.get("PACKED") else "bytes"
        ms = times[0] if isinstance(times, list | tuple) else times  # do_bench: milliseconds
        best[way] = min(best.get(way, float("inf")), float(ms))
    chosen = autotuner.best_config
    return {"tile": {**chosen.kwargs, "num_warps": chosen.num_warps}} | {
        f"best_{way}_us": round(ms * 1e3, 1) for way, ms in sorted(best.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shapes", choices=sorted(SHAPES), default="7b")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--inductor", action="store_true", help="also Inductor's fused loop (a compile per shape)")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    device, dtype = ("cuda", torch.bfloat16) if cuda else ("cpu", torch.float32)

    if triton_gemv.runner() == "none":
        sys.exit("No Triton kernel here: a CUDA device (or TRITON_INTERPRET=1 with Triton installed) is needed.")
    kernel = triton_gemv.int8_gemv
    result: dict[str, object] = {"device": torch.cuda.get_device_name() if cuda else "cpu (interpreter)"}
    by_shape: dict[str, dict[str, float]] = {}
    int8_total = bf16_total = 0.0
    with torch.inference_mode():
        for name, (rows, width) in SHAPES[args.shapes].items():
            torch.manual_seed(0)
            weight = torch.randn(rows, width, device=device, dtype=dtype) * 0.02
            layer = Int8Linear(weight)
            x = torch.randn(1, width, device=device, dtype=dtype)
            got = kernel(x, layer.weight, layer.scales).float()
            expected = (x.float() @ layer.weight.float().T) * layer.scales.float()
            error = float(((got - expected).abs().max() / expected.abs().max()).item())
            int8_s = seconds_per_call(kernel, (x, layer.weight, layer.scales), args.calls)
            bf16_s = seconds_per_call(F.linear, (x, weight), args.calls)
            figures = {
                "int8_gb_s": round(layer.weight.numel() / int8_s / 1e9, 1),
                "bf16_gb_s": round(weight.numel() * weight.element_size() / bf16_s / 1e9, 1),
                "int8_us": round(int8_s * 1e6, 1),
                "bf16_us": round(bf16_s * 1e6, 1),
                "speedup": round(bf16_s / int8_s, 2),
                "max_rel_error": round(error, 5),
            }
            if cuda:
                figures |= tile_choice(triton_gemv._kernel())
            if args.inductor:
                inductor_s = seconds_per_call(fused_gemv(), (x, layer.weight, layer.scales), args.calls)
                figures["inductor_int8_gb_s"] = round(layer.weight.numel() / inductor_s / 1e9, 1)
            by_shape[name] = figures
            int8_total += int8_s
            bf16_total += bf16_s
            print("partial:", name, json.dumps(figures), file=sys.stderr, flush=True)
    # each shape once: a layer's four products and the head
    result |= {"shapes": by_shape, "speedup_all_shapes": round(bf16_total / int8_total, 2)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
