"""Int8 weight-only quantisation of the linear layers (per output channel, symmetric).

Stock PyTorch has no fast int8 x float GEMV on these CPUs. On CPU the decode step is our C step
(model.native), which reads these int8 weights and scales directly. On the PyTorch step, single-row
products (decoding) go through a dequantise-and-multiply that torch.compile (Inductor) fuses into one
loop reading int8 weights: a quarter of the bytes of fp32, which is what a memory-bound decode step
pays for. On a GPU with Triton, that single-row product is our own kernel instead (model.triton_gemv):
Inductor's reduction read int8 weights no faster than bf16 ones. Batched products (prefill) dequantise
the weight and use the regular matmul.
"""

from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from model import triton_gemv
from model.errors import UnsupportedModelError

_compiled_gemv: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None


def _gemv(x: torch.Tensor, weight: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """x [1, K] float, weight [N, K] int8, scales [N] -> [1, N]; written as one reduction to be fused."""
    return (x[:, None, :] * weight[None].to(x.dtype)).sum(-1) * scales


def fused_gemv() -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    global _compiled_gemv
    if _compiled_gemv is None:
        _compiled_gemv = cast(
            Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
            torch.compile(_gemv, dynamic=False),
        )
    return _compiled_gemv


def single_row_product(
    weight: torch.Tensor,
) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """The Triton kernel where it runs (a GPU, or Triton's interpreter), Inductor's fused loop otherwise."""
    return triton_gemv.int8_gemv if triton_gemv.runs_on(weight) else fused_gemv()


class Int8Linear(nn.Module):
    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        w = weight.detach().float()  # [N, K]
        scales = w.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        quantised = torch.round(w / scales[:, None]).clamp(-127, 127).to(torch.int8)
        self.in_features, self.out_features = weight.shape[1], weight.shape[0]
        self.register_buffer("weight", quantised)
        self.register_buffer("scales", scales.to(weight.dtype))
        self.weight: torch.Tensor
        self.scales: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == self.in_features:  # one row: the memory-bound decode step
            out = single_row_product(self.weight)(x.reshape(1, -1), self.weight, self.scales)
            return out.reshape(*x.shape[:-1], self.out_features)
        return F.linear(x, self.weight.to(x.dtype)) * self.scales


def quantize_int8(model: nn.Module) -> nn.Module:
    """Replace every nn.Linear (the tied output head too; the embedding table stays as it is) in place."""
    triton_gemv.runner()  # settled now, not first while torch.compile traces the forward
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Linear):
            if child.bias is not None:
                raise UnsupportedModelError(f"int8 quantisation does not handle the bias of {name}.")
            setattr(model, name, Int8Linear(child.weight))
        else:
            quantize_int8(child)
    return model
