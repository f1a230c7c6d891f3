"""Read a GGUF file keeping its quantised blocks (model.gguf_quant) instead of dequantising them.

The strict rules of model.weights hold: every tensor used, every (logical) shape checked, a clear
error naming the tensor otherwise. Matrices stay as [rows, row_bytes] uint8 in the file's own block
type (F16/BF16 matrices become F32 rows); q/k/v and gate/up become row ranges of one fused module
without being copied together. Vectors (norms) are read as `dtype`.
"""

from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.args import ModelArgs
from model.errors import UnsupportedModelError, WeightsError
from model.gguf_quant import LAYOUTS, QUANTIZED_TYPES, BlockSpec
from model.weights import (
    ROPE_FREQS,
    Checkpoint,
    check_names_and_shapes,
    gguf_name_to_hf,
    open_gguf,
    rotary_permutation,
    unpermute_rotary_rows,
)

_FLOAT_TYPES = frozenset({0, 1, 30})  # F32, F16, BF16: matrices of these become F32 rows


def _matrix_rows(tensor: Any, rows: int, path: Path) -> tuple[int, np.ndarray]:
    """(type_id, [rows, row_bytes] uint8) of a 2-D GGUF tensor, as stored where the C step reads it."""
    type_id = int(tensor.tensor_type)
    if type_id in QUANTIZED_TYPES:
        return type_id, np.ascontiguousarray(tensor.data).reshape(rows, -1)
    if type_id in _FLOAT_TYPES:
        from gguf.quants import dequantize

        floats = np.asarray(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32).reshape(rows, -1)
        return 0, np.ascontiguousarray(floats).view(np.uint8)
    supported = ", ".join(layout.name for layout in LAYOUTS.values())
    raise UnsupportedModelError(
        f"{path}: tensor {tensor.name} is {tensor.tensor_type.name}; the decoder reads {supported}, F16 and BF16."
    )


def read_gguf_blocks(path: Path, dtype: torch.dtype) -> Checkpoint:
    from gguf.quants import dequantize

    reader, meta, args = open_gguf(path)
    permute = rotary_permutation(meta, args)
    shapes: dict[str, tuple[int, ...]] = {}
    matrices: dict[str, tuple[int, torch.Tensor]] = {}  # HF name -> (type_id, [rows, row_bytes])
    vectors: dict[str, torch.Tensor] = {}
    for tensor in reader.tensors:
        if tensor.name == ROPE_FREQS:
            continue
        name = gguf_name_to_hf(tensor.name)
        shape = tuple(int(d) for d in reversed(tensor.shape.tolist()))  # GGUF lists dims innermost first
        shapes[name] = shape
        kind = tensor.name.split(".")[2] if tensor.name.startswith("blk.") else ""
        if len(shape) == 1:
            vector = np.asarray(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32)
            if kind in permute:  # a q or k bias follows its rows
                vector = unpermute_rotary_rows(vector, permute[kind])
            vectors[name] = torch.tensor(vector)
            continue
        type_id, rows = _matrix_rows(tensor, shape[0], path)
        if kind in permute:  # rows are whole blocks: permuting rows undoes GGUF's rotary layout
            rows = unpermute_rotary_rows(rows, permute[kind])
        matrices[name] = (type_id, torch.from_numpy(np.array(rows)))  # a copy: the file is a read-only memmap
    if args.tie_word_embeddings and "lm_head.weight" in shapes:
        raise WeightsError(f"{path}: output.weight is present, yet the head was taken as tied.")
    check_names_and_shapes(args, shapes, str(path))
    tensors, specs = _ours(args, matrices, vectors, dtype)
    return Checkpoint(args, tensors, meta, block_modules=specs)


def _ours(
    args: ModelArgs, matrices: dict[str, tuple[int, torch.Tensor]], vectors: dict[str, torch.Tensor], dtype: torch.dtype
) -> tuple[dict[str, torch.Tensor], dict[str, BlockSpec]]:
    """Our tensor names and the block modules they fill: fused q/k/v and gate/up as row ranges."""
    tensors: dict[str, torch.Tensor] = {}
    specs: dict[str, BlockSpec] = {}

    def fuse(module: str, hf_names: list[str], in_features: int, embedding: bool = False) -> None:
        parts = []
        for i, hf_name in enumerate(hf_names):
            type_id, rows = matrices[hf_name]
            tensors[f"{module}.part{i}"] = rows
            parts.append((type_id, rows.shape[0]))
        biases = [name.removesuffix(".weight") + ".bias" for name in hf_names]
        bias = all(name in vectors for name in biases) and not embedding
        if bias:  # fp32 whatever dtype: the C step adds it to fp32 sums
            tensors[f"{module}.bias"] = torch.cat([vectors[name] for name in biases])
        specs[module] = BlockSpec(in_features, tuple(parts), embedding=embedding, bias=bias)

    fuse("tok_embeddings", ["model.embed_tokens.weight"], args.dim, embedding=True)
    fuse("output", ["model.embed_tokens.weight" if args.tie_word_embeddings else "lm_head.weight"], args.dim)
    tensors["norm.weight"] = vectors["model.norm.weight"].to(dtype)
    for i in range(args.n_layers):
        p, o = f"model.layers.{i}.", f"layers.{i}."
        fuse(o + "attention.wqkv", [p + f"self_attn.{n}_proj.weight" for n in "qkv"], args.dim)
        fuse(o + "attention.wo", [p + "self_attn.o_proj.weight"], args.n_heads * args.head_dim)
        fuse(o + "feed_forward.w13", [p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"], args.dim)
        fuse(o + "feed_forward.w2", [p + "mlp.down_proj.weight"], args.intermediate_size)
        tensors[o + "attention_norm.weight"] = vectors[p + "input_layernorm.weight"].to(dtype)
        tensors[o + "ffn_norm.weight"] = vectors[p + "post_attention_layernorm.weight"].to(dtype)
    return tensors, specs
