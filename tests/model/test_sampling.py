"""Sampling steps equal transformers' logits processors, alone and chained in generate()'s order."""

import os
from typing import Any

import pytest
import torch
from torch.testing import assert_close

from model.errors import GenerationError
from model.generation_config import GenerationConfig
from model.sampling import (
    apply_repetition_penalty,
    apply_temperature,
    apply_top_k,
    apply_top_p,
    process_logits,
    select_next_token,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
lp = pytest.importorskip("transformers.generation.logits_process")

BATCH, VOCAB, LENGTH = 4, 503, 37


def random_logits(seed: int, kind: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(BATCH, VOCAB, generator=g) * 3
    if kind == "ties":
        logits = (logits * 2).round() / 2  # many exactly equal scores, including at the top-k/top-p edge
    elif kind == "edges":
        logits[:, ::7] = -float("inf")  # already-masked tokens
        logits[:, 1] = 0.0
        logits[0, :] = 0.0  # a flat row: everything ties
        logits[1, 5] = 80.0  # one token holds almost all the mass
        logits[2, 3] = -1e4
    return logits


def random_ids(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed + 1000)
    ids = torch.randint(0, VOCAB, (BATCH, LENGTH), generator=g)
    ids[:, -5:] = ids[:, :5]  # repeated tokens
    ids[3, 0] = VOCAB + 7  # beyond the output vocabulary: must be ignored, as transformers does
    ids[:, 1] = 1  # a token whose score is 0 in the "edges" case
    return ids


KINDS = ["plain", "ties", "edges"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("penalty", [1.3, 0.7])
def test_repetition_penalty(kind: str, penalty: float) -> None:
    logits, ids = random_logits(1, kind), random_ids(1)
    expected = lp.RepetitionPenaltyLogitsProcessor(penalty)(ids, logits.clone())
    assert_close(apply_repetition_penalty(logits, ids, penalty), expected, rtol=0, atol=0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("temperature", [0.3, 1.7])
def test_temperature(kind: str, temperature: float) -> None:
    logits, ids = random_logits(2, kind), random_ids(2)
    expected = lp.TemperatureLogitsWarper(temperature)(ids, logits.clone())
    assert_close(apply_temperature(logits, temperature), expected, rtol=0, atol=0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("top_k", [1, 5, 40, VOCAB, VOCAB + 10])
def test_top_k(kind: str, top_k: int) -> None:
    logits, ids = random_logits(3, kind), random_ids(3)
    expected = lp.TopKLogitsWarper(top_k)(ids, logits.clone())
    assert_close(apply_top_k(logits, top_k), expected, rtol=0, atol=0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("top_p", [0.01, 0.5, 0.9, 0.999])
def test_top_p(kind: str, top_p: float) -> None:
    logits, ids = random_logits(4, kind), random_ids(4)
    expected = lp.TopPLogitsWarper(top_p)(ids, logits.clone())
    assert_close(apply_top_p(logits, top_p), expected, rtol=0, atol=0)


def generate_processors(cfg: GenerationConfig) -> Any:
    """The LogitsProcessorList transformers' generate() itself builds for these settings."""
    from transformers import GenerationConfig as HFGenerationConfig
    from transformers import LlamaConfig, LlamaForCausalLM

    tiny = LlamaConfig(
        vocab_size=VOCAB, hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2
    )
    hf_cfg = HFGenerationConfig(
        do_sample=not cfg.greedy,
        temperature=cfg.temperature if not cfg.greedy else 1.0,
        top_k=cfg.top_k,
        top_p=cfg.top_p,
        repetition_penalty=cfg.repetition_penalty,
    )
    return LlamaForCausalLM(tiny)._get_logits_processor(
        generation_config=hf_cfg, input_ids_seq_length=LENGTH, logits_processor=lp.LogitsProcessorList()
    )


PIPELINES = [
    GenerationConfig(temperature=0.8, top_k=50, top_p=0.9, repetition_penalty=1.2),
    GenerationConfig(temperature=1.0, top_k=0, top_p=0.7, repetition_penalty=1.0),
    GenerationConfig(temperature=1.5, top_k=3, top_p=1.0, repetition_penalty=0.9),
    GenerationConfig(temperature=0.0, top_k=10, top_p=0.5, repetition_penalty=1.3),  # greedy
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cfg", PIPELINES, ids=lambda c: f"t{c.temperature}-k{c.top_k}-p{c.top_p}")
def test_pipeline_matches_generate_order(kind: str, cfg: GenerationConfig) -> None:
    logits, ids = random_logits(5, kind), random_ids(5)
    ids = ids.clamp(max=VOCAB - 1)
    expected = generate_processors(cfg)(ids, logits.clone())
    assert_close(process_logits(logits, ids, cfg), expected, rtol=0, atol=0)


def test_disabled_steps_leave_logits_untouched() -> None:
    logits, ids = random_logits(6, "plain"), random_ids(6)
    assert process_logits(logits, ids, GenerationConfig(temperature=1.0)) is logits


def test_greedy_is_argmax_of_penalised_scores() -> None:
    logits, ids = random_logits(7, "plain"), random_ids(7)
    assert torch.equal(select_next_token(logits, ids, GenerationConfig()), logits.argmax(dim=-1))
    cfg = GenerationConfig(repetition_penalty=1.5)
    penalised = apply_repetition_penalty(logits, ids, 1.5)
    assert torch.equal(select_next_token(logits, ids, cfg), penalised.argmax(dim=-1))


def test_seeded_sampling_is_reproducible_and_matches_transformers_draw() -> None:
    logits, ids = random_logits(8, "plain"), random_ids(8).clamp(max=VOCAB - 1)
    cfg = GenerationConfig(temperature=0.9, top_k=20, top_p=0.95, repetition_penalty=1.1, seed=3)
    draws = [select_next_token(logits, ids, cfg, torch.Generator().manual_seed(3)) for _ in range(2)]
    assert torch.equal(draws[0], draws[1]) and draws[0].shape == (BATCH,)
    # generate() draws with torch.multinomial on the default generator; the same seed gives the same tokens.
    probs = generate_processors(cfg)(ids, logits.clone()).softmax(dim=-1)
    torch.manual_seed(3)
    assert torch.equal(draws[0], torch.multinomial(probs, num_samples=1).squeeze(1))


def test_sampling_only_draws_kept_tokens() -> None:
    logits, ids = random_logits(9, "plain"), random_ids(9)
    cfg = GenerationConfig(temperature=1.0, top_k=3)
    allowed = torch.topk(logits, 3).indices
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        tokens = select_next_token(logits, ids, cfg, generator)
        assert bool((allowed == tokens[:, None]).any(dim=1).all())


def test_half_precision_logits_are_processed_in_float32() -> None:
    logits, ids = random_logits(10, "plain"), random_ids(10)
    cfg = GenerationConfig(temperature=0.7, top_p=0.9)
    out = process_logits(logits.to(torch.bfloat16), ids, cfg)
    assert out.dtype == torch.float32


def test_shape_errors_are_generation_errors() -> None:
    with pytest.raises(GenerationError, match="batch"):
        process_logits(torch.zeros(2, 5), torch.zeros(3, 1, dtype=torch.long), GenerationConfig())
