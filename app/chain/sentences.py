"""Sentences with their offsets, and the content words used to measure support by overlap."""

import re
from dataclasses import dataclass

# A sentence ends at . ! ? (followed by space; not after a title or company suffix) or a CJK
# full stop, or at a blank line; citation markers right after the full stop ("rose 5%. [2]") stay
# with the sentence they follow.
_NOT_AN_END = (
    r"(?<!\b(?:Mr|Ms|Dr|Jr|Sr|St|No|vs|Co)\.)(?<!\b(?:Mrs|Inc|Ltd|etc)\.)(?<!\bCorp\.)"
    r"(?<!\b[A-Z]\.)"  # a middle initial: "Patrick P. Gelsinger"
)
_BOUNDARY = re.compile(
    r"(?<=[.!?])" + _NOT_AN_END + r"(?P<tail>(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])*[\"')]*)\s+(?=[^\sa-z])"
    r"|(?<=[。！？])(?P<cjk>(?:\[\d+\])*)|\n\s*\n"
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "would",
        "you",
        "your",
        "not",
        "no",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "may",
        "might",
        "also",
        "such",
        "any",
        "all",
        "each",
        "more",
        "most",
        "other",
        "some",
        "about",
        "over",
        "under",
        "up",
        "out",
        "per",
    ]
)


@dataclass(frozen=True)
class Sentence:
    start: int  # offset in the text it was split from
    end: int
    text: str


def split_sentences(text: str) -> list[Sentence]:
    sentences: list[Sentence] = []
    start = 0
    for match in [*_BOUNDARY.finditer(text), None]:
        end = match.start() + len(match.group("tail") or match.group("cjk") or "") if match else len(text)
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            sentences.append(Sentence(start + lead, start + lead + len(stripped), stripped))
        if match:
            start = match.end()
    return sentences


def content_words(text: str) -> set[str]:
    """Lower-cased words without stop words; each CJK character counts as a word."""
    words: set[str] = set()
    for token in _WORD.findall(text.lower()):
        if _CJK.search(token):
            words.update(_CJK.findall(token))
        elif token not in STOP_WORDS and (len(token) > 1 or token.isdigit()):
            words.add(token)
    return words


def support(claim: set[str], sentence: set[str]) -> float:
    """Share of the claim's content words that the source sentence contains (0..1)."""
    if not claim:
        return 0.0
    return len(claim & sentence) / len(claim)
