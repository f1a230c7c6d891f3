"""Next-token selection with Hugging Face semantics: repetition penalty, temperature, top-k, top-p.

Each step matches its transformers counterpart (RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
TopKLogitsWarper, TopPLogitsWarper with min_tokens_to_keep=1) and they run in the order generate() runs
them. Greedy decoding applies only the repetition penalty, as generate() does with do_sample=False.
This runs once per generated token: a disabled step costs nothing.
"""

import torch

from model.errors import GenerationError
from model.generation_config import GenerationConfig


def apply_repetition_penalty(logits: torch.Tensor, token_ids: torch.Tensor, penalty: float) -> torch.Tensor:
    """Make every token already in `token_ids` less likely: positive scores / penalty, negative * penalty."""
    # logits [B, V], token_ids [B, T]
    vocab = logits.shape[-1]
    # An id beyond the output vocabulary cannot be generated: send it to a padding column, dropped after.
    ids = token_ids.clamp(max=vocab)  # [B, T]
    padded = torch.nn.functional.pad(logits, (0, 1))  # [B, V + 1]
    seen = padded.gather(1, ids)  # [B, T]
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return padded.scatter(1, ids, seen)[:, :vocab]  # [B, V]


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    return logits / temperature


def apply_top_k(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """Keep the `top_k` highest scores per row (and every score tied with the k-th); the rest become -inf."""
    k = min(top_k, logits.shape[-1])
    kth = torch.topk(logits, k).values[..., -1:]  # [B, 1]
    return logits.masked_fill(logits < kth, -float("inf"))


def apply_top_p(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of highest-probability tokens whose mass reaches `top_p` (at least one)."""
    sorted_logits, sorted_ids = torch.sort(logits, descending=False)  # [B, V], ascending
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    # Drop the low tail whose total mass is <= 1 - top_p; the most likely token always stays.
    drop_sorted = cumulative <= (1 - top_p)
    drop_sorted[..., -1:] = False
    drop = drop_sorted.scatter(1, sorted_ids, drop_sorted)
    return logits.masked_fill(drop, -float("inf"))


def process_logits(logits: torch.Tensor, token_ids: torch.Tensor, cfg: GenerationConfig) -> torch.Tensor:
    """Scores ready for argmax or softmax sampling. logits [B, V] (last position), token_ids [B, T]."""
    if logits.dim() != 2 or token_ids.dim() != 2 or logits.shape[0] != token_ids.shape[0]:
        raise GenerationError(
            f"Expected logits [batch, vocab] and token ids [batch, length] with the same batch, got "
            f"{tuple(logits.shape)} and {tuple(token_ids.shape)}."
        )
    scores = logits if logits.dtype == torch.float32 else logits.float()  # generate() samples in float32
    if cfg.repetition_penalty != 1.0:
        scores = apply_repetition_penalty(scores, token_ids, cfg.repetition_penalty)
    if cfg.greedy:
        return scores  # warpers never change the argmax; generate() skips them too
    if cfg.temperature != 1.0:
        scores = apply_temperature(scores, cfg.temperature)
    if cfg.top_k > 0:
        scores = apply_top_k(scores, cfg.top_k)
    if cfg.top_p < 1.0:
        scores = apply_top_p(scores, cfg.top_p)
    return scores


def select_next_token(
    logits: torch.Tensor,
    token_ids: torch.Tensor,
    cfg: GenerationConfig,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The next token of each row [B]: argmax when greedy, else a draw from the processed distribution."""
    scores = process_logits(logits, token_ids, cfg)  # [B, V]
    if cfg.greedy:
        return scores.argmax(dim=-1)
    probs = scores.softmax(dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)  # [B]
