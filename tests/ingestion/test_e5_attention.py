"""The fused C attention of e5's encoder (ingestion/embedders/csrc/e5_attention.c): both of its paths
(AVX-512 BF16 where the CPU has it, plain C everywhere) against attention computed in float64 from
the same bf16 inputs, with padded windows; the threads' split; the encoder's vectors with and without
it; and the fall back to PyTorch's attention where it cannot be built."""

import platform
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ingestion.embedders import e5_attention
from ingestion.embedders.e5_attention import SOURCE, FusedAttention, fused_kernel_is_fast, load_kernel
from ingestion.embedders.native_build import FLAGS

HEADS = 12
PATHS = [pytest.param(False, id="plain-c"), pytest.param(True, id="avx512-bf16")]


def _kernel(fast: bool):  # type: ignore[no-untyped-def]
    library = load_kernel()
    if library is None:
        pytest.skip("no C compiler here: the encoder uses PyTorch's attention (tested below)")
    if fast and not fused_kernel_is_fast():
        pytest.skip("this CPU has no AVX-512 BF16, so the encoder does not use the fast path")
    return library


def _qkv_and_exact(lengths: list[int], length: int, seed: int):  # type: ignore[no-untyped-def]
    """A batch's bf16 query/key/value rows, and attention over each window's first lengths[w]
    tokens computed in float64 from exactly those bf16 values."""
    import torch
    import torch.nn.functional as F

    count = len(lengths)
    generator = torch.Generator().manual_seed(seed)
    qkv = (torch.randn(count * length, 3 * HEADS * 32, generator=generator) * 0.8).bfloat16()
    mask = torch.zeros(count, length, dtype=torch.bool)
    for w, n in enumerate(lengths):
        mask[w, :n] = True
    q, k, v = qkv.double().view(count, length, 3, HEADS, 32).permute(2, 0, 3, 1, 4)
    exact = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
    return qkv, exact.transpose(1, 2).reshape(count * length, HEADS * 32), mask.reshape(-1)


@pytest.mark.parametrize("fast", PATHS)
@pytest.mark.parametrize(
    ("lengths", "length"),
    [([37, 20, 1], 37), ([256, 200], 256), ([512], 512), ([17, 16, 15, 3, 9, 33], 33)],
)
def test_the_kernel_is_attention_over_each_windows_own_tokens(fast: bool, lengths: list[int], length: int) -> None:
    """Lengths across the 16-key blocks' edges, odd lengths (the value pairs), a window of one token."""
    qkv, exact, real = _qkv_and_exact(lengths, length, seed=length)
    out = FusedAttention(_kernel(fast), threads=2, fast=fast)(qkv, np.array(lengths), len(lengths), length, HEADS)
    error = (out.double() - exact)[real].abs().max().item()
    assert error < 0.01, error  # a bf16 output's rounding is up to 0.008 at these magnitudes
    assert out[~real].abs().max().item() == 0 if (~real).any() else True  # padding rows: zeros


def test_the_fast_path_is_closer_to_exact_than_pytorchs_bf16_attention() -> None:
    """PyTorch rounds the scores to bf16 before its softmax; the kernel keeps them in fp32."""
    from ingestion.embedders.e5_encoder import attention_in_blocks

    qkv, exact, real = _qkv_and_exact([256, 190, 256], 256, seed=7)
    ours = FusedAttention(_kernel(True), threads=2)(qkv, np.array([256, 190, 256]), 3, 256, HEADS)
    q, k, v = qkv.view(3, 256, 3, HEADS, 32).permute(2, 0, 3, 1, 4)
    theirs = attention_in_blocks(q, k, v, real.view(3, 1, 1, 256)).transpose(1, 2).reshape(3 * 256, -1)
    ours_error = (ours.double() - exact)[real].abs().mean().item()
    theirs_error = (theirs.double() - exact)[real].abs().mean().item()
    assert ours_error <= theirs_error, (ours_error, theirs_error)


def test_threads_split_the_units_without_changing_a_bit() -> None:
    library = _kernel(fused_kernel_is_fast())
    qkv, _, _ = _qkv_and_exact([100, 64, 99], 100, seed=3)
    fast = fused_kernel_is_fast()
    one = FusedAttention(library, threads=1, fast=fast)(qkv, np.array([100, 64, 99]), 3, 100, HEADS)
    three = FusedAttention(library, threads=3, fast=fast)(qkv, np.array([100, 64, 99]), 3, 100, HEADS)
    assert bool((one == three).all())


