"""Products on GGUF blocks as stored (C kernels, PyTorch dequantiser) against the gguf package's
dequantise-then-multiply, for every block type the decoder reads, on random blocks."""

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType
from gguf.quants import dequantize

from model.gguf_quant import LAYOUTS, QUANTIZED_TYPES, dequantize_rows
from model.native_quant import int8_activations, native_dequantize_rows, native_matvec, native_matvec_q8

# Byte offsets of each block's f16 scales: random bytes there could be inf or NaN.
HALF_FIELDS = {2: [0], 3: [0, 2], 6: [0], 7: [0, 2], 8: [0], 12: [0, 2], 13: [0, 2], 14: [208]}
TYPES = sorted(QUANTIZED_TYPES)


def random_rows(type_id: int, rows: int, cols: int, seed: int) -> np.ndarray:
    """[rows, row_bytes] uint8 of random blocks with finite scales of either sign."""
    layout = LAYOUTS[type_id]
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(rows * cols // layout.block_values, layout.block_bytes), dtype=np.uint8)
    for at in HALF_FIELDS[type_id]:
        scales = rng.uniform(-0.05, 0.05, size=blocks.shape[0]).astype(np.float16)
        blocks[:, at : at + 2] = scales.view(np.uint8).reshape(-1, 2)
    return blocks.reshape(rows, -1)


def reference(rows: np.ndarray, type_id: int) -> np.ndarray:
    return np.asarray(dequantize(rows, GGMLQuantizationType(type_id)), dtype=np.float32)


@pytest.mark.parametrize("type_id", TYPES, ids=[LAYOUTS[t].name for t in TYPES])
def test_c_matvec_equals_dequantise_then_multiply(type_id: int) -> None:
    rows, cols = 24, 768
    blocks = random_rows(type_id, rows, cols, seed=type_id)
    x = torch.randn(cols, generator=torch.Generator().manual_seed(type_id))
    weight = reference(blocks, type_id).astype(np.float64)
    expected = weight @ x.double().numpy()
    got = native_matvec(torch.from_numpy(blocks), type_id, x).double().numpy()
    # fp32 rounding of a sum of `cols` products: relative to the sum of their magnitudes.
    bound = 1e-5 * (np.abs(weight) @ np.abs(x.double().numpy()))
    assert np.all(np.abs(got - expected) <= bound), np.max(np.abs(got - expected) / bound)


def rounded_to_8_bits(x: torch.Tensor) -> torch.Tensor:
    """x [..., K] as the 8-bit activation kernels see it: int8 in blocks of 256 with scale
    max|x| / 127, rounded to nearest even, all in float32 as the C code computes it."""
    blocks = x.float().reshape(*x.shape[:-1], -1, 256)
    top = blocks.abs().amax(-1, keepdim=True)
    inverse = torch.where(top > 0, 127.0 / torch.where(top > 0, top, 1.0), 0.0)
    q = torch.round(blocks * inverse).clamp(-127, 127)
    return (q * (top / 127.0)).reshape(x.shape)


K_QUANTS = [GGMLQuantizationType.Q4_K, GGMLQuantizationType.Q5_K, GGMLQuantizationType.Q6_K]


@pytest.mark.parametrize("type_id", [int(t) for t in K_QUANTS], ids=[t.name for t in K_QUANTS])
def test_8_bit_activation_products_equal_the_dequantised_weights_times_the_rounded_activations(type_id: int) -> None:
    if not int8_activations():
        pytest.skip("no AVX-512 VNNI here: the fp32 kernels serve every type")
    rows, cols = 24, 1024
    blocks = random_rows(type_id, rows, cols, seed=200 + type_id)
    x = torch.randn(cols, generator=torch.Generator().manual_seed(type_id)) * torch.linspace(0.1, 3, cols)
    weight = reference(blocks, type_id).astype(np.float64)
    got = native_matvec_q8(torch.from_numpy(blocks), type_id, x)
    assert got is not None
    rounded = rounded_to_8_bits(x).double().numpy()
    magnitude = np.abs(weight) @ np.abs(rounded)
    assert np.all(np.abs(got.double().numpy() - weight @ rounded) <= 1e-5 * magnitude)
    # and the rounding itself stays within what 8 bits per 256 values allow
    exact = weight @ x.double().numpy()
    assert np.all(np.abs(got.double().numpy() - exact) <= 0.02 * magnitude)
    assert not np.allclose(got.double().numpy(), exact, rtol=0, atol=1e-6 * float(magnitude.max()))


def test_8_bit_activations_serve_only_k_quants_and_can_be_turned_off() -> None:
    blocks = random_rows(int(GGMLQuantizationType.Q4_0), 2, 256, seed=1)
    assert native_matvec_q8(torch.from_numpy(blocks), int(GGMLQuantizationType.Q4_0), torch.randn(256)) is None
    k_blocks = torch.from_numpy(random_rows(int(GGMLQuantizationType.Q4_K), 2, 256, seed=1))
    was = int8_activations()
    try:
        assert int8_activations(False) is False
        assert native_matvec_q8(k_blocks, int(GGMLQuantizationType.Q4_K), torch.randn(256)) is None
    finally:
        int8_activations(was)


@pytest.mark.parametrize("type_id", TYPES, ids=[LAYOUTS[t].name for t in TYPES])
def test_dequantisers_equal_gguf_bit_for_bit(type_id: int) -> None:
    """The PyTorch path (prefill, GPU) and the C embedding lookup give gguf's values exactly."""
    rows, cols = 5, 512
    blocks = random_rows(type_id, rows, cols, seed=100 + type_id)
    expected = torch.from_numpy(reference(blocks, type_id))
    assert torch.equal(dequantize_rows(torch.from_numpy(blocks), type_id, cols), expected)
    assert torch.equal(native_dequantize_rows(torch.from_numpy(blocks), type_id, cols), expected)


def test_a_type_without_kernels_is_refused() -> None:
    with pytest.raises(Exception, match="not supported"):
        native_matvec(torch.zeros(1, 8, dtype=torch.uint8), int(GGMLQuantizationType.IQ2_XXS), torch.zeros(32))
