"""The bundled SmolLM2-135M-Instruct: our decoder against transformers loading the same GGUF."""

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from model.bundled import bundled_gguf_path
from model.chat_template import ChatMessage
from model.decode_step import NativeStep
from model.engine import Engine
from model.errors import GenerationError
from model.generation_config import GenerationConfig
from model.quantize import quantize_int8

pytestmark = pytest.mark.slow
HELD_TEXT = Path(__file__).resolve().parents[2] / "benchmarks" / "held_text.txt"
QUESTION = [ChatMessage("user", "What is the capital of France? Answer in one sentence.")]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load("bundled", device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def hf() -> tuple[Any, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = bundled_gguf_path()
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    return model, tokenizer


def test_prompt_ids_equal_transformers_chat_template(engine: Engine, hf: tuple[Any, Any]) -> None:
    _, tokenizer = hf
    expected = tokenizer.apply_chat_template(
        [{"role": "user", "content": QUESTION[0].content}], add_generation_prompt=True, tokenize=False
    )
    assert engine.chat_prompt_ids(QUESTION) == tokenizer(expected, add_special_tokens=False)["input_ids"]


def test_logits_equal_transformers_at_every_position(engine: Engine, hf: tuple[Any, Any]) -> None:
    model, _ = hf
    ids = torch.tensor([engine.chat_prompt_ids(QUESTION)])
    engine.model.setup_caches(1, 256)
    with torch.no_grad():
        torch.testing.assert_close(engine.model(ids, 0), model(ids).logits, atol=1e-4, rtol=1e-4)


def test_32_greedy_tokens_identical_to_transformers(engine: Engine, hf: tuple[Any, Any]) -> None:
    model, _ = hf
    ids = engine.chat_prompt_ids(QUESTION)
    ours = engine.generate(ids, GenerationConfig(max_new_tokens=32))
    out = model.generate(torch.tensor([ids]), max_new_tokens=32, do_sample=False)
    theirs = out[0, len(ids) :].tolist()
    assert ours.token_ids == theirs
    assert len(ours.token_ids) >= 8  # the model really answered, not an immediate stop


def test_streamed_pieces_make_the_final_text(engine: Engine) -> None:
    stream = engine.chat(
        [ChatMessage("user", "Write two sentences about the sea in Chinese.")],
        GenerationConfig(max_new_tokens=40),
    )
    pieces = list(stream)
    assert "".join(pieces) == stream.result.text
    assert "\ufffd" not in stream.result.text
    assert stream.result.text == engine.tokenizer.decode(
        [t for t in stream.result.token_ids if t not in engine.tokenizer.stop_ids]
    )


def test_stop_string_cuts_the_text(engine: Engine) -> None:
    ids = engine.chat_prompt_ids(QUESTION)
    free = engine.generate(ids, GenerationConfig(max_new_tokens=32)).text
    words = free.split()
    assert len(words) > 3
    stop = words[2]
    cut = engine.generate(ids, GenerationConfig(max_new_tokens=32, stop_strings=(stop,)))
    assert cut.finish_reason == "stop"
    assert cut.text == free[: free.index(stop)]


def test_prompt_longer_than_the_context_is_a_clear_error() -> None:
    small = Engine.load("bundled", device="cpu", dtype="float32", max_context=256)
    with pytest.raises(GenerationError, match="context"):
        small.generate(list(range(300)), GenerationConfig(max_new_tokens=4))


def perplexity(model: torch.nn.Module, ids: torch.Tensor) -> float:
    with torch.no_grad():
        logits = model(ids, 0)
    loss = torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:])
    return float(torch.exp(loss))


def test_int8_perplexity_within_two_percent_of_fp32() -> None:
    fp32 = Engine.load("bundled", device="cpu", dtype="float32")
    ids = torch.tensor([fp32.tokenizer.encode(HELD_TEXT.read_text())])
    fp32.model.setup_caches(1, ids.shape[1])
    base = perplexity(fp32.model, ids)
    quantize_int8(fp32.model)
    quantised = perplexity(fp32.model, ids)
    assert abs(quantised - base) / base < 0.02, (base, quantised)


def test_engine_decodes_with_the_c_step_on_cpu(engine: Engine) -> None:
    """So the token tests above compare transformers with the C step, the engine's default on CPU."""
    engine.generate(engine.chat_prompt_ids(QUESTION), GenerationConfig(max_new_tokens=4))
    assert isinstance(engine.step, NativeStep) and engine.step.decoder is not None
    assert engine.step.decoder.is_current()


def test_int8_c_step_gives_the_tokens_of_the_pytorch_int8_step() -> None:
    native = Engine.load("bundled", device="cpu", dtype="float32", quantize="int8")
    reference = Engine.load("bundled", device="cpu", dtype="float32", quantize="int8", native=False)
    assert isinstance(native.step, NativeStep) and not isinstance(reference.step, NativeStep)
    ids = native.chat_prompt_ids(QUESTION)
    cfg = GenerationConfig(max_new_tokens=32)
    assert native.generate(ids, cfg).token_ids == reference.generate(ids, cfg).token_ids
    described = native.describe(), reference.describe()  # what the Admin tab shows as "in use"
    assert [d["weights"] for d in described] == ["int8 (per-row scales)", "int8 (per-row scales)"]
    assert [d["decode step"] for d in described] == ["C step (model/csrc)", "PyTorch"]


def test_engine_says_what_runs(engine: Engine) -> None:
    described = engine.describe()
    assert described["device"] == "cpu" and described["weights"] == "GGUF blocks Q4_1, Q8_0"  # the file's own
    assert described["model"].startswith("SmolLM2") or "smollm" in described["model"].lower()
    assert 130 <= float(described["parameters"].split()[0].replace(",", "")) <= 180


def test_beam_search_rate_is_over_the_whole_search(engine: Engine) -> None:
    """Beam search hands every token over at the end: its rate is tokens / total time, not per gap."""
    result = engine.generate(engine.chat_prompt_ids(QUESTION), GenerationConfig(max_new_tokens=8, num_beams=2))
    assert result.searched and result.token_ids
    assert result.decode_tokens_per_s == pytest.approx(len(result.token_ids) / result.total_s)
    assert result.decode_tokens_per_s < 1000  # was (n - 1) / (a few microseconds between yields)


def test_concurrent_answers_are_each_what_they_are_alone(engine: Engine) -> None:
    """Six people asking at once are decoded together (continuous batching) and each gets, token
    for token, the greedy answer they get alone, while a beam search borrows the model between."""
    from concurrent.futures import ThreadPoolExecutor

    assert engine.scheduler is not None
    questions = [f"Name {n} fruits, one per line." for n in range(2, 8)]
    prompts = [engine.chat_prompt_ids([ChatMessage("user", q)]) for q in questions]
    cfg = GenerationConfig(max_new_tokens=24)
    alone = [engine.generate(ids, cfg).token_ids for ids in prompts]
    beams = GenerationConfig(max_new_tokens=8, num_beams=2)
    with ThreadPoolExecutor(len(prompts) + 1) as pool:
        searched = pool.submit(engine.generate, prompts[0], beams)
        together = list(pool.map(lambda ids: engine.generate(ids, cfg).token_ids, prompts))
    assert together == alone
    assert searched.result().searched and searched.result().token_ids
    assert engine.scheduler.load() == (0, 0)