def test_two_callers_at_once_share_the_pool_without_mixing_their_batches() -> None:
    """A query is embedded while an ingest embeds (two threads, one encoder, one pool): each kernel
    task has its own scratch (thread-local), so each caller gets its own batch's attention."""
    from concurrent.futures import ThreadPoolExecutor

    fast = fused_kernel_is_fast()
    attention = FusedAttention(_kernel(fast), threads=2, fast=fast)
    batches = [(_qkv_and_exact(lengths, 64, seed=seed)[0], lengths) for seed, lengths in ((1, [64, 30]), (2, [9, 64]))]
    alone = [attention(qkv, np.array(lengths), 2, 64, HEADS) for qkv, lengths in batches]
    with ThreadPoolExecutor(2) as callers:
        for _ in range(5):
            together = list(callers.map(lambda b: attention(b[0], np.array(b[1]), 2, 64, HEADS), batches))
            assert all(bool((a == t).all()) for a, t in zip(alone, together, strict=True))


def test_shapes_the_kernel_does_not_take_are_refused() -> None:
    import torch

    attention = FusedAttention(_kernel(False), threads=1, fast=False)
    with pytest.raises(ValueError, match="bf16"):
        attention(torch.zeros(40, 3 * 384), np.array([40]), 1, 40, HEADS)  # float32
    too_long = torch.zeros(513, 3 * 384, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="at most 512 tokens, not 513"):
        attention(too_long, np.array([513]), 1, 513, HEADS)
    with pytest.raises(ValueError, match="lengths of 1 to 40 tokens"):  # a window longer than the batch's rows
        attention(too_long[:40], np.array([41]), 1, 40, HEADS)
    with pytest.raises(ValueError, match="lengths of 1 to 40 tokens"):
        attention(too_long[:40], np.array([0]), 1, 40, HEADS)


def test_the_encoder_uses_the_kernel_where_it_is_fast_and_its_vectors_stay() -> None:
    """Same weights, same windows: the vectors with the kernel and with PyTorch's attention agree."""
    from ingestion.embedders.e5 import E5SmallEmbedder
    from ingestion.embedders.e5_tokenizer import PASSAGE_PREFIX

    model = E5SmallEmbedder()._loaded()
    if not fused_kernel_is_fast():
        assert model.encoder._fused is None
        pytest.skip("this CPU has no AVX-512 BF16: the encoder keeps PyTorch's attention")
    assert model.encoder._fused is not None
    texts = ["Net sales were $81,797 million in the quarter.", "每年有多少天年假？" * 30, "Total assets " * 140]
    windows = [w.ids for w in model.tokenizer.windows(texts, PASSAGE_PREFIX)]
    fused = model.encoder.mean_pooled(windows)
    kernel, model.encoder._fused = model.encoder._fused, None
    try:
        unfused = model.encoder.mean_pooled(windows)
    finally:
        model.encoder._fused = kernel
    fused /= np.linalg.norm(fused, axis=1, keepdims=True)
    unfused /= np.linalg.norm(unfused, axis=1, keepdims=True)
    assert np.sum(fused * unfused, axis=1).min() >= 0.9999


def test_without_a_compiler_the_encoder_keeps_pytorchs_attention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingestion.embedders.e5 import E5SmallEmbedder

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CC", "no-such-compiler")
    monkeypatch.setenv("KB_NATIVE_CACHE", str(tmp_path / "cache"))
    load_kernel.cache_clear()
    try:
        assert e5_attention.load_kernel() is None and not fused_kernel_is_fast()
        embedder = E5SmallEmbedder()
        assert embedder._loaded().encoder._fused is None
        vector = embedder.embed_query("How much cash did Amazon have?")
        assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-5
    finally:
        load_kernel.cache_clear()


@pytest.mark.skipif(platform.machine() != "x86_64" or not shutil.which("cc"), reason="needs an x86-64 C compiler")
def test_on_a_cpu_without_avx512_bf16_the_kernel_builds_and_says_it_is_slow(tmp_path: Path) -> None:
    """-march=native hides the plain path's build on the machines we develop on: built here on purpose."""
    import ctypes

    flags = [flag.replace("-march=native", "-march=x86-64-v3") for flag in FLAGS]
    target = tmp_path / "e5_attention-v3.so"
    built = subprocess.run(["cc", *flags, "-o", str(target), str(SOURCE), "-lm"], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    library = ctypes.CDLL(str(target))
    assert library.kb_e5_fast() == 0  # so the encoder keeps PyTorch's attention there
    library.kb_e5_attention.argtypes = load_kernel().kb_e5_attention.argtypes  # type: ignore[union-attr]
    qkv, exact, real = _qkv_and_exact([40, 21], 40, seed=5)
    out = FusedAttention(library, threads=2, fast=True)(qkv, np.array([40, 21]), 2, 40, HEADS)  # asks, gets plain
    assert (out.double() - exact)[real].abs().max().item() < 0.01
