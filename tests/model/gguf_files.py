"""Random-weight GGUF files written with the gguf package's writer, for whole-model parity tests."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter
from gguf.quants import quantize

from model.gguf_quant import LAYOUTS
from tests.model.test_gguf_kernels import HALF_FIELDS

Q = GGMLQuantizationType
K_TYPES = {Q.Q4_K, Q.Q5_K, Q.Q6_K}  # the gguf package cannot quantise these: random blocks instead
# Block scales giving weights of roughly the spread of the float ones (std ~0.2).
K_SCALES = {Q.Q4_K: (0.002, 0.006), Q.Q5_K: (0.001, 0.003), Q.Q6_K: (0.00005, 0.00015)}
ZERO_MEAN = {Q.Q4_K: 7.5, Q.Q5_K: 15.5}  # mean of the unsigned values


@dataclass
class RandomGGUF:
    arch: str = "llama"
    types: dict[str, Q] = field(default_factory=dict)  # GGUF tensor kind (attn_q, ffn_down, token_embd ...) -> type
    default_type: Q = Q.Q8_0
    dim: int = 256
    hidden: int = 512
    n_heads: int = 4
    n_kv_heads: int = 2
    n_layers: int = 2
    vocab: int = 300
    tied: bool = False
    qkv_bias: bool = False
    rope_freq_factors: bool = False  # Llama-3.1's rope_freqs.weight
    context: int = 256

    def matrix(self, rng: np.random.Generator, kind: str, rows: int, cols: int) -> tuple[np.ndarray, Q]:
        qtype = self.types.get(kind, self.default_type)
        if qtype in K_TYPES:
            layout = LAYOUTS[int(qtype)]
            blocks = rng.integers(0, 256, size=(rows * cols // layout.block_values, layout.block_bytes), dtype=np.uint8)
            low, high = K_SCALES[qtype]
            d = rng.uniform(low, high, size=(len(blocks), 1))
            for at in HALF_FIELDS[int(qtype)]:
                blocks[:, at : at + 2] = d.astype(np.float16).view(np.uint8)
            if qtype in ZERO_MEAN:  # min = scale and dmin = d * mean(q): sub-blocks of mean ~0
                blocks[:, 2:4] = (d * ZERO_MEAN[qtype]).astype(np.float16).view(np.uint8)
                s = rng.integers(1, 16, size=(len(blocks), 8), dtype=np.uint8)
                blocks[:, 4:8], blocks[:, 8:12], blocks[:, 12:16] = s[:, :4], s[:, :4], s[:, 4:] | (s[:, 4:] << 4)
            return blocks.reshape(rows, -1), qtype
        weights = rng.normal(0.0, 0.2, size=(rows, cols)).astype(np.float32)
        return (weights, qtype) if qtype == Q.F32 else (quantize(weights, qtype), qtype)

    def write(self, path: Path, seed: int) -> Path:
        rng = np.random.default_rng(seed)
        a, head_dim = self.arch, self.dim // self.n_heads
        writer = GGUFWriter(str(path), a)
        writer.add_block_count(self.n_layers)
        writer.add_context_length(self.context)
        writer.add_embedding_length(self.dim)
        writer.add_feed_forward_length(self.hidden)
        writer.add_head_count(self.n_heads)
        writer.add_head_count_kv(self.n_kv_heads)
        writer.add_rope_dimension_count(head_dim)
        writer.add_layer_norm_rms_eps(1e-5)
        writer.add_rope_freq_base(10000.0)
        writer.add_vocab_size(self.vocab)

        def add(name: str, kind: str, rows: int, cols: int) -> None:
            data, qtype = self.matrix(rng, kind, rows, cols)
            writer.add_tensor(name, data, raw_dtype=None if qtype == Q.F32 else qtype)

        def vector(name: str, size: int, low: float, high: float) -> None:
            writer.add_tensor(name, rng.uniform(low, high, size=size).astype(np.float32))

        add("token_embd.weight", "token_embd", self.vocab, self.dim)
        vector("output_norm.weight", self.dim, 0.5, 1.5)
        if not self.tied:
            add("output.weight", "output", self.vocab, self.dim)
        if self.rope_freq_factors:
            vector("rope_freqs.weight", head_dim // 2, 1.0, 8.0)
        q, kv = self.n_heads * head_dim, self.n_kv_heads * head_dim
        for i in range(self.n_layers):
            p = f"blk.{i}."
            for kind, rows, cols in (
                ("attn_q", q, self.dim), ("attn_k", kv, self.dim), ("attn_v", kv, self.dim),
                ("attn_output", self.dim, q), ("ffn_gate", self.hidden, self.dim),
                ("ffn_up", self.hidden, self.dim), ("ffn_down", self.dim, self.hidden),
            ):  # fmt: skip
                add(p + kind + ".weight", kind, rows, cols)
            if self.qkv_bias:
                for kind, size in (("attn_q", q), ("attn_k", kv), ("attn_v", kv)):
                    vector(p + kind + ".bias", size, -0.5, 0.5)
            vector(p + "attn_norm.weight", self.dim, 0.5, 1.5)
            vector(p + "ffn_norm.weight", self.dim, 0.5, 1.5)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return path
