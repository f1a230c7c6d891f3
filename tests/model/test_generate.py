"""Generation on tiny random models: KV-cache exactness, beam search and sampling against transformers."""

from pathlib import Path
from typing import Any

import pytest
import torch

from model.generate import beam_search, decode_tokens
from model.generation_config import GenerationConfig
from model.loader import build_transformer
from model.model import Transformer
from model.weights import read_hf_folder
from tests.model.hf_reference import save_random_llama

VOCAB = 97


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Transformer]:
    folder: Path = tmp_path_factory.mktemp("tiny") / "gqa"
    hf = save_random_llama(folder, seed=7, max_position_embeddings=256)
    ours = build_transformer(read_hf_folder(folder, torch.float32), torch.device("cpu"))
    return hf, ours


def prompt(seed: int, length: int = 12) -> list[int]:
    return torch.randint(3, VOCAB, (length,), generator=torch.Generator().manual_seed(seed)).tolist()


def greedy_without_cache(model: Transformer, ids: list[int], steps: int) -> list[int]:
    """Reference: recompute the whole sequence from scratch for every new token."""
    seq = list(ids)
    for _ in range(steps):
        logits = model(torch.tensor([seq]), 0)
        seq.append(int(logits[0, -1].argmax()))
    return seq[len(ids) :]


@pytest.mark.parametrize("seed", range(5))
def test_kv_cache_gives_exactly_the_tokens_of_full_recomputation(
    pair: tuple[Any, Transformer], seed: int
) -> None:
    _, ours = pair
    ids = prompt(seed)
    ours.setup_caches(1, 128)
    cfg = GenerationConfig(max_new_tokens=40)
    cached = list(decode_tokens(ours, ids, cfg, frozenset()))
    with torch.no_grad():
        assert cached == greedy_without_cache(ours, ids, 40)


@pytest.mark.parametrize("seed", range(3))
def test_greedy_matches_transformers_generate(pair: tuple[Any, Transformer], seed: int) -> None:
    hf, ours = pair
    ids = prompt(seed)
    ours.setup_caches(1, 128)
    ours_tokens = list(decode_tokens(ours, ids, GenerationConfig(max_new_tokens=30), frozenset()))
    out = hf.generate(
        torch.tensor([ids]), max_new_tokens=30, do_sample=False, eos_token_id=None, pad_token_id=0
    )
    assert ours_tokens == out[0, len(ids) :].tolist()


@pytest.mark.parametrize(
    ("seed", "eos", "length_penalty", "penalty"),
    [(0, 5, 1.0, 1.0), (1, 9, 1.0, 1.0), (2, 11, 0.5, 1.0), (3, 17, 2.0, 1.3), (4, None, 1.0, 1.0)],
)
def test_beam_search_matches_transformers(
    pair: tuple[Any, Transformer], seed: int, eos: int | None, length_penalty: float, penalty: float
) -> None:
    """num_beams=4; with eos tokens that the random model does emit, so finished beams compete."""
    hf, ours = pair
    ids = prompt(seed)
    cfg = GenerationConfig(
        max_new_tokens=24, num_beams=4, length_penalty=length_penalty, repetition_penalty=penalty
    )
    stops = frozenset() if eos is None else frozenset({eos})
    ours.setup_caches(4, 128)
    got = beam_search(ours, ids, cfg, stops)
    out = hf.generate(
        torch.tensor([ids]),
        max_new_tokens=24,
        num_beams=4,
        do_sample=False,
        length_penalty=length_penalty,
        repetition_penalty=penalty,
        eos_token_id=eos,
        pad_token_id=eos if eos is not None else 0,
        early_stopping=False,
    )
    expected = out[0, len(ids) :].tolist()
    if eos is not None and eos in expected:
        expected = expected[: expected.index(eos) + 1]
    assert got == expected


def test_seeded_sampling_is_reproducible_and_varies_with_the_seed(pair: tuple[Any, Transformer]) -> None:
    _, ours = pair
    ids = prompt(9)
    ours.setup_caches(1, 128)

    def sample(seed: int) -> list[int]:
        cfg = GenerationConfig(max_new_tokens=20, temperature=1.5, top_k=40, top_p=0.95, seed=seed)
        return list(decode_tokens(ours, ids, cfg, frozenset()))

    assert sample(1) == sample(1)
    assert sample(1) != sample(2)


def test_generation_stops_at_a_stop_token(pair: tuple[Any, Transformer]) -> None:
    _, ours = pair
    ids = prompt(3)
    ours.setup_caches(1, 128)
    free = list(decode_tokens(ours, ids, GenerationConfig(max_new_tokens=30), frozenset()))
    stop = free[5]
    stopped = list(decode_tokens(ours, ids, GenerationConfig(max_new_tokens=30), frozenset({stop})))
    assert stopped == free[: free.index(stop) + 1]


def test_compiled_decode_gives_the_tokens_of_eager_decode(tmp_path: Path) -> None:
    """torch.compile of the decode step: one graph for every position and batch size, the same
    greedy tokens and beam-search result as eager, for fp32 and int8 weights."""
    from model.decode_step import CompiledStep
    from model.quantize import quantize_int8

    save_random_llama(tmp_path, seed=11, max_position_embeddings=256)
    for int8 in (False, True):
        eager = build_transformer(read_hf_folder(tmp_path, torch.float32), torch.device("cpu"))
        compiled = build_transformer(read_hf_folder(tmp_path, torch.float32), torch.device("cpu"))
        if int8:
            quantize_int8(eager), quantize_int8(compiled)
        step = CompiledStep(compiled)
        for seed in range(3):
            ids = prompt(seed, length=9 + seed)
            cfg = GenerationConfig(max_new_tokens=24)
            eager.setup_caches(1, 64), compiled.setup_caches(1, 64)
            assert list(decode_tokens(compiled, ids, cfg, frozenset(), step)) == list(
                decode_tokens(eager, ids, cfg, frozenset())
            ), (int8, seed)
        beams = GenerationConfig(max_new_tokens=12, num_beams=3)
        eager.setup_caches(3, 64), compiled.setup_caches(3, 64)
        ids = prompt(5)
        assert beam_search(compiled, ids, beams, frozenset(), step) == beam_search(eager, ids, beams, frozenset())
