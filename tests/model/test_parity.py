"""Our decoder against transformers' LlamaForCausalLM on tiny random configs: logits, prefill and decode."""

from pathlib import Path
from typing import Any

import pytest
import torch

from model.loader import build_transformer
from model.weights import read_hf_folder
from tests.model.hf_reference import save_random_llama

CONFIGS: dict[str, dict[str, Any]] = {
    "mha": dict(num_attention_heads=4, num_key_value_heads=4),
    "gqa": dict(num_attention_heads=4, num_key_value_heads=2),
    "mqa": dict(num_attention_heads=4, num_key_value_heads=1),
    "tied": dict(tie_word_embeddings=True),
    "linear": dict(rope_scaling={"rope_type": "linear", "factor": 2.0}),
    "dynamic": dict(rope_scaling={"rope_type": "dynamic", "factor": 2.0}),
    "theta": dict(rope_theta=500000.0, head_dim=32, num_attention_heads=4),
}


def load_pair(tmp_path: Path, name: str) -> tuple[Any, Any]:
    hf = save_random_llama(tmp_path / name, seed=len(name), **CONFIGS[name])
    ours = build_transformer(read_hf_folder(tmp_path / name, torch.float32), torch.device("cpu"))
    return hf, ours


@pytest.mark.parametrize("name", CONFIGS)
def test_full_sequence_logits_match(tmp_path: Path, name: str) -> None:
    hf, ours = load_pair(tmp_path, name)
    # Longer than max_position_embeddings (64) so linear/dynamic scaling is really exercised.
    tokens = torch.randint(0, 97, (2, 80), generator=torch.Generator().manual_seed(1))
    ours.setup_caches(max_batch=2, max_seq=96)
    with torch.no_grad():
        expected = hf(tokens).logits
        got = ours(tokens, start_pos=0)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", CONFIGS)
def test_prefill_then_step_by_step_matches(tmp_path: Path, name: str) -> None:
    """Prefill a prompt, then feed one token at a time; compare with HF using its own KV cache."""
    hf, ours = load_pair(tmp_path, name)
    tokens = torch.randint(0, 97, (1, 72), generator=torch.Generator().manual_seed(2))
    prompt, rest = tokens[:, :40], tokens[:, 40:]
    ours.setup_caches(max_batch=1, max_seq=96)
    with torch.no_grad():
        out = hf(prompt, use_cache=True)
        past = out.past_key_values
        torch.testing.assert_close(ours(prompt, 0), out.logits, atol=1e-4, rtol=1e-4)
        for i in range(rest.shape[1]):
            step = rest[:, i : i + 1]
            out = hf(step, past_key_values=past, use_cache=True)
            past = out.past_key_values
            torch.testing.assert_close(ours(step, 40 + i), out.logits, atol=1e-4, rtol=1e-4)


def test_chunked_prefill_matches_single_prefill(tmp_path: Path) -> None:
    """Prefill in two pieces (explicit mask path) equals one prefill."""
    _, ours = load_pair(tmp_path, "gqa")
    tokens = torch.randint(0, 97, (1, 50), generator=torch.Generator().manual_seed(3))
    ours.setup_caches(max_batch=1, max_seq=64)
    with torch.no_grad():
        whole = ours(tokens, 0)
        first = ours(tokens[:, :30], 0)
        second = ours(tokens[:, 30:], 30)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, atol=1e-5, rtol=1e-5)
