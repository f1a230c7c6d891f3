"""Build a ready-to-run Transformer from a checkpoint path (or the bundled default)."""

from pathlib import Path

import torch

from model.bundled import bundled_gguf_path
from model.errors import UnsupportedModelError
from model.model import Transformer
from model.weights import Checkpoint, read_checkpoint

BUNDLED = "bundled"


def resolve_model_path(source: str | Path) -> Path:
    return bundled_gguf_path() if str(source) == BUNDLED else Path(source).expanduser()


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UnsupportedModelError("KB_DEVICE=cuda was asked for, but no CUDA GPU is visible to PyTorch.")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        # bf16 only pays on GPUs; this CPU class has no fast bf16 kernels in stock PyTorch.
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def build_transformer(checkpoint: Checkpoint, device: torch.device) -> Transformer:
    """Create the module on the meta device (no random init) and adopt the checkpoint's tensors."""
    with torch.device("meta"):
        model = Transformer(checkpoint.args)
        for name, spec in checkpoint.block_modules.items():  # GGUF blocks: their modules replace ours
            parent, _, attribute = name.rpartition(".")
            setattr(model.get_submodule(parent), attribute, spec.build(checkpoint.tensors["norm.weight"].dtype))
    model.load_state_dict(checkpoint.tensors, strict=True, assign=True)
    if checkpoint.args.tie_word_embeddings and not checkpoint.block_modules:
        model.output.weight = model.tok_embeddings.weight
    model = model.to(device).eval()
    model.requires_grad_(False)
    return model


def load_transformer(
    source: str | Path, device: str = "auto", dtype: str = "auto", keep_blocks: bool = False
) -> tuple[Transformer, Checkpoint]:
    """keep_blocks: keep a GGUF file's quantised blocks (model.gguf_quant) rather than dequantising."""
    target = resolve_device(device)
    checkpoint = read_checkpoint(resolve_model_path(source), resolve_dtype(dtype, target), keep_blocks)
    return build_transformer(checkpoint, target), checkpoint
