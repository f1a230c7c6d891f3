"""`ModelArgs`: the architecture of a Llama-family decoder, read from HF config.json or GGUF metadata."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from model.errors import UnsupportedModelError, WeightsError

RopeKind = Literal["default", "linear", "dynamic"]


@dataclass(frozen=True)
class RopeScaling:
    kind: RopeKind = "default"
    factor: float = 1.0
    # Context length the model was trained with; dynamic NTK only rescales past it.
    original_max_positions: int | None = None


@dataclass(frozen=True)
class ModelArgs:
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    intermediate_size: int
    head_dim: int
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: RopeScaling = RopeScaling()
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = False

    def __post_init__(self) -> None:
        if self.n_heads % self.n_kv_heads:
            raise UnsupportedModelError(
                f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})."
            )
        if self.head_dim % 2:
            raise UnsupportedModelError(f"head_dim must be even for rotary embeddings, got {self.head_dim}.")

    @classmethod
    def from_hf_config(cls, config: dict[str, Any]) -> "ModelArgs":
        """From a Hugging Face LlamaConfig dict (config.json), old or new rope layout."""
        architectures = config.get("architectures") or ["LlamaForCausalLM"]
        if config.get("model_type", "llama") != "llama" or architectures[0] != "LlamaForCausalLM":
            raise UnsupportedModelError(
                f"Only Llama-architecture models are supported, this one is {architectures[0]!r}."
            )
        for flag in ("attention_bias", "mlp_bias"):
            if config.get(flag):
                raise UnsupportedModelError(f"Llama variants with {flag}=true are not supported.")
        if config.get("hidden_act", "silu") != "silu":
            raise UnsupportedModelError(f"Unsupported activation {config['hidden_act']!r}; Llama uses silu.")
        required = ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size", "intermediate_size")
        absent = [name for name in required if name not in config]
        if absent:
            raise WeightsError(f"config.json lacks {', '.join(absent)}; it is not a complete Llama config.")
        n_heads = int(config["num_attention_heads"])
        dim = int(config["hidden_size"])
        rope = dict(config.get("rope_parameters") or {})
        legacy = config.get("rope_scaling") or {}
        rope_theta = float(rope.get("rope_theta", config.get("rope_theta", 10000.0)))
        max_positions = int(config.get("max_position_embeddings", 4096))
        return cls(
            dim=dim,
            n_layers=int(config["num_hidden_layers"]),
            n_heads=n_heads,
            n_kv_heads=int(config.get("num_key_value_heads") or n_heads),
            vocab_size=int(config["vocab_size"]),
            intermediate_size=int(config["intermediate_size"]),
            head_dim=int(config.get("head_dim") or dim // n_heads),
            norm_eps=float(config.get("rms_norm_eps", 1e-6)),
            rope_theta=rope_theta,
            rope_scaling=_rope_scaling({**legacy, **rope}, max_positions),
            max_position_embeddings=max_positions,
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        )

    @classmethod
    def from_hf_folder(cls, folder: Path) -> "ModelArgs":
        path = folder / "config.json"
        if not path.is_file():
            raise WeightsError(f"{folder} has no config.json; it is not a Hugging Face model folder.")
        return cls.from_hf_config(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_gguf_metadata(cls, meta: dict[str, Any], tensor_names: set[str]) -> "ModelArgs":
        """From GGUF key/values (`llama.*`); tied embeddings are inferred from a missing output.weight."""
        arch = meta.get("general.architecture")
        if arch != "llama":
            raise UnsupportedModelError(
                f"Only GGUF files of architecture 'llama' are supported, not {arch!r}."
            )

        def key(name: str) -> Any:
            try:
                return meta[f"llama.{name}"]
            except KeyError:
                raise WeightsError(f"The GGUF metadata lacks llama.{name}.") from None

        n_heads = int(key("attention.head_count"))
        dim = int(key("embedding_length"))
        max_positions = int(key("context_length"))
        scaling_type = meta.get("llama.rope.scaling.type", "none")
        scaling: dict[str, Any] = {}
        if scaling_type not in ("none", None):
            scaling = {
                "rope_type": scaling_type,
                "factor": meta.get("llama.rope.scaling.factor", 1.0),
                "original_max_position_embeddings": meta.get("llama.rope.scaling.original_context_length"),
            }
        vocab = meta.get("llama.vocab_size") or len(meta.get("tokenizer.ggml.tokens", []))
        return cls(
            dim=dim,
            n_layers=int(key("block_count")),
            n_heads=n_heads,
            n_kv_heads=int(meta.get("llama.attention.head_count_kv") or n_heads),
            vocab_size=int(vocab),
            intermediate_size=int(key("feed_forward_length")),
            head_dim=int(meta.get("llama.rope.dimension_count") or dim // n_heads),
            norm_eps=float(key("attention.layer_norm_rms_epsilon")),
            rope_theta=float(meta.get("llama.rope.freq_base", 10000.0)),
            rope_scaling=_rope_scaling(scaling, max_positions),
            max_position_embeddings=max_positions,
            tie_word_embeddings="output.weight" not in tensor_names,
        )


def _rope_scaling(params: dict[str, Any], max_positions: int) -> RopeScaling:
    kind = params.get("rope_type") or params.get("type") or "default"
    if kind == "default":
        return RopeScaling()
    if kind not in ("linear", "dynamic"):
        raise UnsupportedModelError(
            f"RoPE scaling {kind!r} is not supported; supported are none, linear and dynamic (NTK)."
        )
    original = params.get("original_max_position_embeddings") or max_positions
    return RopeScaling(
        kind=cast(RopeKind, kind), factor=float(params["factor"]), original_max_positions=int(original)
    )
