"""Helpers that build Hugging Face reference models for parity tests (tests only use transformers)."""

import os
from pathlib import Path
from typing import Any

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def tiny_llama_config(**overrides: Any) -> Any:
    from transformers import LlamaConfig

    base: dict[str, Any] = dict(
        vocab_size=97,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
    )
    base.update(overrides)
    return LlamaConfig(**base)


def save_random_llama(folder: Path, seed: int = 0, **overrides: Any) -> Any:
    """A randomly initialised LlamaForCausalLM saved as safetensors; returns the HF model (eval, fp32)."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    config = tiny_llama_config(**overrides)
    model = LlamaForCausalLM(config).eval()
    # Norm weights start at 1.0; randomise them so a mis-mapped norm cannot pass.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.uniform_(0.5, 1.5)
    model.save_pretrained(folder, safe_serialization=True)
    return model
