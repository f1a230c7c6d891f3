"""Checks of model.triton_gemv run by Triton's interpreter. Triton reads TRITON_INTERPRET when it is
imported (torch._dynamo imports it), so tests/model/test_triton_gemv.py runs each of these in a fresh
Python with the variable set: `python -m tests.model.triton_checks NAME TMPDIR`."""

import sys
from pathlib import Path

import torch

from model import quantize, triton_gemv
from model.decode_step import TorchStep
from model.generate import decode_tokens
from model.generation_config import GenerationConfig
from model.quantize import Int8Linear, quantize_int8
from tests.model.test_generate import prompt as random_ids
from tests.model.test_native import ODD, build


def reference(x: torch.Tensor, layer: Int8Linear) -> torch.Tensor:
    """The same product dequantised in float64."""
    return (x.double() @ layer.weight.double().T) * layer.scales.double()


def products_match(_: Path) -> None:
    """Rows and widths that fill no tile exactly: the masks must keep the edges out. Widths of a
    multiple of four go through whole words of four weights, the others byte by byte; the extreme
    bytes must come out as they went in."""
    for rows, width in ((37, 300), (64, 2048), (5, 1100), (1, 16), (3, 4097), (9, 302)):
        torch.manual_seed(rows)
        layer = Int8Linear(torch.randn(rows, width))
        layer.weight[0, :8] = torch.tensor([-128, 127, -127, 0, 1, -1, 64, -65], dtype=torch.int8)
        x = torch.randn(1, width)
        got = triton_gemv.int8_gemv(x, layer.weight, layer.scales)
        assert got.shape == (1, rows) and got.dtype == torch.float32, (got.shape, got.dtype)
        torch.testing.assert_close(got.double(), reference(x, layer), rtol=1e-5, atol=1e-4)


def bfloat16_stays_bfloat16(_: Path) -> None:
    torch.manual_seed(1)
    layer = Int8Linear(torch.randn(48, 512).bfloat16())
    x = torch.randn(1, 512).bfloat16()
    got = triton_gemv.int8_gemv(x, layer.weight, layer.scales)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.double(), reference(x, layer), rtol=2e-2, atol=0.1)


def model_decodes_the_same(folder: Path) -> None:
    """Every one-row product of the decode step goes through the kernel, and greedy decoding gives the
    tokens Inductor's fused loop gives."""
    _, model = build(folder, seed=3, **ODD)
    quantize_int8(model)
    prompt, cfg = random_ids(4, 20), GenerationConfig(max_new_tokens=12)
    model.setup_caches(1, 64)
    assert quantize.single_row_product(model.output.weight) is triton_gemv.int8_gemv
    calls = 0
    real = triton_gemv.launch

    def counted(*args):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return real(*args)

    triton_gemv.launch = counted
    through_kernel = list(decode_tokens(model, prompt, cfg, frozenset(), TorchStep()))
    triton_gemv.launch = real
    layers = len(model.layers)
    # 11 one-row steps of 4 products a layer and the head, and the prefill's head on its last row
    assert calls == 11 * (4 * layers + 1) + 1, calls
    quantize.single_row_product = lambda weight: quantize.fused_gemv()  # Inductor's loop instead
    through_inductor = list(decode_tokens(model, prompt, cfg, frozenset(), TorchStep()))
    assert through_kernel == through_inductor and len(through_kernel) == 12, (through_kernel, through_inductor)


if __name__ == "__main__":
    globals()[sys.argv[1]](Path(sys.argv[2]))
    print("ok")
