"""Strict loading: sharded safetensors folders load; a missing, extra or mis-shaped tensor is a clear error."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from model.args import ModelArgs
from model.errors import UnsupportedModelError, WeightsError
from model.loader import build_transformer
from model.weights import read_checkpoint, read_hf_folder, unpermute_rotary_rows
from tests.model.hf_reference import save_random_llama


def test_sharded_checkpoint_loads_like_a_single_file(tmp_path: Path) -> None:
    hf = save_random_llama(tmp_path / "single", seed=3)
    hf.save_pretrained(tmp_path / "sharded", safe_serialization=True, max_shard_size="40KB")
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    single = read_hf_folder(tmp_path / "single", torch.float32).tensors
    sharded = read_hf_folder(tmp_path / "sharded", torch.float32).tensors
    assert single.keys() == sharded.keys()
    assert all(torch.equal(single[k], sharded[k]) for k in single)


def rewrite(folder: Path, edit: object) -> None:
    path = folder / "model.safetensors"
    tensors = load_file(str(path))
    edit(tensors)  # type: ignore[operator]
    save_file(tensors, str(path), metadata={"format": "pt"})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.pop("model.layers.1.mlp.up_proj.weight"), "missing model.layers.1.mlp.up_proj.weight"),
        (lambda t: t.__setitem__("model.extra.weight", torch.zeros(2)), "unexpected model.extra.weight"),
        (
            lambda t: t.__setitem__("model.norm.weight", torch.zeros(63)),
            r"model.norm.weight has shape \(63,\), expected \(64,\)",
        ),
    ],
)
def test_mismatched_checkpoint_is_refused_with_the_tensor_named(tmp_path: Path, edit: object, message: str) -> None:
    save_random_llama(tmp_path, seed=1)
    rewrite(tmp_path, edit)
    with pytest.raises(WeightsError, match=message):
        read_hf_folder(tmp_path, torch.float32)


def test_old_rotary_buffers_are_not_weights(tmp_path: Path) -> None:
    save_random_llama(tmp_path, seed=2)
    rewrite(tmp_path, lambda t: t.__setitem__("model.layers.0.self_attn.rotary_emb.inv_freq", torch.ones(8)))
    build_transformer(read_hf_folder(tmp_path, torch.float32), torch.device("cpu"))


def test_bf16_load_keeps_the_dtype(tmp_path: Path) -> None:
    save_random_llama(tmp_path, seed=4)
    model = build_transformer(read_hf_folder(tmp_path, torch.bfloat16), torch.device("cpu"))
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_unsupported_architecture_and_paths_are_clear(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError, match="Supported architectures are"):
        ModelArgs.from_hf_config({"architectures": ["GemmaForCausalLM"], "model_type": "gemma"})
    with pytest.raises(WeightsError, match="does not exist"):
        read_checkpoint(tmp_path / "nope", torch.float32)
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises((UnsupportedModelError, WeightsError)):
        read_checkpoint(tmp_path, torch.float32)


def test_unpermute_undoes_llama_cpp_permutation() -> None:
    """llama.cpp's convert script permutes Q/K rows per head; our loader must invert it exactly."""
    n_heads, head_dim, dim = 3, 8, 12
    w = torch.randn(n_heads * head_dim, dim).numpy()

    def llama_cpp_permute(x, heads):  # type: ignore[no-untyped-def]
        return x.reshape(heads, 2, x.shape[0] // heads // 2, *x.shape[1:]).swapaxes(1, 2).reshape(x.shape)

    assert (unpermute_rotary_rows(llama_cpp_permute(w, n_heads), n_heads) == w).all()
