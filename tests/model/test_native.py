"""The C decode step (model.native) against our PyTorch step and transformers, on tiny random models."""

from pathlib import Path
from typing import Any

import pytest
import torch

import model.native as native
from model.decode_step import NativeStep, TorchStep
from model.generate import beam_search, decode_tokens
from model.generation_config import GenerationConfig
from model.loader import build_transformer
from model.memory import place_in_huge_pages
from model.model import KVCache, Transformer
from model.native import NativeDecoder, NativeUnavailableError
from model.quantize import quantize_int8
from model.weights import read_hf_folder
from tests.model.hf_reference import save_random_llama
from tests.model.test_generate import prompt as random_ids
from tests.model.test_parity import CONFIGS

VOCAB = 97
# Sizes that are not multiples of the C step's 16-float vectors exercise its scalar tails.
ODD = dict(hidden_size=72, intermediate_size=100, num_attention_heads=6, num_key_value_heads=2, head_dim=12)


def build(folder: Path, seed: int, **overrides: Any) -> tuple[Any, Transformer]:
    # Weights ten times the default spread: attention is peaked rather than near uniform, so an
    # error in its scores or softmax shows in the logits.
    hf = save_random_llama(folder, seed=seed, **{"initializer_range": 0.2, **overrides})
    return hf, build_transformer(read_hf_folder(folder, torch.float32), torch.device("cpu"))


def torch_step_logits(model: Transformer, prompt: list[int], steps: list[int]) -> list[torch.Tensor]:
    """Logits of each one-token step after the prompt, by the PyTorch step."""
    with torch.inference_mode():
        model(torch.tensor([prompt]), 0)
        return [TorchStep().step(model, torch.tensor([[t]]), len(prompt) + i) for i, t in enumerate(steps)]


def native_step_logits(model: Transformer, prompt: list[int], steps: list[int]) -> list[torch.Tensor]:
    with torch.inference_mode():
        model(torch.tensor([prompt]), 0)
        decoder = NativeDecoder(model)
        return [decoder.step(torch.tensor([[t]]), len(prompt) + i) for i, t in enumerate(steps)]


@pytest.mark.parametrize("name", [*CONFIGS, "odd"])
def test_step_logits_match_the_pytorch_step(tmp_path: Path, name: str) -> None:
    """MHA, GQA, MQA, tied head, each rope scaling, odd sizes; past max_position_embeddings (64)."""
    overrides = ODD if name == "odd" else CONFIGS[name]
    _, model = build(tmp_path, seed=len(name), max_position_embeddings=64, **overrides)
    prompt, steps = random_ids(1, 50), random_ids(2, 30)
    model.setup_caches(1, 96)
    expected = torch_step_logits(model, prompt, steps)
    got = native_step_logits(model, prompt, steps)
    for position, (a, b) in enumerate(zip(got, expected, strict=True)):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=f"step {position}")


@pytest.mark.parametrize("seed", range(3))
def test_greedy_tokens_identical_to_transformers_generate(tmp_path: Path, seed: int) -> None:
    hf, model = build(tmp_path, seed=seed, max_position_embeddings=256)
    ids = random_ids(seed, 12)
    model.setup_caches(1, 128)
    step = NativeStep(model)
    ours = list(decode_tokens(model, ids, GenerationConfig(max_new_tokens=40), frozenset(), step))
    assert step.decoder is not None  # the C step served it
    out = hf.generate(torch.tensor([ids]), max_new_tokens=40, do_sample=False, eos_token_id=None, pad_token_id=0)
    assert ours == out[0, len(ids) :].tolist()


def test_beam_search_identical_to_transformers(tmp_path: Path) -> None:
    """Four rows per step, and the cache reordered under the C step after every step."""
    hf, model = build(tmp_path, seed=4, max_position_embeddings=256)
    ids = random_ids(5, 12)
    cfg = GenerationConfig(max_new_tokens=24, num_beams=4, repetition_penalty=1.3)
    model.setup_caches(4, 128)
    got = beam_search(model, ids, cfg, frozenset({9}), NativeStep(model))
    out = hf.generate(
        torch.tensor([ids]), max_new_tokens=24, num_beams=4, do_sample=False, repetition_penalty=1.3,
        eos_token_id=9, pad_token_id=0, early_stopping=False, length_penalty=1.0,
    )  # fmt: skip
    assert got == out[0, len(ids) :].tolist()[: len(got)]


def test_rows_of_a_batch_are_independent(tmp_path: Path) -> None:
    _, model = build(tmp_path, seed=6)
    model.setup_caches(3, 64)
    prompts = [random_ids(seed, 20) for seed in range(3)]
    with torch.inference_mode():
        model(torch.tensor(prompts), 0)
        together = NativeDecoder(model).step(torch.tensor([[5], [6], [7]]), 20)
        expected = model.forward(torch.tensor([[5], [6], [7]]), 20)[:, -1]
    torch.testing.assert_close(together, expected, atol=1e-4, rtol=1e-4)


def test_thread_count_does_not_change_a_bit(tmp_path: Path) -> None:
    """Each output row is summed by one thread whatever their number: results are bitwise equal."""
    _, model = build(tmp_path, seed=7, hidden_size=128, intermediate_size=256)
    model.setup_caches(1, 64)
    prompt, steps = random_ids(3, 20), random_ids(4, 8)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = native_step_logits(model, prompt, steps)
        torch.set_num_threads(3)
        three = native_step_logits(model, prompt, steps)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(one, three, strict=True))


