"""Batched products on Q4_1 / Q8_0 weights repacked into strips of 16 rows (model/csrc/strip_kernels.h):
equal to the dequantised weights times the activations rounded to 8 bits in blocks of 32, whatever
the row count, parts and bias; off where int8 activations are turned off; and the decoder's tokens and
logits stay bit for bit the same batched or alone, and whatever the thread count."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType

from model.gguf_quant import GGUFLinear
from model.loader import load_transformer
from model.native import NativeDecoder, batch_kernel
from model.native_quant import int8_activations, quant_matrix, repack_strips, strip_matvec
from tests.model.test_generate import prompt as random_ids
from tests.model.test_gguf_kernels import random_rows, reference
from tests.model.test_gguf_models import FILES

Q4_1, Q8_0, Q4_K = (int(t) for t in (GGMLQuantizationType.Q4_1, GGMLQuantizationType.Q8_0, GGMLQuantizationType.Q4_K))


def strips_here() -> bool:
    module = linear([(Q4_1, 16)], 32, seed=0)
    matrix, _ = quant_matrix(module, 16, 32)
    return repack_strips(matrix) is not None


needs_strips = pytest.mark.skipif("not strips_here()", reason="no AVX-512 VNNI here (or AMX serves batches)")


def linear(parts: list[tuple[int, int]], cols: int, seed: int, bias: bool = False) -> GGUFLinear:
    module = GGUFLinear(cols, parts, bias=bias)
    for i, ((type_id, rows), tensor) in enumerate(zip(parts, module.parts(), strict=True)):
        tensor.copy_(torch.from_numpy(random_rows(type_id, rows, cols, seed=seed + i)))
    if module.bias is not None:
        module.bias.data = torch.randn(module.out_features, generator=torch.Generator().manual_seed(seed))
    return module


def dequantised(module: GGUFLinear) -> np.ndarray:
    pieces = [reference(part.numpy(), type_id) for part, type_id in zip(module.parts(), module.part_types, strict=True)]
    return np.concatenate(pieces).astype(np.float64)


def rounded_to_8_bits_in_32s(x: torch.Tensor) -> torch.Tensor:
    """x [B, K] as the strips see it: int8 per block of 32 with scale max|x| / 127, nearest even."""
    blocks = x.float().reshape(x.shape[0], -1, 32)
    top = blocks.abs().amax(-1, keepdim=True)
    inverse = torch.where(top > 0, 127.0 / torch.where(top > 0, top, 1.0), 0.0)
    return (torch.round(blocks * inverse).clamp(-127, 127) * (top / 127.0)).reshape(x.shape)


SHAPES = {
    "q4_1": ([(Q4_1, 48)], False),
    "q4_1 rows past the last strip, bias": ([(Q4_1, 37)], True),
    "q8_0": ([(Q8_0, 40)], False),
    "q4_1 + q8_0 parts across a strip": ([(Q4_1, 20), (Q8_0, 13), (Q4_1, 7)], True),
}


@needs_strips
@pytest.mark.parametrize("name", SHAPES)
def test_strip_products_equal_dequantised_weights_times_8_bit_activations(name: str) -> None:
    parts, bias = SHAPES[name]
    cols, batch = 192, 11  # a full pass of 8 activation rows and a partial one
    module = linear(parts, cols, seed=len(name), bias=bias)
    x = torch.randn(batch, cols, generator=torch.Generator().manual_seed(5)) * torch.linspace(0.1, 3, cols)
    got = strip_matvec(module, x)
    assert got is not None and got.shape == (batch, module.out_features)
    weight = dequantised(module)
    rounded = rounded_to_8_bits_in_32s(x).double().numpy()
    expected = rounded @ weight.T + (0 if module.bias is None else module.bias.detach().double().numpy())
    magnitude = np.abs(rounded) @ np.abs(weight).T
    assert np.all(np.abs(got.double().numpy() - expected) <= 1e-5 * magnitude + 1e-6)
    # The rounding is real (the products are not the exact ones) but within 8 bits per 32 values.
    exact = x.double().numpy() @ weight.T + (0 if module.bias is None else module.bias.detach().double().numpy())
    assert np.all(np.abs(got.double().numpy() - exact) <= 0.02 * magnitude + 1e-6)
    assert not np.allclose(got.double().numpy(), exact, rtol=0, atol=1e-6 * float(magnitude.max()))


@needs_strips
def test_strips_serve_only_q4_1_and_q8_0_and_follow_the_int8_switch() -> None:
    matrix, _ = quant_matrix(linear([(Q4_K, 16)], 256, seed=3), 16, 256)
    assert repack_strips(matrix) is None  # k-quants keep their own kernels
    module = linear([(Q4_1, 16)], 64, seed=4)
    was = int8_activations()
    try:
        int8_activations(False)
        assert strip_matvec(module, torch.randn(2, 64)) is None
    finally:
        int8_activations(was)


@contextmanager
def threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@needs_strips
def test_batched_gguf_steps_on_strips_do_not_depend_on_threads_or_neighbours(tmp_path: Path) -> None:
    """Three threads split the rows mid-strip (the bundled model's splits are whole strips): each
    row's sums are the same, alone or in a batch, on one thread or three."""
    path = FILES["q4_1"].write(tmp_path / "q4_1.gguf", seed=9)
    model, _ = load_transformer(path, "cpu", "float32", keep_blocks=True)
    assert batch_kernel(model) == "AVX-512 VNNI on 8-bit activations (Q4_1/Q8_0 rows repacked)"
    model.setup_caches(6, 32)
    decoder = NativeDecoder(model)
    tokens = torch.tensor([t % FILES["q4_1"].vocab for t in random_ids(11, 6)])
    positions, slots = torch.zeros(6, dtype=torch.long), torch.arange(6)
    with torch.inference_mode():
        with threads(1):
            one = decoder.step_rows(tokens, positions, slots)
        with threads(3):
            three = decoder.step_rows(tokens, positions, slots)
            alone = [decoder.step_rows(tokens[b : b + 1], positions[b : b + 1], slots[b : b + 1])[0] for b in range(6)]
    assert torch.equal(one, three)
    assert all(torch.equal(three[b], alone[b]) for b in range(6))


@needs_strips
def test_strips_are_built_once_only_where_they_fit_and_can_be_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = FILES["q4_1"].write(tmp_path / "q4_1.gguf", seed=2)
    model, _ = load_transformer(path, "cpu", "float32", keep_blocks=True)
    model.setup_caches(2, 16)
    first = NativeDecoder(model)
    w2 = model.layers[0].feed_forward.w2
    strips = w2._batch_strips[1]
    model.setup_caches(3, 16)  # new caches: the step is bound afresh, the strips are the same memory
    again = NativeDecoder(model)
    assert w2._batch_strips[1] is strips
    assert first._quant_structs[3].strips == again._quant_structs[3].strips == strips.data_ptr()
    bf16 = {1: "AMX tiles in bf16", 2: "AVX-512 BF16 dot products"}.get(first.library.kb_batch_kernel(), "fp32 FMA")
    monkeypatch.setenv("KB_BATCH_STRIPS", "0")
    assert batch_kernel(model) == bf16
    assert all(matrix.strips is None for matrix in NativeDecoder(model)._quant_structs)
    monkeypatch.delenv("KB_BATCH_STRIPS")
    monkeypatch.setattr("model.native_quant.available_memory_bytes", lambda: 3 * strips.numel())
    fresh, _ = load_transformer(path, "cpu", "float32", keep_blocks=True)  # holds no strips yet
    assert batch_kernel(fresh) == bf16  # all the model's strips would take more than a quarter of it
    # Strips built at an earlier bind are out of the free memory already: a rebind keeps them.
    model.setup_caches(2, 16)
    assert batch_kernel(model) != bf16
    assert NativeDecoder(model)._quant_structs[3].strips == strips.data_ptr()



@needs_strips
def test_one_request_and_beams_decode_on_the_strips_too(tmp_path: Path) -> None:
    """On strips one row is fastest through the batch path: a request alone (or beams) gets the
    tokens the batching engine would give it, not the one-row fp32 products'."""
    path = FILES["q4_1"].write(tmp_path / "q4_1.gguf", seed=4)
    model, _ = load_transformer(path, "cpu", "float32", keep_blocks=True)
    model.setup_caches(2, 16)
    decoder = NativeDecoder(model)
    assert decoder.on_strips
    tokens = torch.tensor([[5], [17]])
    with torch.inference_mode():
        stepped = decoder.step(tokens, 0)
        batched = decoder.step_rows(tokens, torch.zeros(2, dtype=torch.long), torch.arange(2), row_tiles=True)
        one_row = decoder.step_rows(tokens, torch.zeros(2, dtype=torch.long), torch.arange(2), row_tiles=False)
    assert torch.equal(stepped, batched)
    assert not torch.equal(stepped, one_row)
