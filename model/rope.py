"""Rotary position embedding (half-split layout, as HF Llama), with linear and dynamic NTK scaling."""

import math

import torch

from model.args import ModelArgs


def inverse_frequencies(head_dim: int, base: float | torch.Tensor) -> torch.Tensor:
    """[head_dim // 2] float32; the same expression as transformers so the values match bit for bit."""
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).to(dtype=torch.float) / head_dim
    return 1.0 / (base**exponents)


def llama3_inverse_frequencies(inv_freq: torch.Tensor, args: ModelArgs) -> torch.Tensor:
    """Llama-3.1's rope: long wavelengths slowed by `factor`, short ones kept, a smooth band between.
    A GGUF file carries the divisors (rope_freqs.weight, as llama.cpp divides); a HF config the
    parameters, applied as transformers' _compute_llama3_parameters does."""
    scaling = args.rope_scaling
    if scaling.freq_factors is not None:
        return inv_freq / torch.tensor(scaling.freq_factors, dtype=torch.float32)
    original = scaling.original_max_positions or args.max_position_embeddings
    low_wavelen = original / scaling.low_freq_factor
    high_wavelen = original / scaling.high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / scaling.factor, inv_freq)
    smooth = (original / wavelen - scaling.low_freq_factor) / (scaling.high_freq_factor - scaling.low_freq_factor)
    smoothed = (1 - smooth) * scaled / scaling.factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, scaled)


class RotaryEmbedding:
    """Produces cos/sin for absolute positions. Stateless: dynamic NTK depends only on the sequence length."""

    def __init__(self, args: ModelArgs, device: torch.device | str = "cpu") -> None:
        self.args = args
        self.device = torch.device(device)
        scaling = args.rope_scaling
        inv_freq = inverse_frequencies(args.head_dim, args.rope_theta)
        if scaling.kind == "linear":
            inv_freq = inv_freq / scaling.factor
        elif scaling.kind == "llama3":
            inv_freq = llama3_inverse_frequencies(inv_freq, args)
        self.inv_freq = inv_freq.to(self.device)  # [head_dim // 2]

    def _dynamic_inv_freq(self, seq_len: int) -> torch.Tensor:
        """NTK-aware base growth past the trained context (transformers' dynamic rope, float32 maths)."""
        scaling = self.args.rope_scaling
        original = scaling.original_max_positions or self.args.max_position_embeddings
        if seq_len <= original:
            return self.inv_freq
        length = torch.tensor(seq_len, dtype=torch.int64)
        dim = self.args.head_dim
        base = self.args.rope_theta * ((scaling.factor * length / original) - (scaling.factor - 1)) ** (
            dim / (dim - 2)
        )
        return inverse_frequencies(dim, base).to(self.device)

    def cos_sin(self, start_pos: int, length: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin of shape [length, head_dim] for positions start_pos .. start_pos + length - 1."""
        inv_freq = self.inv_freq
        if self.args.rope_scaling.kind == "dynamic":
            inv_freq = self._dynamic_inv_freq(start_pos + length)
        positions = torch.arange(start_pos, start_pos + length, device=self.device, dtype=torch.float)
        freqs = positions[:, None] * inv_freq[None, :]  # [T, D/2]
        emb = torch.cat((freqs, freqs), dim=-1)  # [T, D]
        return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, H, T, D]; cos/sin [T, D]."""
    return x * cos + rotate_half(x) * sin