def test_int8_step_matches_the_pytorch_int8_step(tmp_path: Path) -> None:
    _, model = build(tmp_path, seed=8, hidden_size=128, intermediate_size=256, tie_word_embeddings=True)
    quantize_int8(model)
    model.setup_caches(1, 64)
    prompt, steps = random_ids(5, 20), random_ids(6, 12)
    expected = torch_step_logits(model, prompt, steps)
    got = native_step_logits(model, prompt, steps)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_rebinds_after_weights_are_replaced(tmp_path: Path) -> None:
    """Quantising and huge-page placement swap the weights under a bound step: the next request
    decodes with the new ones (and the old memory is never read after it is freed)."""
    _, reference = build(tmp_path / "a", seed=9, hidden_size=256, intermediate_size=512)
    _, model = build(tmp_path / "a", seed=9, hidden_size=256, intermediate_size=512)
    ids, cfg = random_ids(7, 10), GenerationConfig(max_new_tokens=16)
    for m in (reference, model):
        m.setup_caches(1, 64)
    step = NativeStep(model)
    list(decode_tokens(model, ids, cfg, frozenset(), step))
    bound = step.decoder
    quantize_int8(model), quantize_int8(reference)
    place_in_huge_pages(model, skip=(KVCache,))
    assert bound is not None and not bound.is_current()
    assert list(decode_tokens(model, ids, cfg, frozenset(), step)) == list(
        decode_tokens(reference, ids, cfg, frozenset())
    )
    assert step.decoder is not bound and step.decoder is not None and step.decoder.is_current()


def test_bad_token_and_position_are_clear_errors(tmp_path: Path) -> None:
    _, model = build(tmp_path, seed=10)
    model.setup_caches(1, 32)
    decoder = NativeDecoder(model)
    with pytest.raises(ValueError, match="rejected"):
        decoder.step(torch.tensor([[VOCAB]]), 0)
    with pytest.raises(ValueError, match="exceed the cache"):
        decoder.step(torch.tensor([[3]]), 32)
    with pytest.raises(ValueError, match="2 rows exceed"):  # the cache holds one row
        decoder.step(torch.tensor([[3], [4]]), 0)


def test_models_it_cannot_serve_stay_on_the_pytorch_step(tmp_path: Path) -> None:
    _, model = build(tmp_path, seed=11)
    model = model.to(torch.bfloat16)
    model.setup_caches(1, 32)
    with pytest.raises(NativeUnavailableError, match="fp32"):
        NativeStep(model)


def test_no_compiler_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CC", "no-such-compiler")
    monkeypatch.setenv("KB_NATIVE_CACHE", str(tmp_path / "cache"))
    native.load_library.cache_clear()
    try:
        with pytest.raises(NativeUnavailableError, match="No C compiler"):
            native.load_library()
    finally:
        native.load_library.cache_clear()


def test_library_is_built_once_per_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_NATIVE_CACHE", str(tmp_path))
    native.load_library.cache_clear()
    try:
        native.load_library()
        built = list(tmp_path.glob("decode_step-*.so"))
        assert len(built) == 1 and not list(tmp_path.glob("tmp*"))
        stamp = built[0].stat().st_mtime_ns
        native.load_library.cache_clear()
        native.load_library()
        assert built[0].stat().st_mtime_ns == stamp  # reused, not rebuilt
    finally:
        native.load_library.cache_clear()


def test_two_models_decoding_at_once_do_not_mix(tmp_path: Path) -> None:
    """ctypes releases the GIL during a step, and the C thread pool is shared: steps take turns."""
    from concurrent.futures import ThreadPoolExecutor

    models = [build(tmp_path / name, seed=seed)[1] for seed, name in enumerate(("a", "b"))]
    prompts = [random_ids(8, 20), random_ids(9, 20)]
    steps = []
    for m in models:
        m.setup_caches(1, 128)
        steps.append(NativeStep(m))
    cfg = GenerationConfig(max_new_tokens=60)

    def greedy(i: int) -> list[int]:
        return list(decode_tokens(models[i], prompts[i], cfg, frozenset(), steps[i]))

    alone = [greedy(0), greedy(1)]
    with ThreadPoolExecutor(2) as pool:
        together = [list(pool.map(greedy, [0, 1, 0, 1])) for _ in range(3)]
    assert all(run == [*alone, *alone] for run in together)


def test_a_mis_shaped_weight_is_refused_not_read_out_of_bounds(tmp_path: Path) -> None:
    _, model = build(tmp_path, seed=12)
    model.setup_caches(1, 32)
    step = NativeStep(model)
    model.blocks()[1].feed_forward.w2 = torch.nn.Linear(48, 64, bias=False)  # the hidden size is 96
    with pytest.raises(NativeUnavailableError, match=r"shape \(64, 96\)"):
        NativeDecoder(model)
    with pytest.raises(RuntimeError):  # the PyTorch step it falls back to fails on the shapes too
        list(decode_tokens(model, random_ids(1, 5), GenerationConfig(max_new_tokens=2), frozenset(), step))
    assert not step.enabled and step.name == "PyTorch"  # switched off with a warning, not a crash
