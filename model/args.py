"""`ModelArgs`: the architecture of a Llama-family decoder, read from HF config.json or GGUF metadata."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from model.errors import UnsupportedModelError, WeightsError

RopeKind = Literal["default", "linear", "dynamic", "llama3"]
# GGUF architectures we decode -> whether q, k and v carry a bias (Qwen2). Mistral files say "llama".
GGUF_ARCHITECTURES = {"llama": False, "qwen2": True}
# Hugging Face (model_type, class) we decode -> q/k/v bias.
HF_ARCHITECTURES = {("llama", "LlamaForCausalLM"): False, ("mistral", "MistralForCausalLM"): False,
                    ("qwen2", "Qwen2ForCausalLM"): True}  # fmt: skip


@dataclass(frozen=True)
class RopeScaling:
    kind: RopeKind = "default"
    factor: float = 1.0
    # Context length the model was trained with; dynamic NTK only rescales past it.
    original_max_positions: int | None = None
    # llama3: each frequency's divisor (GGUF's rope_freqs.weight, or worked out from the HF parameters).
    freq_factors: tuple[float, ...] | None = None
    low_freq_factor: float = 1.0  # llama3's band edges (HF rope parameters)
    high_freq_factor: float = 4.0


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
    attention_bias: bool = False  # a bias on q, k and v (Qwen2)

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
        kind = (config.get("model_type", "llama"), architectures[0])
        if kind not in HF_ARCHITECTURES:
            names = ", ".join(name for _, name in HF_ARCHITECTURES)
            raise UnsupportedModelError(f"Supported architectures are {names}; this one is {architectures[0]!r}.")
        qkv_bias = HF_ARCHITECTURES[kind]
        if kind[0] == "llama" and config.get("attention_bias"):
            raise UnsupportedModelError("Llama variants with attention_bias=true are not supported.")
        if config.get("mlp_bias"):
            raise UnsupportedModelError("Llama variants with mlp_bias=true are not supported.")
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
        window = config.get("sliding_window") if config.get("use_sliding_window", kind[0] == "mistral") else None
        if window:  # we attend to the whole cache: stay within the window, where that is the same thing
            max_positions = min(max_positions, int(window))
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
            attention_bias=qkv_bias,
        )

    @classmethod
    def from_hf_folder(cls, folder: Path) -> "ModelArgs":
        path = folder / "config.json"
        if not path.is_file():
            raise WeightsError(f"{folder} has no config.json; it is not a Hugging Face model folder.")
        return cls.from_hf_config(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_gguf_metadata(cls, meta: dict[str, Any], tensor_names: set[str]) -> "ModelArgs":
        """From GGUF key/values (`llama.*`, `qwen2.*`); tied embeddings are inferred from a missing
        output.weight. Llama-3.1's rope frequency factors are a tensor: the reader adds them."""
        arch = meta.get("general.architecture")
        if arch not in GGUF_ARCHITECTURES:
            raise UnsupportedModelError(
                f"GGUF files of architecture {', '.join(GGUF_ARCHITECTURES)} are supported, not {arch!r}."
            )

        def key(name: str) -> Any:
            try:
                return meta[f"{arch}.{name}"]
            except KeyError:
                raise WeightsError(f"The GGUF metadata lacks {arch}.{name}.") from None

        n_heads = int(key("attention.head_count"))
        dim = int(key("embedding_length"))
        max_positions = int(key("context_length"))
        scaling_type = meta.get(f"{arch}.rope.scaling.type", "none")
        scaling: dict[str, Any] = {}
        if scaling_type not in ("none", None):
            scaling = {
                "rope_type": scaling_type,
                "factor": meta.get(f"{arch}.rope.scaling.factor", 1.0),
                "original_max_position_embeddings": meta.get(f"{arch}.rope.scaling.original_context_length"),
            }
        vocab = meta.get(f"{arch}.vocab_size") or len(meta.get("tokenizer.ggml.tokens", []))
        return cls(
            dim=dim,
            n_layers=int(key("block_count")),
            n_heads=n_heads,
            n_kv_heads=int(meta.get(f"{arch}.attention.head_count_kv") or n_heads),
            vocab_size=int(vocab),
            intermediate_size=int(key("feed_forward_length")),
            head_dim=int(meta.get(f"{arch}.rope.dimension_count") or dim // n_heads),
            norm_eps=float(key("attention.layer_norm_rms_epsilon")),
            rope_theta=float(meta.get(f"{arch}.rope.freq_base", 10000.0)),
            rope_scaling=_rope_scaling(scaling, max_positions),
            max_position_embeddings=max_positions,
            tie_word_embeddings="output.weight" not in tensor_names,
            attention_bias=GGUF_ARCHITECTURES[arch],
        )


def _rope_scaling(params: dict[str, Any], max_positions: int) -> RopeScaling:
    kind = params.get("rope_type") or params.get("type") or "default"
    if kind == "default":
        return RopeScaling()
    if kind not in ("linear", "dynamic", "llama3"):
        raise UnsupportedModelError(
            f"RoPE scaling {kind!r} is not supported; supported are none, linear, dynamic (NTK) and llama3."
        )
    original = params.get("original_max_position_embeddings") or max_positions
    return RopeScaling(
        kind=cast(RopeKind, kind),
        factor=float(params["factor"]),
        original_max_positions=int(original),
        low_freq_factor=float(params.get("low_freq_factor", 1.0)),
        high_freq_factor=float(params.get("high_freq_factor", 4.0)),
    )
