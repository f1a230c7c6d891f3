"""Whole models kept as GGUF blocks: the C step (and the PyTorch block path) give the greedy tokens
of our fp32 decode of the same file's dequantised weights, for 64 tokens, on random-weight files of
several block-type mixes and on the bundled SmolLM2 Q4_1 file. Where the C step multiplies k-quant
rows on 8-bit activations (AVX-512 VNNI), it is held to the same model with those activations
rounded as it rounds them, and to the fp32 model with that rounding turned off."""

import contextlib
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from model.bundled import bundled_gguf_path
from model.decode_step import DecodeStep, NativeStep, TorchStep
from model.gguf_quant import GGUFEmbedding, GGUFLinear
from model.loader import load_transformer
from model.model import Transformer
from model.native import NativeDecoder, batch_kernel
from model.native_quant import int8_activations
from tests.model.gguf_files import Q, RandomGGUF
from tests.model.test_generate import prompt as random_ids
from tests.model.test_gguf_kernels import K_QUANTS, rounded_to_8_bits

NEW_TOKENS = 64
LEGACY_TYPES = {
    "attn_q": Q.Q4_0, "attn_k": Q.Q4_1, "attn_v": Q.Q5_0, "attn_output": Q.Q5_1, "ffn_gate": Q.Q8_0,
    "ffn_up": Q.Q4_0, "ffn_down": Q.Q5_1, "token_embd": Q.Q8_0, "output": Q.Q4_1,
}  # fmt: skip
FILES = {
    # Every legacy type in one model, untied head.
    "legacy": RandomGGUF(types=LEGACY_TYPES),
    # What a Q4_K_M file holds: Q4_K, with v, down and the head in Q6_K.
    "q4_k_m": RandomGGUF(
        types={"attn_v": Q.Q6_K, "ffn_down": Q.Q6_K, "output": Q.Q6_K}, default_type=Q.Q4_K
    ),
    "q5_k_tied": RandomGGUF(default_type=Q.Q5_K, tied=True),
    "f32_mqa": RandomGGUF(default_type=Q.F32, n_kv_heads=1, types={"ffn_down": Q.Q8_0}),
    # Qwen2 / Qwen2.5: bias on q, k and v; rows as HF stores them (not permuted).
    "qwen2": RandomGGUF(arch="qwen2", qkv_bias=True, default_type=Q.Q4_K, types={"attn_v": Q.Q6_K}),
    # Llama-3.1: GQA and `llama3` rope scaling, carried as rope_freqs.weight.
    "llama3": RandomGGUF(rope_freq_factors=True, n_heads=8, n_kv_heads=2, default_type=Q.Q5_0),
    # The bundled file's mix: Q4_1 layers and a tied Q8_0 embedding (the batch path's bf16 kernels).
    "q4_1": RandomGGUF(default_type=Q.Q4_1, types={"token_embd": Q.Q8_0}, tied=True),
}
K_QUANT_IDS = {int(t) for t in K_QUANTS}
K_FILES = ["q4_k_m", "q5_k_tied", "qwen2"]


@contextlib.contextmanager
def fp32_activations() -> Any:
    """The C step's k-quant rows on fp32 activations (products equal the dequantised model's)."""
    was = int8_activations()
    int8_activations(False)
    try:
        yield
    finally:
        int8_activations(was)


