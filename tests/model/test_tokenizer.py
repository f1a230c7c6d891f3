"""Our tokenizer against transformers' for the bundled GGUF and for a saved Hugging Face folder."""

import json
import random
from pathlib import Path
from typing import Any

import pytest

from model.chat_template import ChatMessage
from model.errors import TokenizerError
from model.tokenizer import Tokenizer
from tests.model.tok_helpers import CORPUS, bundled_tokenizer, reference_tokenizer, write_sentencepiece_gguf


@pytest.fixture(scope="module")
def ours() -> Tokenizer:
    return bundled_tokenizer()


@pytest.fixture(scope="module")
def ref() -> Any:
    return reference_tokenizer()


@pytest.fixture(scope="module")
def hf_folder(ref: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hf_tokenizer")
    ref.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("text", CORPUS)
def test_encode_matches_transformers(ours: Tokenizer, ref: Any, text: str) -> None:
    assert ours.encode(text) == ref.encode(text, add_special_tokens=False)


@pytest.mark.parametrize("text", CORPUS)
def test_decode_matches_transformers_and_round_trips(ours: Tokenizer, ref: Any, text: str) -> None:
    ids = ours.encode(text)
    for skip in (True, False):
        assert ours.decode(ids, skip_special=skip) == ref.decode(ids, skip_special_tokens=skip)
    assert ours.decode(ids, skip_special=False) == text


def test_specials_and_ids(ours: Tokenizer, ref: Any) -> None:
    assert ours.bos_id == 1 == ref.bos_token_id
    assert ours.eos_id == 2 == ref.eos_token_id
    assert ours.vocab_size == len(ref) == 49152
    assert ours.token_to_id("<|im_end|>") == 2
    assert ours.token_to_id("no-such-token-anywhere") is None
    # <|im_end|> is both EOS and the template's end of turn.
    assert ours.stop_ids == frozenset({2})
    assert ours.add_bos_token is False
    assert ours.encode("hi", add_bos=True) == [1, *ours.encode("hi")]
    assert ours.decode(ours.encode("<|im_start|>hi<|im_end|>")) == "hi"


def test_from_hf_folder_matches(hf_folder: Path, ours: Tokenizer, ref: Any) -> None:
    folder_tok = Tokenizer.from_hf_folder(hf_folder)
    for text in CORPUS:
        assert folder_tok.encode(text) == ours.encode(text) == ref.encode(text, add_special_tokens=False)
    assert (folder_tok.bos_id, folder_tok.eos_id, folder_tok.stop_ids) == (1, 2, frozenset({2}))
    assert folder_tok.chat_template.source == ours.chat_template.source


def test_from_hf_folder_reads_generation_config_stop_ids(hf_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "with_generation_config"
    folder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((hf_folder / name).read_bytes())
    (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": [2, 0]}))
    assert Tokenizer.from_hf_folder(folder).stop_ids == frozenset({0, 2})


def test_missing_files_raise_tokenizer_error(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match=r"tokenizer\.json"):
        Tokenizer.from_hf_folder(tmp_path)
    with pytest.raises(TokenizerError, match="does not exist"):
        Tokenizer.from_gguf(tmp_path / "missing.gguf")


def test_model_without_template_needs_explicit_fallback(hf_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "no_template"
    folder.mkdir()
    (folder / "tokenizer.json").write_bytes((hf_folder / "tokenizer.json").read_bytes())
    config = json.loads((hf_folder / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    bare = Tokenizer.from_hf_folder(folder)
    assert not bare.has_chat_template
    with pytest.raises(TokenizerError, match="fallback_template"):
        _ = bare.chat_template
    chatml = Tokenizer.from_hf_folder(folder, fallback_template="chatml")
    assert chatml.chat_template.source.startswith("{% for message in messages %}")


# -- streaming decoder ------------------------------------------------------------------------------


def stream(tokenizer: Tokenizer, ids: list[int], skip_special: bool = True) -> list[str]:
    decoder = tokenizer.stream_decoder(skip_special=skip_special)
    pieces = [decoder.feed(i) for i in ids]
    pieces.append(decoder.flush())
    return pieces


@pytest.mark.parametrize("text", [*CORPUS, "数据🎉" * 20, "👩‍👩‍👧" * 5 + "end"])
def test_stream_of_real_text_equals_decode(ours: Tokenizer, text: str) -> None:
    ids = ours.encode(text)
    for skip in (True, False):
        pieces = stream(ours, ids, skip)
        assert "".join(pieces) == ours.decode(ids, skip_special=skip)
        assert not any("\ufffd" in piece for piece in pieces)


def test_stream_splits_no_multibyte_character(ours: Tokenizer) -> None:
    ids = ours.encode("你好😀")
    assert len(ids) > 3  # the characters' bytes span several tokens
    pieces = [p for p in stream(ours, ids) if p]
    assert pieces == ["你", "好", "😀"]


def test_stream_of_random_ids_equals_decode(ours: Tokenizer) -> None:
    rng = random.Random(0)
    # Mostly single-byte and short tokens (ids of the byte alphabet sit low) so that invalid UTF-8 is common.
    for _ in range(150):
        ids = [rng.choice((rng.randrange(0, 300), rng.randrange(0, ours.vocab_size))) for _ in range(40)]
        for skip in (True, False):
            full = ours.decode(ids, skip_special=skip)
            pieces = stream(ours, ids, skip)
            assert "".join(pieces) == full
            if "\ufffd" not in full:
                assert not any("\ufffd" in p for p in pieces)


def test_stream_window_stays_small(ours: Tokenizer) -> None:
    decoder = ours.stream_decoder()
    for token_id in ours.encode("word " * 2000):
        decoder.feed(token_id)
        assert len(decoder._ids) <= 2 * decoder.MAX_PENDING  # O(1) work per token, not the whole text


# -- SentencePiece ('llama') GGUF -------------------------------------------------------------------


@pytest.fixture(scope="module")
def spm_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sentencepiece_gguf(tmp_path_factory.mktemp("spm") / "spm.gguf")


@pytest.fixture(scope="module")
def spm(spm_path: Path) -> Tokenizer:
    return Tokenizer.from_gguf(spm_path, fallback_template="llama2")


def plain(text: str) -> bool:
    """Text where transformers' GGUF conversion and llama.cpp agree: no leading space, no special token."""
    return bool(text) and not text[0].isspace() and "<s>" not in text and "</s>" not in text


def test_sentencepiece_gguf_matches_transformers_on_plain_text(spm: Tokenizer, spm_path: Path) -> None:
    from transformers import AutoTokenizer

    ref = AutoTokenizer.from_pretrained(str(spm_path.parent), gguf_file=spm_path.name)
    texts = [t for t in CORPUS if plain(t)]
    assert len(texts) > 10
    for text in texts:
        ids = spm.encode(text)
        assert ids == ref.encode(text, add_special_tokens=False), text
        assert spm.decode(ids) == ref.decode(ids, skip_special_tokens=True)
    assert spm.encode("Hi", add_bos=True) == ref.encode("Hi")  # BOS by default, as the file implies


def test_sentencepiece_gguf_follows_llama_cpp_where_transformers_differs(spm: Tokenizer) -> None:
    # Every text segment gets the word-start prefix, also after a special token (llama.cpp, Meta's
    # reference, Llama-2's tokenizer.json); so leading spaces survive a round trip.
    assert spm.encode("<s>[INST] hi") == [1, *spm.encode("[INST] hi")]
    for text in CORPUS:
        assert spm.decode(spm.encode(text), skip_special=False) == text


def test_sentencepiece_gguf_specials_and_template(spm: Tokenizer) -> None:
    assert (spm.bos_id, spm.eos_id, spm.add_bos_token, spm.stop_ids) == (1, 2, True, frozenset({2}))
    ids = spm.apply_chat_template([ChatMessage("system", "Be brief."), ChatMessage("user", "hi")])
    assert ids[0] == 1 and ids[1:] == spm.encode("[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nhi [/INST]")


@pytest.mark.parametrize("text", [t for t in CORPUS if t.strip()])
def test_sentencepiece_stream_equals_decode(spm: Tokenizer, text: str) -> None:
    ids = [*spm.encode(text, add_bos=True), 2, *spm.encode(text)]
    for skip in (True, False):
        pieces = stream(spm, ids, skip)
        assert "".join(pieces) == spm.decode(ids, skip_special=skip)
        assert not any("\ufffd" in piece for piece in pieces)


def test_sentencepiece_stream_of_random_ids_equals_decode(spm: Tokenizer) -> None:
    rng = random.Random(1)
    for _ in range(100):
        ids = [rng.choice((rng.randrange(0, 300), rng.randrange(0, spm.vocab_size))) for _ in range(30)]
        for skip in (True, False):
            assert "".join(stream(spm, ids, skip)) == spm.decode(ids, skip_special=skip)


def test_unsupported_gguf_tokenizer_type_is_a_clear_error(tmp_path: Path) -> None:
    import gguf

    writer = gguf.GGUFWriter(str(tmp_path / "t5.gguf"), "t5")
    writer.add_tokenizer_model("t5")
    writer.add_token_list(["<pad>", "</s>"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(TokenizerError, match="not support"):
        Tokenizer.from_gguf(tmp_path / "t5.gguf")
