"""What the caller asks of one generation; plain data shared by the sampler, the generator and app/."""

from dataclasses import dataclass

from model.errors import GenerationError


@dataclass(frozen=True)
class GenerationConfig:
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 means greedy (argmax); > 0 samples
    top_k: int = 0  # 0 disables
    top_p: float = 1.0  # 1.0 disables
    repetition_penalty: float = 1.0  # 1.0 disables; transformers semantics
    num_beams: int = 1
    length_penalty: float = 1.0  # beam search only, transformers semantics
    stop_token_ids: tuple[int, ...] = ()  # in addition to the tokenizer's end-of-turn tokens
    ignore_eos: bool = False  # the tokenizer's end-of-turn tokens do not stop (benchmarks: equal lengths)
    stop_strings: tuple[str, ...] = ()
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def validate(self) -> "GenerationConfig":
        if self.max_new_tokens < 1:
            raise GenerationError("max_new_tokens must be at least 1.")
        if self.temperature < 0:
            raise GenerationError("temperature must be >= 0 (0 means greedy).")
        if self.top_k < 0:
            raise GenerationError("top_k must be >= 0 (0 disables it).")
        if not 0.0 < self.top_p <= 1.0:
            raise GenerationError("top_p must be in (0, 1].")
        if self.repetition_penalty <= 0:
            raise GenerationError("repetition_penalty must be > 0 (1.0 disables it).")
        if self.num_beams < 1:
            raise GenerationError("num_beams must be at least 1.")
        if self.num_beams > 1 and not self.greedy:
            raise GenerationError("Beam search is deterministic: use temperature 0 with num_beams > 1.")
        return self