@contextlib.contextmanager
def activations_rounded_to_8_bits(model: Transformer) -> Any:
    """The PyTorch path of `model` with every k-quant layer's input rounded as the C step's 8-bit
    activation kernels round it: int8 per 256 values, scale max|x| / 127, nearest even."""

    def round_input(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        return rounded_to_8_bits(args[0]), *args[1:]

    hooks = []
    for module in model.modules():
        if isinstance(module, GGUFLinear) and K_QUANT_IDS & set(module.part_types):
            assert set(module.part_types) <= K_QUANT_IDS, "a layer mixing k-quants with other types"
            hooks.append(module.register_forward_pre_hook(round_input))
    assert hooks
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()


def greedy(model: Transformer, prompt: list[int], native: bool) -> "Greedy":
    """Greedy tokens and the logits each was chosen from: PyTorch prefill, then one-token steps."""
    model.setup_caches(1, len(prompt) + NEW_TOKENS)
    step: DecodeStep = NativeStep(model) if native else TorchStep()
    tokens, chosen_from = [], []
    with torch.inference_mode():
        logits = model(torch.tensor([prompt]), 0)[0, -1]
        step.prepare(model)
        assert (isinstance(step, NativeStep) and step.decoder is not None) == native
        for i in range(NEW_TOKENS):
            chosen_from.append(logits)
            tokens.append(int(logits.argmax()))
            logits = step.step(model, torch.tensor([[tokens[-1]]]), len(prompt) + i)[0]
    return tokens, chosen_from


Greedy = tuple[list[int], list[torch.Tensor]]


def assert_same_greedy(ours: Greedy, reference: Greedy) -> int:
    """Tokens equal; a first difference passes only where the reference's logits nearly tie there.
    Returns the number of steps that agree."""
    for step, (got, expected) in enumerate(zip(ours[0], reference[0], strict=True)):
        a, b = ours[1][step], reference[1][step]
        scale = float(b.abs().max())
        assert float((a - b).abs().max()) <= 1e-3 * scale, f"logits differ at step {step}"
        if got != expected:
            gap = float(b[expected] - b[got])
            assert gap <= 1e-4 * scale, f"step {step}: {got} instead of {expected}, reference gap {gap}"
            return step
    return len(reference[0])


@pytest.mark.parametrize("name", FILES)
def test_random_gguf_greedy_tokens_equal_the_dequantised_fp32_model(tmp_path: Path, name: str) -> None:
    path = FILES[name].write(tmp_path / f"{name}.gguf", seed=len(name))
    blocks, _ = load_transformer(path, "cpu", "float32", keep_blocks=True)
    dense, _ = load_transformer(path, "cpu", "float32")
    assert isinstance(blocks.output, GGUFLinear) and isinstance(blocks.tok_embeddings, GGUFEmbedding)
    prompt = [t % FILES[name].vocab for t in random_ids(len(name), 12)]
    reference = greedy(dense, prompt, native=False)
    assert len(set(reference[0])) > 4  # a model that repeats one token would prove little
    with fp32_activations():
        assert_same_greedy(greedy(blocks, prompt, native=True), reference)
    assert_same_greedy(greedy(blocks, prompt, native=False), reference)


@pytest.mark.parametrize("name", K_FILES)
def test_k_quants_on_8_bit_activations_give_the_tokens_of_the_model_with_its_activations_rounded(
    tmp_path: Path, name: str
) -> None:
    """The C step's default on VNNI CPUs, as llama.cpp computes: the greedy tokens and logits of the
    PyTorch block path with each k-quant layer's input rounded alike. Logits agree to fp32 rounding
    except where an activation sits on a rounding boundary and the two paths' last-bit differences
    round it to neighbouring steps: one quantum in one input moves a random model's logits by a few
    percent (measured: up to 3.5%, on 17 of 64 steps of the Q4_K_M mix; against the unrounded fp32
    model 4-10% on every step)."""
    if not int8_activations():
        pytest.skip("no AVX-512 VNNI here: the fp32 kernels serve k-quants (the test above)")
    path = FILES[name].write(tmp_path / f"{name}.gguf", seed=len(name))
    blocks, _ = load_transformer(path, "cpu", "float32", keep_blocks=True)
    prompt = [t % FILES[name].vocab for t in random_ids(len(name), 12)]
    with activations_rounded_to_8_bits(blocks):
        reference = greedy(blocks, prompt, native=False)
        ours = greedy(blocks, prompt, native=True)
    assert len(set(reference[0])) > 4
    differences = []
    for step, (got, expected) in enumerate(zip(ours[0], reference[0], strict=True)):
        a, b = ours[1][step], reference[1][step]
        differences.append(float((a - b).abs().max() / b.abs().max()))
        if got != expected:
            top2 = b.topk(2).values
            assert float(top2[0] - b[got]) <= 0.1 * float(b.abs().max()), f"step {step}: not a near-tie"
            break
    assert max(differences) <= 0.05, differences
    assert sum(d <= 1e-3 for d in differences) >= 0.5 * len(differences), differences


def test_a_rows_logits_do_not_depend_on_how_many_rows_share_the_step(tmp_path: Path) -> None:
    """The batch path on Q4_1 / Q8_0 blocks (AMX tiles or AVX-512 BF16 where the CPU has them): 40 rows
    (three tile groups) give each row's logits bit for bit as that row alone, and as in 8 rows."""
    path = FILES["q4_1"].write(tmp_path / "q4_1.gguf", seed=3)
    model, _ = load_transformer(path, "cpu", "float32", keep_blocks=True)
    model.setup_caches(40, 32)
    decoder = NativeDecoder(model)
    tokens = torch.tensor([t % FILES["q4_1"].vocab for t in random_ids(5, 40)])
    positions, slots = torch.arange(40) % 7, torch.arange(40)
    with torch.inference_mode():
        for slot in range(40):  # each slot's cache holds its earlier positions
            before = int(positions[slot])
            if before:
                decoder.step_rows(tokens[:before], torch.arange(before), torch.full((before,), slot))
        together = decoder.step_rows(tokens, positions, slots)
        eight = decoder.step_rows(tokens[16:24], positions[16:24], slots[16:24])
        alone = [decoder.step_rows(tokens[b : b + 1], positions[b : b + 1], slots[b : b + 1])[0] for b in range(40)]
    assert all(torch.equal(together[b], alone[b]) for b in range(40))
    assert torch.equal(eight, together[16:24])


@pytest.mark.slow
def test_batched_steps_keep_the_bundled_models_perplexity() -> None:
    """The batch path (bf16 on AMX or AVX-512 BF16, or AVX-512 VNNI on 8-bit activations, where the CPU
    has them) against the one-row fp32 block products, teacher-forced on 200 tokens of English text:
    perplexity within 1%, the same top token almost everywhere (measured: bf16 +0.15% and 99.2% on
    400 tokens; 8-bit activations, llama.cpp's arithmetic for these types, -0.00% and 92.5 to 94%:
    the rounding moves near-ties, not the model's fit)."""
    from model.tokenizer import Tokenizer

    path = bundled_gguf_path()
    model, _ = load_transformer(path, "cpu", "float32", keep_blocks=True)
    ids = Tokenizer.from_gguf(path).encode(Path(__file__).parents[2].joinpath("README.md").read_text()[:2000])[:201]
    model.setup_caches(1, 256)
    decoder = NativeDecoder(model)
    losses: dict[bool, float] = {True: 0.0, False: 0.0}
    tops: dict[bool, list[int]] = {True: [], False: []}
    with torch.inference_mode():
        for batch_path in (False, True):
            for i, token in enumerate(ids[:-1]):
                logits = decoder.step_rows(
                    torch.tensor([token]), torch.tensor([i]), torch.tensor([0]), row_tiles=batch_path
                )[0]
                losses[batch_path] -= float(torch.log_softmax(logits, -1)[ids[i + 1]])
                tops[batch_path].append(int(logits.argmax()))
    assert len(ids) == 201
    assert abs(math.exp(losses[True] / 200) / math.exp(losses[False] / 200) - 1) < 0.01
    agreeing = 0.90 if "8-bit" in (batch_kernel(model) or "") else 0.97
    assert sum(a == b for a, b in zip(tops[True], tops[False], strict=True)) >= agreeing * 200


@pytest.mark.slow
def test_bundled_q4_1_file_greedy_tokens_equal_the_dequantised_fp32_model() -> None:
    path = bundled_gguf_path()
    blocks, _ = load_transformer(path, "cpu", "float32", keep_blocks=True)
    dense, _ = load_transformer(path, "cpu", "float32")
    # "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n" as token ids.
    from model.tokenizer import Tokenizer

    tokenizer = Tokenizer.from_gguf(path)
    from model.chat_template import ChatMessage

    prompt = tokenizer.apply_chat_template([ChatMessage("user", "Name three rivers of Europe.")], True)
    with fp32_activations():  # the one-row block products; on strips one row takes 8-bit activations
        assert_same_greedy(greedy(blocks, prompt, native=True), greedy(dense, prompt, native=False))


def test_qwen2_gguf_logits_equal_transformers(tmp_path: Path) -> None:
    """Bias on q, k, v and unpermuted rows: our block model against transformers reading the same file."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM

    path = FILES["qwen2"].write(tmp_path / "qwen2.gguf", seed=3)
    hf = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=path.name, dtype=torch.float32).eval()
    assert type(hf).__name__ == "Qwen2ForCausalLM"
    ours, _ = load_transformer(path, "cpu", "float32", keep_blocks=True)
    ids = torch.tensor([random_ids(3, 20)]) % FILES["qwen2"].vocab
    ours.setup_caches(1, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(ids, 0), hf(ids).logits, atol=1e-4, rtol=1e-4)


def test_llama3_rope_matches_transformers_and_the_gguf_divisors() -> None:
    """HF's llama3 parameters give transformers' frequencies; llama.cpp's divisors (rope_freqs.weight,
    as its converter computes them from the same parameters) give the same frequencies."""
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    from model.args import ModelArgs, RopeScaling
    from model.rope import RotaryEmbedding

    rope = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192, "rope_theta": 500000.0}  # fmt: skip
    config = LlamaConfig(hidden_size=512, num_attention_heads=4, max_position_embeddings=131072, rope_parameters=rope)
    expected, _ = ROPE_INIT_FUNCTIONS["llama3"](config, "cpu")
    args = ModelArgs.from_hf_config(config.to_dict())
    ours = RotaryEmbedding(args).inv_freq
    torch.testing.assert_close(ours, expected, atol=0, rtol=1e-6)
    # llama.cpp's convert_hf_to_gguf.py: the divisor of each frequency.
    divisors = []
    for freq in (1.0 / (500000.0 ** (torch.arange(0, 128, 2).double() / 128))).tolist():
        wavelen = 2 * math.pi / freq
        if wavelen < 8192 / 4.0:
            divisors.append(1.0)
        elif wavelen > 8192 / 1.0:
            divisors.append(8.0)
        else:
            smooth = (8192 / wavelen - 1.0) / (4.0 - 1.0)
            divisors.append(1 / ((1 - smooth) / 8.0 + smooth))
    from_gguf = replace(args, rope_scaling=RopeScaling(kind="llama3", freq_factors=tuple(divisors)))
    torch.testing.assert_close(RotaryEmbedding(from_gguf).inv_freq, expected, atol=0, rtol=1e-5)


def test_unsupported_block_type_and_architecture_are_refused_by_name(tmp_path: Path) -> None:
    from gguf import GGMLQuantizationType

    from model.errors import UnsupportedModelError
    from tests.model import gguf_files

    q2k = RandomGGUF(types={"ffn_up": Q.Q6_K})
    original = q2k.matrix

    def with_q2_k(rng: Any, kind: str, rows: int, cols: int) -> tuple[Any, Any]:
        if kind != "ffn_up":
            return original(rng, kind, rows, cols)
        blocks = rng.integers(0, 256, size=(rows, cols // 256 * 84), dtype="uint8")  # Q2_K: 84 bytes / 256 values
        return blocks, GGMLQuantizationType.Q2_K

    q2k.matrix = with_q2_k  # type: ignore[method-assign]
    path = q2k.write(tmp_path / "q2k.gguf", seed=1)
    with pytest.raises(UnsupportedModelError, match=r"blk\.0\.ffn_up\.weight is Q2_K"):
        load_transformer(path, "cpu", "float32", keep_blocks=True)
    gemma = gguf_files.RandomGGUF(arch="gemma").write(tmp_path / "gemma.gguf", seed=2)
    with pytest.raises(UnsupportedModelError, match="llama, qwen2 are supported, not 'gemma'"):
        load_transformer(gemma, "cpu", "float32", keep_blocks=True)


@pytest.mark.skipif(not os.environ.get("KB_TEST_GGUF"), reason="set KB_TEST_GGUF=/path/file.gguf (a big real file)")
def test_a_real_gguf_file_greedy_tokens_equal_its_dequantised_fp32_model() -> None:
    """E.g. the Qwen2.5-Coder-1.5B Q4_K_M file of benchmarks/split_gguf.py (needs ~9 GB of memory)."""
    path = Path(os.environ["KB_TEST_GGUF"])
    blocks, _ = load_transformer(path, "cpu", "float32", keep_blocks=True)
    with fp32_activations():
        ours = greedy(blocks, random_ids(1, 16), native=True)
    del blocks
    dense, _ = load_transformer(path, "cpu", "float32")
    assert assert_same_greedy(ours, greedy(dense, random_ids(1, 16), native=False)) > 0


@pytest.mark.parametrize("name", ["legacy", "q4_k_m", "q4_1"])
def test_gguf_blocks_give_the_same_tokens_batched_or_alone(tmp_path: Path, name: str) -> None:
    """The batch path forms each block's weights once for all rows (fused for Q4_1 and Q8_0, a
    dequantised row for the others): a request's greedy tokens do not depend on the batch, and
    they are those of the one-row block products up to a near-tie."""
    from model.batching import BatchScheduler, BatchSettings
    from model.generation_config import GenerationConfig

    path = FILES[name].write(tmp_path / f"{name}.gguf", seed=len(name))
    model, _ = load_transformer(path, "cpu", "float32", keep_blocks=True)
    step = NativeStep(model)
    prompts = [[t % FILES[name].vocab for t in random_ids(seed, 5 + seed)] for seed in range(5)]
    cfg = GenerationConfig(max_new_tokens=24)

    def run(slots: int) -> list[list[int]]:
        scheduler = BatchScheduler(model, 64, BatchSettings(slots=slots, prefill_chunk=16), step)
        requests = [scheduler.submit(ids, cfg, frozenset()) for ids in prompts]
        return [list(r) for r in requests]

    alone, together = run(1), run(5)  # k-quants on 8-bit activations where the CPU has VNNI
    assert together == alone
    with fp32_activations():  # the one-row products below are fp32 too
        alone = run(1)
        # Against the one-row block products (fp32): the batch path's logits along the same tokens.
        tokens, logits = greedy(model, prompts[0], native=True)
        model.setup_caches(1, len(prompts[0]) + NEW_TOKENS)
        decoder = NativeDecoder(model)
        with torch.inference_mode():
            prompt = torch.tensor(prompts[0])
            last = torch.tensor([len(prompt) - 1])
            everything = torch.arange(len(prompt))
            batched = [decoder.step_rows(prompt, everything, torch.zeros_like(prompt), logits_for=last)[0]]
            for i, token in enumerate(tokens[:-1]):
                at = torch.tensor([len(prompt) + i])
                batched.append(decoder.step_rows(torch.tensor([token]), at, torch.tensor([0]))[0])
        # AMX or AVX-512 BF16 multiply Q4_1 and Q8_0 blocks in bf16 (8-bit mantissas), the rest is
        # fp32; random weights amplify bf16's rounding (the bundled model's own figure is the test below)
        tolerance = 0.1 if "bf16" in (batch_kernel(model) or "").lower() else 1e-3
        pairs = zip(batched, logits, strict=True)
        worst = max(float((got - want).abs().max() / want.abs().max()) for got, want in pairs)
        assert worst <= tolerance, worst
        # and it chooses the same tokens wherever the reference is not within that of a tie
        n = len(alone[0])
        for step, (token, expected) in enumerate(zip(alone[0], logits[:n], strict=True)):
            top2 = expected.topk(2).values
            if token != tokens[step]:
                assert float(top2[0] - expected[token]) <= 2 * tolerance * float(expected.abs().max())
                break


def test_the_admin_tab_names_the_kernels_a_gguf_model_runs_on(tmp_path: Path) -> None:
    kquants = FILES["q4_k_m"].write(tmp_path / "q4_k_m.gguf", seed=1)
    model, _ = load_transformer(kquants, "cpu", "float32", keep_blocks=True)
    expected = "8-bit activations (AVX-512 VNNI)" if int8_activations() else "fp32 activations"
    assert NativeStep(model).name.endswith(f"; k-quants on {expected}")
    with fp32_activations():
        assert NativeStep(model).name.endswith("; k-quants on fp32 activations")
    q4_1 = FILES["q4_1"].write(tmp_path / "q4_1.gguf", seed=1)
    legacy, _ = load_transformer(q4_1, "cpu", "float32", keep_blocks=True)
    assert "k-quants" not in NativeStep(legacy).name
    assert f"batched GGUF rows on {batch_kernel(legacy)}" in NativeStep(legacy).name
