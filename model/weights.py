"""Strict weight loading: Hugging Face safetensors folders and GGUF files -> our parameter names.

Every tensor of the checkpoint must be used and every shape must match; anything else is a
WeightsError that names the tensor. Both formats are first mapped to Hugging Face names, then
converted once (fused q/k/v and gate/up matrices).
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.args import ModelArgs, RopeScaling
from model.errors import UnsupportedModelError, WeightsError
from model.gguf_metadata import GGUFMetadataError, read_gguf_file
from model.gguf_quant import BlockSpec

# Buffers some older Hugging Face checkpoints carry; recomputed by us, so they are not weights.
_IGNORED_SUFFIXES = (".rotary_emb.inv_freq",)


@dataclass
class Checkpoint:
    args: ModelArgs
    tensors: dict[str, torch.Tensor]  # our parameter names
    metadata: dict[str, Any]  # GGUF key/values, or the HF config
    # Modules kept as GGUF blocks (model.gguf_blocks): our module name -> what it becomes.
    block_modules: dict[str, BlockSpec] = dataclass_field(default_factory=dict)


def expected_hf_shapes(args: ModelArgs) -> dict[str, tuple[int, ...]]:
    q, kv = args.n_heads * args.head_dim, args.n_kv_heads * args.head_dim
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (args.vocab_size, args.dim),
        "model.norm.weight": (args.dim,),
    }
    if not args.tie_word_embeddings:
        shapes["lm_head.weight"] = (args.vocab_size, args.dim)
    for i in range(args.n_layers):
        p = f"model.layers.{i}."
        shapes |= {
            p + "self_attn.q_proj.weight": (q, args.dim),
            p + "self_attn.k_proj.weight": (kv, args.dim),
            p + "self_attn.v_proj.weight": (kv, args.dim),
            p + "self_attn.o_proj.weight": (args.dim, q),
            p + "mlp.gate_proj.weight": (args.intermediate_size, args.dim),
            p + "mlp.up_proj.weight": (args.intermediate_size, args.dim),
            p + "mlp.down_proj.weight": (args.dim, args.intermediate_size),
            p + "input_layernorm.weight": (args.dim,),
            p + "post_attention_layernorm.weight": (args.dim,),
        }
        if args.attention_bias:
            shapes |= {p + "self_attn.q_proj.bias": (q,), p + "self_attn.k_proj.bias": (kv,),
                       p + "self_attn.v_proj.bias": (kv,)}  # fmt: skip
    return shapes


def check_names_and_shapes(args: ModelArgs, shapes: Mapping[str, tuple[int, ...]], source: str) -> None:
    """Every expected tensor present with its shape, nothing else (Hugging Face names)."""
    expected = expected_hf_shapes(args)
    missing = sorted(set(expected) - set(shapes))
    extra = sorted(set(shapes) - set(expected))
    if missing or extra:
        raise WeightsError(
            f"{source} does not match the architecture: "
            + (f"missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"unexpected {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}" if extra else "")
        )
    for name, shape in expected.items():
        if tuple(shapes[name]) != shape:
            raise WeightsError(f"{source}: {name} has shape {tuple(shapes[name])}, expected {shape}.")


def convert_hf_tensors(
    args: ModelArgs, hf: Mapping[str, torch.Tensor], source: str, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """Check names and shapes strictly, then rename to ours and fuse q/k/v and gate/up."""
    hf = {k: v for k, v in hf.items() if not k.endswith(_IGNORED_SUFFIXES)}
    if args.tie_word_embeddings and "lm_head.weight" in hf:
        # Some tied checkpoints store the head anyway; accept it only if it really is the embedding.
        if not torch.equal(hf["lm_head.weight"], hf.get("model.embed_tokens.weight", torch.empty(0))):
            raise WeightsError(f"{source}: tie_word_embeddings is set but lm_head.weight differs.")
        hf = {k: v for k, v in hf.items() if k != "lm_head.weight"}
    check_names_and_shapes(args, {name: tuple(t.shape) for name, t in hf.items()}, source)

    def get(name: str) -> torch.Tensor:
        return hf[name].to(dtype)

    ours = {
        "tok_embeddings.weight": get("model.embed_tokens.weight"),
        "norm.weight": get("model.norm.weight"),
    }
    ours["output.weight"] = (
        ours["tok_embeddings.weight"] if args.tie_word_embeddings else get("lm_head.weight")
    )
    for i in range(args.n_layers):
        p, o = f"model.layers.{i}.", f"layers.{i}."
        ours[o + "attention.wqkv.weight"] = torch.cat(
            [get(p + f"self_attn.{n}_proj.weight") for n in "qkv"], dim=0
        )
        if args.attention_bias:
            ours[o + "attention.wqkv.bias"] = torch.cat([get(p + f"self_attn.{n}_proj.bias") for n in "qkv"])
        ours[o + "attention.wo.weight"] = get(p + "self_attn.o_proj.weight")
        ours[o + "feed_forward.w13.weight"] = torch.cat(
            [get(p + "mlp.gate_proj.weight"), get(p + "mlp.up_proj.weight")], dim=0
        )
        ours[o + "feed_forward.w2.weight"] = get(p + "mlp.down_proj.weight")
        ours[o + "attention_norm.weight"] = get(p + "input_layernorm.weight")
        ours[o + "ffn_norm.weight"] = get(p + "post_attention_layernorm.weight")
    return ours


def read_hf_folder(folder: Path, dtype: torch.dtype) -> Checkpoint:
    """A Hugging Face checkpoint folder: config.json + model.safetensors or sharded with an index."""
    from safetensors import safe_open

    args = ModelArgs.from_hf_folder(folder)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map: dict[str, str] = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        files = sorted(set(weight_map.values()))
    elif (folder / "model.safetensors").is_file():
        files = ["model.safetensors"]
    else:
        if any(folder.glob("*.bin")):
            raise UnsupportedModelError(
                f"{folder} holds PyTorch .bin weights; convert them to safetensors (only safetensors load)."
            )
        raise WeightsError(f"{folder} has no model.safetensors or model.safetensors.index.json.")
    tensors: dict[str, torch.Tensor] = {}
    for name in files:
        path = folder / name
        if not path.is_file():
            raise WeightsError(f"Shard {name} listed in the index is missing from {folder}.")
        with safe_open(str(path), framework="pt") as shard:
            for key in shard.keys():  # noqa: SIM118 (safe_open is not a dict)
                if key in tensors:
                    raise WeightsError(f"Tensor {key} appears in more than one shard of {folder}.")
                tensors[key] = shard.get_tensor(key)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return Checkpoint(args, convert_hf_tensors(args, tensors, str(folder), dtype), config)


_GGUF_TO_HF: dict[str, str] = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}


def gguf_name_to_hf(name: str) -> str:
    top = {
        "token_embd.weight": "model.embed_tokens.weight",
        "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight",
    }
    if name in top:
        return top[name]
    parts = name.split(".")
    if len(parts) == 4 and parts[0] == "blk" and parts[2] in _GGUF_TO_HF and parts[3] in ("weight", "bias"):
        return f"model.layers.{parts[1]}.{_GGUF_TO_HF[parts[2]]}.{parts[3]}"
    return f"<gguf:{name}>"  # unknown: reported as unexpected by the strict check


def unpermute_rotary_rows(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """GGUF stores Q/K rows interleaved per head for llama.cpp's rotary layout; undo it (HF half-split)."""
    rows = weight.shape[0]
    return (
        weight.reshape(n_heads, rows // n_heads // 2, 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def rotary_permutation(meta: Mapping[str, Any], args: ModelArgs) -> dict[str, int]:
    """GGUF tensor kind -> heads whose rows llama.cpp permuted: only its "llama" converter does that
    (Qwen2 files use the half-split layout as they are)."""
    if meta.get("general.architecture") != "llama":
        return {}
    return {"attn_q": args.n_heads, "attn_k": args.n_kv_heads}


ROPE_FREQS = "rope_freqs.weight"  # Llama-3.1: the divisor of each rotary frequency


def with_rope_freqs(args: ModelArgs, reader: Any, source: str) -> ModelArgs:
    """Llama-3.1 files carry their `llama3` rope scaling as a tensor of frequency divisors."""
    from gguf.quants import dequantize

    tensor = next((t for t in reader.tensors if t.name == ROPE_FREQS), None)
    if tensor is None:
        return args
    factors = np.asarray(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32).reshape(-1)
    if factors.shape != (args.head_dim // 2,):
        raise WeightsError(f"{source}: {ROPE_FREQS} has {factors.shape[0]} values, expected {args.head_dim // 2}.")
    scaling = RopeScaling(kind="llama3", freq_factors=tuple(float(f) for f in factors))
    return replace(args, rope_scaling=scaling)


def read_gguf_metadata(reader: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        try:
            meta[key] = field.contents()
        except Exception as error:  # a field type gguf cannot decode must not stop the load
            meta[key] = error
    return meta


def open_gguf(path: Path) -> tuple[Any, dict[str, Any], ModelArgs]:
    """(reader, metadata, model arguments) of a GGUF file, read from its header (model.gguf_metadata);
    a file that reader refuses (big-endian, GGUF v1) goes through gguf-py's, and one neither reads is
    a WeightsError."""
    try:
        ours = read_gguf_file(path)
        reader: Any = ours
        meta = ours.metadata
    except (GGUFMetadataError, OSError):
        from gguf import GGUFReader

        try:
            reader = GGUFReader(str(path))
        except Exception as error:
            raise WeightsError(f"{path} is not a readable GGUF file: {error}") from error
        meta = read_gguf_metadata(reader)
    args = with_rope_freqs(ModelArgs.from_gguf_metadata(meta, {t.name for t in reader.tensors}), reader, str(path))
    return reader, meta, args


def read_gguf(path: Path, dtype: torch.dtype) -> Checkpoint:
    """A GGUF file (any quantisation gguf-py can dequantise), dequantised to `dtype`."""
    from gguf.quants import dequantize

    reader, meta, args = open_gguf(path)
    hf: dict[str, torch.Tensor] = {}
    permute = rotary_permutation(meta, args)
    for tensor in reader.tensors:
        if tensor.name == ROPE_FREQS:
            continue
        try:
            array = dequantize(tensor.data, tensor.tensor_type)
        except NotImplementedError as error:
            raise UnsupportedModelError(
                f"{path}: tensor {tensor.name} uses {tensor.tensor_type.name}, which cannot be dequantised."
            ) from error
        shape = tuple(int(d) for d in reversed(tensor.shape.tolist()))  # GGUF lists dims innermost first
        array = np.asarray(array, dtype=np.float32).reshape(shape)
        kind = tensor.name.split(".")[2] if tensor.name.startswith("blk.") else ""
        if kind in permute:
            array = unpermute_rotary_rows(array, permute[kind])
        hf[gguf_name_to_hf(tensor.name)] = torch.tensor(array)  # copies: GGUF data is a read-only memmap
    return Checkpoint(args, convert_hf_tensors(args, hf, str(path), dtype), meta)


def read_checkpoint(path: Path, dtype: torch.dtype, keep_blocks: bool = False) -> Checkpoint:
    """keep_blocks: a GGUF file's quantised tensors stay as its blocks (model.gguf_blocks)."""
    from model.gguf_blocks import read_gguf_blocks

    gguf_reader = read_gguf_blocks if keep_blocks else read_gguf
    readers: dict[bool, Callable[[Path, torch.dtype], Checkpoint]] = {True: read_hf_folder, False: gguf_reader}
    if not path.exists():
        raise WeightsError(f"Model path {path} does not exist.")
    if path.is_file() and path.suffix != ".gguf":
        raise UnsupportedModelError(f"{path} is neither a model folder nor a .gguf file.")
    return readers[path.is_dir()](path, dtype)
