"""model/gguf_metadata.py reads a GGUF's key-value metadata and tensors as gguf-py's GGUFReader gives
them (the bundled model's; a file with every value type written by gguf-py's own writer; random
models in legacy, k-quant and float types), in a fraction of its time; a damaged header or a
truncated file is a clear error, and the tokenizer and the weights loader say so in one sentence."""

import time
from pathlib import Path
from typing import Any

import gguf
import pytest

from model.bundled import bundled_gguf_path
from model.errors import TokenizerError, WeightsError
from model.gguf_metadata import GGUFMetadataError, read_gguf_file, read_metadata
from model.tokenizer import Tokenizer
from model.weights import open_gguf
from tests.model.gguf_files import Q, RandomGGUF


def _gguf_py(path: Path) -> dict[str, Any]:
    reader = gguf.GGUFReader(str(path))
    return {key: field.contents() for key, field in reader.fields.items() if not key.startswith("GGUF.")}


def test_the_bundled_models_metadata_is_gguf_pys_and_read_faster() -> None:
    path = bundled_gguf_path()
    started = time.perf_counter()
    theirs = _gguf_py(path)
    their_s = time.perf_counter() - started
    started = time.perf_counter()
    ours = read_metadata(path)
    our_s = time.perf_counter() - started
    assert ours == theirs
    assert len(ours["tokenizer.ggml.tokens"]) == len(ours["tokenizer.ggml.token_type"]) > 40_000
    assert read_metadata(path, prefix="tokenizer.").keys() == {k for k in theirs if k.startswith("tokenizer.")}
    print(f"\ngguf-py {their_s:.2f} s, ours {our_s:.2f} s")  # no assertion on time: shared cores


def test_every_value_type_reads_as_gguf_py_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "types.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_uint8("t.u8", 200)
    writer.add_int8("t.i8", -100)
    writer.add_uint16("t.u16", 60_000)
    writer.add_int16("t.i16", -30_000)
    writer.add_uint32("t.u32", 4_000_000_000)
    writer.add_int32("t.i32", -2_000_000_000)
    writer.add_float32("t.f32", 0.25)
    writer.add_uint64("t.u64", 2**63)
    writer.add_int64("t.i64", -(2**62))
    writer.add_float64("t.f64", 1e-300)
    writer.add_bool("t.yes", True)
    writer.add_string("t.text", "词元 <|im_end|> ✓")
    writer.add_array("t.words", ["a", "", "字"])
    writer.add_array("t.floats", [0.5, -1.5])
    writer.add_array("t.ints", [1, -2, 3])
    writer.add_array("t.flags", [True, False])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    ours, theirs = read_metadata(path), _gguf_py(path)
    assert ours == theirs
    assert ours["t.text"] == "词元 <|im_end|> ✓" and ours["t.flags"] == [True, False] and ours["t.u64"] == 2**63


def test_a_damaged_header_is_a_clear_error(tmp_path: Path) -> None:
    whole = bundled_gguf_path().read_bytes()[:2_000_000]
    (tmp_path / "cut.gguf").write_bytes(whole[:100_000])  # ends inside the token list
    (tmp_path / "text.gguf").write_bytes(b"not a model at all")
    with pytest.raises(GGUFMetadataError, match="truncated"):
        read_metadata(tmp_path / "cut.gguf")
    with pytest.raises(GGUFMetadataError, match="magic"):
        read_metadata(tmp_path / "text.gguf")
    for name in ("cut.gguf", "text.gguf"):
        with pytest.raises(TokenizerError, match="not a readable GGUF file"):
            Tokenizer.from_gguf(tmp_path / name)
        with pytest.raises(WeightsError, match="not a readable GGUF file"):
            open_gguf(tmp_path / name)
    (tmp_path / "short.gguf").write_bytes(bundled_gguf_path().read_bytes()[:-1000])  # the last tensor cut
    with pytest.raises(GGUFMetadataError, match="truncated"):
        read_gguf_file(tmp_path / "short.gguf")
    with pytest.raises(WeightsError):
        open_gguf(tmp_path / "short.gguf")


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(None, id="bundled"),
        pytest.param(RandomGGUF(default_type=Q.Q4_K, types={"attn_v": Q.Q6_K, "ffn_down": Q.Q5_K}), id="k-quants"),
        pytest.param(RandomGGUF(default_type=Q.F16, types={"ffn_up": Q.Q4_0, "attn_k": Q.Q5_1}), id="f16-legacy"),
        pytest.param(RandomGGUF(default_type=Q.F32, rope_freq_factors=True, tied=True), id="f32-rope-freqs"),
    ],
)
def test_tensors_are_gguf_pys(model: RandomGGUF | None, tmp_path: Path) -> None:
    path = bundled_gguf_path() if model is None else model.write(tmp_path / "random.gguf", seed=7)
    ours, theirs = read_gguf_file(path), gguf.GGUFReader(str(path))
    assert [t.name for t in ours.tensors] == [t.name for t in theirs.tensors]
    for mine, reference in zip(ours.tensors, theirs.tensors, strict=True):
        assert mine.tensor_type == reference.tensor_type and mine.shape.tolist() == reference.shape.tolist()
        assert mine.data.dtype == reference.data.dtype and mine.data.shape == reference.data.shape, mine.name
        assert (mine.data == reference.data).all(), mine.name
    assert ours.metadata == _gguf_py(path)
