"""Continuous batching (model.batching): requests decoded together give the tokens they give alone,
leave when cancelled, and a full line is refused with a clear 'busy'."""

import gc
import itertools
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import pytest
import torch

from model.batching import BatchScheduler, BatchSettings, EngineBusyError
from model.decode_step import DecodeStep, NativeStep, TorchStep
from model.generate import decode_tokens
from model.generation_config import GenerationConfig
from model.model import Transformer
from tests.model.test_native import ODD, VOCAB, build

GREEDY = GenerationConfig(max_new_tokens=12)


def random_ids(length: int, seed: int) -> list[int]:
    return torch.randint(3, VOCAB, (length,), generator=torch.Generator().manual_seed(seed)).tolist()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Transformer:
    _, model = build(tmp_path_factory.mktemp("tiny"), seed=21, **ODD)
    return model


def scheduler_for(model: Transformer, settings: BatchSettings) -> BatchScheduler:
    """On the C step, as the engine runs on CPU."""
    return BatchScheduler(model, 128, settings, NativeStep(model))


class HeldStep(NativeStep):
    """The C step, holding any step of at least `rows` decoding rows and no prompt rows until
    released: the tiny model decodes a whole answer in milliseconds, faster than a test can look at
    the line when CI is loaded."""

    def __init__(self, model: Transformer, rows: int) -> None:
        super().__init__(model)
        self.rows = rows
        self.released = threading.Event()
        self.entered = threading.Event()  # set when a step is held

    def step_rows(
        self,
        model: Transformer,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        slots: torch.Tensor,
        logits_for: torch.Tensor | None = None,
    ) -> torch.Tensor:
        decoding_only = logits_for is None or logits_for.numel() == tokens.numel()
        if decoding_only and tokens.numel() >= self.rows:
            self.entered.set()
            self.released.wait(timeout=30)
        return super().step_rows(model, tokens, positions, slots, logits_for)


def alone(model: Transformer, prompt: list[int], cfg: GenerationConfig) -> list[int]:
    """The request on a scheduler of its own (one slot): the reference a batch must match."""
    scheduler = scheduler_for(model, BatchSettings(slots=1, prefill_chunk=8))
    return list(scheduler.submit(prompt, cfg, frozenset()))


@pytest.mark.parametrize("native", [True, False], ids=["C step", "PyTorch"])
def test_rows_of_one_step_are_independent(tmp_path: Path, native: bool) -> None:
    """decode_rows: each row's logits are what it gets alone, at its own position and cache row."""
    _, model = build(tmp_path, seed=22, **ODD)
    model.setup_caches(max_batch=4, max_seq=64)
    step: DecodeStep = NativeStep(model) if native else TorchStep()
    step.prepare(model)
    prompts = [random_ids(n, seed=n) for n in (5, 9, 14)]
    with torch.inference_mode():
        for slot, ids in enumerate(prompts):
            model(torch.tensor([ids]), 0, cache_row=slot)
        tokens = torch.tensor([3, 7, 11])
        positions = torch.tensor([len(ids) for ids in prompts])
        slots = torch.tensor([0, 1, 2])
        together = step.step_rows(model, tokens, positions, slots)
        for row in range(3):  # the same position again, alone: the cache entry is rewritten with the same values
            one = step.step_rows(model, tokens[row : row + 1], positions[row : row + 1], slots[row : row + 1])
            if native:
                assert torch.equal(one[0], together[row])
            else:
                torch.testing.assert_close(one[0], together[row], rtol=1e-5, atol=1e-5)
        # and it is the ordinary step's answer for a model holding just that request
        reference = torch.tensor([prompts[1]])
        model(reference, 0)
        expected = model.forward(torch.tensor([[7]]), len(prompts[1]), last_only=True)[:, -1]
        torch.testing.assert_close(together[1], expected[0], rtol=1e-4, atol=1e-4)


