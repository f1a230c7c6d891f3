"""Token-level generation on our Transformer: greedy/sampled decoding and beam search.

`decode_tokens` yields token ids one at a time (streaming); `beam_search` returns the best sequence,
following transformers' beam search (v5) step for step so that both choose the same tokens. Both
take the decode step the engine chose (model.decode_step; PyTorch eager when none is given).
"""

from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F

from model.decode_step import DecodeStep, TorchStep
from model.generation_config import GenerationConfig
from model.model import Transformer
from model.sampling import process_logits, select_next_token


def make_generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    if seed is None:
        return None
    return torch.Generator(device=device).manual_seed(seed)


def prefill(model: Transformer, step: DecodeStep, prompt: torch.Tensor) -> torch.Tensor:
    """prompt [B, T] -> logits of the last position [B, V]; fills the KV cache at positions 0..T-1."""
    step.prepare(model)
    return model(prompt, 0, last_only=True)[:, -1]


@torch.inference_mode()
def decode_tokens(
    model: Transformer,
    prompt_ids: Sequence[int],
    cfg: GenerationConfig,
    stop_ids: frozenset[int],
    step: DecodeStep | None = None,
) -> Iterator[int]:
    """Greedy or sampled decoding; yields each new token, the stop token included, then returns.

    The caller sizes the cache (model.setup_caches) for len(prompt_ids) + cfg.max_new_tokens.
    """
    device, step = model.device, step or TorchStep()
    total = len(prompt_ids) + cfg.max_new_tokens
    # All token ids so far, for the repetition penalty; preallocated so each step is a view.
    history = torch.empty((1, total), dtype=torch.long, device=device)
    history[0, : len(prompt_ids)] = torch.tensor(prompt_ids, dtype=torch.long)
    generator = make_generator(cfg.seed, device)
    pos = len(prompt_ids)
    logits = prefill(model, step, history[:, :pos])
    for produced in range(1, cfg.max_new_tokens + 1):
        next_token = select_next_token(logits, history[:, :pos], cfg, generator)  # [1]
        token = int(next_token[0])
        yield token
        if token in stop_ids or produced == cfg.max_new_tokens:
            return
        history[0, pos] = token
        logits = step.step(model, next_token.view(1, 1), pos)
        pos += 1


def _gather_beams(tensor: torch.Tensor, beam_indices: torch.Tensor) -> torch.Tensor:
    """tensor [B, N, ...], beam_indices [B, M] -> [B, M, ...] (transformers' _gather_beams)."""
    while beam_indices.dim() < tensor.dim():
        beam_indices = beam_indices.unsqueeze(-1)
    return torch.take_along_dim(tensor, beam_indices, dim=1)


@torch.inference_mode()
def beam_search(
    model: Transformer,
    prompt_ids: Sequence[int],
    cfg: GenerationConfig,
    stop_ids: frozenset[int],
    step: DecodeStep | None = None,
) -> list[int]:
    """Deterministic beam search (early_stopping=False, length_penalty from cfg) for one prompt.

    Returns the new tokens of the best finished (or, failing that, best running) beam, stop token included.
    The cache must be sized for cfg.num_beams rows.
    """
    device, step = model.device, step or TorchStep()
    n_beams, prompt_len = cfg.num_beams, len(prompt_ids)
    max_length = prompt_len + cfg.max_new_tokens
    eos = torch.tensor(sorted(stop_ids), dtype=torch.long, device=device)
    beams_to_keep = max(2, 1 + len(stop_ids)) * n_beams
    top_beam_mask = torch.zeros(beams_to_keep, dtype=torch.bool, device=device)
    top_beam_mask[:n_beams] = True
    fill = int(eos[0]) if len(eos) else -1

    running = torch.full((1, n_beams, max_length), fill, dtype=torch.long, device=device)
    running[:, :, :prompt_len] = torch.tensor(prompt_ids, dtype=torch.long, device=device)
    finished = running.clone()
    running_scores = torch.zeros((1, n_beams), device=device)
    running_scores[:, 1:] = -1e9  # all beams start identical: only the first may expand at step one
    finished_scores = torch.full((1, n_beams), -1e9, device=device)
    is_finished = torch.zeros((1, n_beams), dtype=torch.bool, device=device)
    can_improve = torch.ones((1, 1), dtype=torch.bool, device=device)

    logits = prefill(model, step, running[0, :1, :prompt_len])  # [1, V]
    model.reorder_cache(torch.zeros(n_beams, dtype=torch.long, device=device))
    step.caches_reordered(model)
    logits = logits.expand(n_beams, -1)
    cur_len = prompt_len
    while True:
        log_probs = F.log_softmax(logits.float(), dim=-1)
        log_probs = process_logits(log_probs, running[0, :, :cur_len], cfg)  # [N, V]
        vocab = log_probs.shape[-1]
        accumulated = (log_probs[None] + running_scores[:, :, None]).reshape(1, -1)  # [1, N*V]
        topk_scores, topk_indices = torch.topk(accumulated, k=beams_to_keep)
        parent = topk_indices // vocab  # [1, K]
        topk_sequences = _gather_beams(running, parent)
        topk_sequences[:, :, cur_len] = topk_indices % vocab
        last = topk_sequences[:, :, cur_len]
        hits_stop = torch.isin(last, eos) | (cur_len + 1 >= max_length)  # [1, K]

        # Best unfinished continuations become the running beams.
        masked = topk_scores + hits_stop.float() * -1e9
        keep = torch.topk(masked, k=n_beams)[1]
        running = _gather_beams(topk_sequences, keep)
        running_scores = _gather_beams(masked, keep)
        parents_kept = _gather_beams(parent, keep)  # [1, N]

        # Finished candidates among the top n_beams join the pool if they beat what is there.
        just_finished = hits_stop & top_beam_mask[None, :]
        candidate = topk_scores / ((cur_len + 1 - prompt_len) ** cfg.length_penalty)
        candidate = candidate + (~can_improve).float() * -1e9 + (~just_finished).float() * -1e9
        merged_sequences = torch.cat((finished, topk_sequences), dim=1)
        merged_scores = torch.cat((finished_scores, candidate), dim=1)
        merged_finished = torch.cat((is_finished, just_finished), dim=1)
        best = torch.topk(merged_scores, k=n_beams)[1]
        finished = _gather_beams(merged_sequences, best)
        finished_scores = _gather_beams(merged_scores, best)
        is_finished = _gather_beams(merged_finished, best)

        cur_len += 1
        # Stop when no running beam can beat the worst finished one (transformers' default heuristic).
        best_running = running_scores[:, :1] / ((cur_len - prompt_len) ** cfg.length_penalty)
        worst_finished = torch.where(is_finished, finished_scores.min(dim=1, keepdim=True)[0], -1.0e9)
        can_improve = can_improve & torch.any(best_running > worst_finished, dim=-1, keepdim=True)
        if not bool(can_improve.any()) or bool(hits_stop.all()):
            break
        model.reorder_cache(parents_kept[0])
        step.caches_reordered(model)
        logits = step.step(model, running[0, :, cur_len - 1 : cur_len], cur_len - 1)

    best_sequence = finished[0, 0] if bool(is_finished[0, 0]) else running[0, 0]
    new_tokens = best_sequence[prompt_len:cur_len].tolist()
    # Like transformers, a sequence that ended early is padded; cut at its first stop token.
    for i, token in enumerate(new_tokens):
        if token in stop_ids:
            return new_tokens[: i + 1]
    return new_tokens