def test_a_prompt_as_rows_of_one_slot_is_its_prefill_whatever_the_chunks(tmp_path: Path) -> None:
    """The C step takes a prompt's tokens as rows of one slot: the last row's logits are the forward
    prefill's (within rounding), and are bit for bit the same whether the prompt goes in one step or
    in chunks beside another request's rows, since every row's arithmetic is its own."""
    _, model = build(tmp_path, seed=23, **ODD)
    model.setup_caches(max_batch=3, max_seq=64)
    step = NativeStep(model)
    step.prepare(model)
    prompt, other = random_ids(14, seed=3), random_ids(9, seed=4)
    with torch.inference_mode():
        expected = model(torch.tensor([prompt]), 0, last_only=True, cache_row=2)[0, -1]

        def rows(ids: list[int], start: int, slot: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            return torch.tensor(ids), torch.arange(start, start + len(ids)), torch.full((len(ids),), slot)

        whole = step.step_rows(model, *rows(prompt, 0, 0), logits_for=torch.tensor([13]))
        assert whole.shape == (1, VOCAB)
        torch.testing.assert_close(whole[0], expected, rtol=1e-4, atol=1e-4)
        no_logits = torch.tensor([], dtype=torch.long)
        step.step_rows(model, *rows(other[:5], 0, 0), logits_for=no_logits)  # another request in slot 0
        for start in range(0, 14, 5):  # slot 1, five rows at a time, beside the other request's next row
            chunk = rows(prompt[start : start + 5], start, 1)
            mine = rows(other[5 + start // 5 : 6 + start // 5], 5 + start // 5, 0)
            together = [torch.cat([a, b]) for a, b in zip(mine, chunk, strict=True)]
            last = step.step_rows(model, *together, logits_for=torch.tensor([0, together[0].numel() - 1]))
        assert torch.equal(last[1], whole[0])


def test_greedy_tokens_are_the_same_batched_or_alone(tiny: Transformer) -> None:
    prompts = [random_ids(n, seed=100 + n) for n in (3, 11, 20, 6, 17, 9)]
    expected = [alone(tiny, ids, GREEDY) for ids in prompts]
    scheduler = scheduler_for(tiny, BatchSettings(slots=4, prefill_chunk=8))
    requests = [scheduler.submit(ids, GREEDY, frozenset()) for ids in prompts]  # 4 run, 2 join later
    assert [list(r) for r in requests] == expected
    assert scheduler.load() == (0, 0)
    # and the unbatched decoder agrees on the first tokens (its prefill is one chunk, so the tail may drift)
    with torch.inference_mode():
        tiny.setup_caches(1, 128)
        assert list(decode_tokens(tiny, prompts[0], GREEDY, frozenset(), NativeStep(tiny)))[:4] == expected[0][:4]


def test_each_request_keeps_its_own_sampling(tiny: Transformer) -> None:
    sampled = GenerationConfig(max_new_tokens=10, temperature=0.9, top_p=0.9, seed=7)
    other = GenerationConfig(max_new_tokens=10, temperature=1.2, top_k=5, seed=8)
    ids = random_ids(8, seed=5)
    expected = [alone(tiny, ids, sampled), alone(tiny, ids, other), alone(tiny, ids, GREEDY)]
    scheduler = scheduler_for(tiny, BatchSettings(slots=3, prefill_chunk=8))
    requests = [scheduler.submit(ids, cfg, frozenset()) for cfg in (sampled, other, GREEDY)]
    assert [list(r) for r in requests] == expected
    assert expected[0] != expected[2] or expected[1] != expected[2]  # sampling did something


def test_a_stop_token_ends_only_its_own_request(tiny: Transformer) -> None:
    ids = random_ids(8, seed=6)
    free_run = alone(tiny, ids, GREEDY)
    stop = free_run[3]
    scheduler = scheduler_for(tiny, BatchSettings(slots=2, prefill_chunk=8))
    stopped = scheduler.submit(ids, GREEDY, frozenset({stop}))
    running = scheduler.submit(ids, GREEDY, frozenset())
    assert list(stopped) == free_run[: free_run.index(stop) + 1]
    assert list(running) == free_run


def test_cancelling_50_streams_frees_every_slot(tiny: Transformer) -> None:
    long = GenerationConfig(max_new_tokens=100)
    step = HeldStep(tiny, rows=8)  # once all eight are decoding, they wait for the cancellations
    scheduler = BatchScheduler(tiny, 128, BatchSettings(slots=8, max_waiting=64, prefill_chunk=8), step)
    requests = [scheduler.submit(random_ids(6, seed=i), long, frozenset()) for i in range(50)]
    firsts = [next(iter(r)) for r in requests[:8]]  # the first eight are mid-answer
    assert len(firsts) == 8 and scheduler.load()[1] == 42
    for request in requests:
        request.cancel()
    step.released.set()
    for request in requests:  # each stream ends promptly instead of running to 100 tokens
        produced = sum(1 for _ in request)
        assert produced < 100
    assert scheduler.load() == (0, 0)
    assert sorted(scheduler._free) == list(range(8))
    # nothing keeps a cancelled request (and its token queue) alive
    refs = [weakref.ref(r) for r in requests]
    del requests, request
    for _ in range(100):  # the scheduler may still be finishing the step it was in
        gc.collect()
        if all(ref() is None for ref in refs):
            break
        time.sleep(0.02)
    assert all(ref() is None for ref in refs)
    # and the slots serve new requests
    ids = random_ids(5, seed=1)
    assert list(scheduler.submit(ids, GREEDY, frozenset())) == alone(tiny, ids, GREEDY)


def test_a_full_line_is_refused_at_once_with_a_retry_time(tiny: Transformer) -> None:
    long = GenerationConfig(max_new_tokens=100)
    step = HeldStep(tiny, rows=1)  # the running request cannot finish and let the waiting one in
    scheduler = BatchScheduler(tiny, 128, BatchSettings(slots=1, max_waiting=1, prefill_chunk=8), step)
    running = scheduler.submit(random_ids(5, seed=2), long, frozenset())
    next(iter(running))  # it holds the one slot
    waiting = scheduler.submit(random_ids(5, seed=3), long, frozenset())
    with pytest.raises(EngineBusyError, match="busy") as refused:
        scheduler.submit(random_ids(5, seed=4), long, frozenset())
    assert refused.value.retry_after_s >= 1
    running.cancel()
    waiting.cancel()
    step.released.set()
    list(running), list(waiting)
    assert scheduler.load() == (0, 0)


def test_beam_search_borrows_the_model_between_batches(tiny: Transformer) -> None:
    ids = random_ids(7, seed=9)
    expected = alone(tiny, ids, GREEDY)
    scheduler = scheduler_for(tiny, BatchSettings(slots=2, prefill_chunk=8))
    request = scheduler.submit(ids, GREEDY, frozenset())
    with scheduler.exclusive() as model:  # waits for the running request to finish
        assert scheduler.load()[0] == 0
        model.setup_caches(3, 64)  # what beam search does: the scheduler sets its own caches up again
    assert list(request) == expected
    assert list(scheduler.submit(ids, GREEDY, frozenset())) == expected


def test_the_static_shape_step_computes_what_the_eager_step_does(tmp_path: Path) -> None:
    """StaticStep (CUDA graphs on a GPU; eager here): every cache row at a position given as a
    tensor, the cache read whole under a mask. Same greedy tokens and beam search as eager, and
    batched rows match the eager rows path."""
    from model.decode_step import StaticStep
    from model.generate import beam_search

    _, model = build(tmp_path, seed=23, **ODD)
    static = StaticStep(model, compile=False)
    for seed in range(2):
        ids = random_ids(9 + seed, seed=seed)
        model.setup_caches(1, 64)
        expected = list(decode_tokens(model, ids, GREEDY, frozenset()))
        model.setup_caches(1, 64)
        assert list(decode_tokens(model, ids, GREEDY, frozenset(), static)) == expected
    beams = GenerationConfig(max_new_tokens=10, num_beams=3)
    model.setup_caches(3, 64)
    expected_beams = beam_search(model, random_ids(7, seed=3), beams, frozenset())
    model.setup_caches(3, 64)
    assert beam_search(model, random_ids(7, seed=3), beams, frozenset(), static) == expected_beams
    # rows of a batch: three requests at their own positions in cache rows 0, 2, 3 of four
    model.setup_caches(4, 64)
    static.prepare(model)
    prompts = {0: random_ids(5, seed=4), 2: random_ids(11, seed=5), 3: random_ids(8, seed=6)}
    with torch.inference_mode():
        for slot, ids in prompts.items():
            model(torch.tensor([ids]), 0, cache_row=slot)
        tokens = torch.tensor([4, 5, 6])
        positions = torch.tensor([len(ids) for ids in prompts.values()])
        slots = torch.tensor(list(prompts))
        got = static.step_rows(model, tokens, positions, slots)
        expected_rows = TorchStep().step_rows(model, tokens, positions, slots)
    torch.testing.assert_close(got, expected_rows, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "torch.compile'd"])
def test_the_static_step_reads_only_the_cache_length_it_needs(tmp_path: Path, compiled: bool) -> None:
    """In a 600-position cache a step reads the first 256, 512 or 599 positions, the shortest
    holding every row (key_lengths), and the step at the last position runs eager: the same greedy
    tokens as eager decoding while an answer crosses 256, 512 and 599, and compiled, one graph for
    every length (the length is a symbolic size)."""
    from torch._dynamo.utils import counters

    from model.decode_step import StaticStep, key_lengths

    assert key_lengths(600) == [256, 512, 599] and key_lengths(64) == [63] and key_lengths(513) == [256, 512]
    _, model = build(tmp_path, seed=29, **ODD)
    for prompt_length in (240, 500, 580):  # crosses 256, then 512, then fills the cache
        ids = random_ids(prompt_length, seed=prompt_length)
        cfg = GenerationConfig(max_new_tokens=min(30, 600 - prompt_length))
        model.setup_caches(1, 600)
        expected = list(decode_tokens(model, ids, cfg, frozenset()))
        torch._dynamo.reset()
        counters.clear()
        static = StaticStep(model, compile=compiled)
        model.setup_caches(1, 600)
        assert list(decode_tokens(model, ids, cfg, frozenset(), static)) == expected
        if compiled:
            assert counters["stats"]["unique_graphs"] == 1


@pytest.mark.parametrize("native", [True, False], ids=["C step: prompt rows", "PyTorch: forward chunks"])
def test_a_long_prompt_is_prefilled_in_chunks_between_the_others_steps(tiny: Transformer, native: bool) -> None:
    """A 60-token prompt arriving while another request decodes goes in 8-token chunks, and the
    running request gets a decode step with every chunk instead of waiting for all. On the C step
    the chunks are rows of the decode steps themselves; on PyTorch, forward calls between them."""
    events: list[str] = []
    step: DecodeStep = NativeStep(tiny) if native else TorchStep()
    original_rows, original_forward = step.step_rows, tiny.forward
    long_submitted = threading.Event()

    def logged_rows(*args: Any) -> torch.Tensor:
        events.append(f"{args[1].numel()} rows")
        # The tiny model decodes 40 tokens in milliseconds: after the step that gives the running
        # request its second token, hold it until the long one is in line, or it may finish first.
        if len(events) > 2:
            long_submitted.wait(timeout=30)
        return original_rows(*args)

    def logged_forward(tokens: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        events.append(f"prefill {tokens.shape[1]}")
        return original_forward(tokens, *args, **kwargs)

    step.step_rows = logged_rows  # type: ignore[method-assign]
    tiny.forward = logged_forward  # type: ignore[method-assign]
    try:
        scheduler = BatchScheduler(tiny, 128, BatchSettings(slots=2, prefill_chunk=8), step)
        running = scheduler.submit(random_ids(4, seed=7), GenerationConfig(max_new_tokens=40), frozenset())
        tokens = iter(running)
        next(tokens), next(tokens)  # decoding now
        long = scheduler.submit(random_ids(60, seed=8), GenerationConfig(max_new_tokens=2), frozenset())
        long_submitted.set()
        list(long), list(tokens)
    finally:
        del tiny.forward
    if native:  # no forward at all: the running prompt's 4 rows, then the long one's 8 at a time beside the decode row
        assert not any(e.startswith("prefill") for e in events)
        assert events[0] == "4 rows"
        first = events.index("9 rows")
        assert events[first : first + 8] == ["9 rows"] * 7 + ["5 rows"]
        assert set(events[1:first]) == {"1 rows"} and set(events[first + 8 :]) <= {"1 rows", "2 rows"}
        return
    chunks = [i for i, e in enumerate(events) if e.startswith("prefill")][1:]  # after the running prompt's
    assert [events[i] for i in chunks] == ["prefill 8"] * 7 + ["prefill 4"]
    assert all("1 rows" in events[a:b] for a, b in itertools.pairwise(chunks))


def test_a_gpu_gets_only_the_batch_slots_its_memory_holds(tiny: Transformer) -> None:
    from model.batching import kv_bytes_per_token, slots_that_fit

    args = tiny.args
    assert kv_bytes_per_token(tiny) == 2 * args.n_layers * args.n_kv_heads * args.head_dim * 4
    # Llama-2-7B in bf16: 0.5 MB a token, 2 GB a 4k-token slot; 20 GB free holds 9 of 16 asked for
    per_slot = 2 * 32 * 32 * 128 * 2 * 4096
    assert per_slot == 2 * 2**30
    assert slots_that_fit(16, per_slot, 20 * 2**30) == 9
    assert slots_that_fit(16, per_slot, 200 * 2**30) == 16
    assert slots_that_fit(16, per_slot, 2**30) == 1  # never none: one answer at a time still works


def test_stopping_waits_for_the_step_in_flight_and_the_next_request_starts_again(tiny: Transformer) -> None:
    """At exit the scheduler is stopped and joined (a daemon thread inside a torch op while Python
    finalises aborted `kb generate` after its answer): stop() returns only after the step it is in."""
    step = HeldStep(tiny, rows=1)
    scheduler = BatchScheduler(tiny, 128, BatchSettings(slots=2, prefill_chunk=8), step)
    first = scheduler.submit(random_ids(5, seed=1), GREEDY, frozenset())
    assert step.entered.wait(timeout=30)
    stopper = threading.Thread(target=scheduler.stop)
    stopper.start()
    stopper.join(timeout=0.5)
    assert stopper.is_alive() and scheduler.running  # the held step is still running
    step.released.set()
    stopper.join(timeout=30)
    assert not stopper.is_alive() and not scheduler.running
    second = scheduler.submit(random_ids(7, seed=2), GREEDY, frozenset())  # starts the thread again
    assert list(second) == alone(tiny, random_ids(7, seed=2), GREEDY)
    assert len(list(first)) == GREEDY.max_new_tokens  # the stopped request went on with it
    scheduler.stop()
