"""The content words used to measure support by overlap (sentences are split in
app.retrieval.text, re-exported here for the chain)."""

import re

from app.retrieval.text import CJK_CHAR, Sentence, is_stop_word, split_sentences, stem

__all__ = [
    "Sentence",
    "content_words",
    "ends_on_dangling_word",
    "points_elsewhere",
    "split_sentences",
    "stands_alone",
    "support",
]

_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# A finished sentence does not end on one of these: "The Company has a policy of" broke off.
_DANGLING = frozenset(
    {"a", "an", "the", "of", "to", "for", "with", "by", "in", "on", "at", "from", "into", "and", "or", "but", "as"}
    | {"is", "are", "was", "were", "be", "that", "which", "than"}
)


def ends_on_dangling_word(text: str) -> bool:
    """Does the text stop on a word no sentence ends on ("... of our common stock for"), or on a
    comma ("... a hearing was held on May 23,": the year is on the next line)?"""
    words = text.rstrip().split()
    return bool(words) and (words[-1].lower() in _DANGLING or words[-1].endswith(","))


# A sentence begins with a capital, a figure or an opening mark; one that leads into a table or list
# ends so ("... were as follows (dollars in millions):", "The following"), as does an item of a list
_BEGINS = re.compile(r"^[\s“\"‘(]*[A-Z0-9$]")
_LEADS_IN = re.compile(r"(?:[:;：]|\bthe\s+following|\bas\s+follows)[\s”’\")]*$", re.I)
_POSSESSIVE_END = re.compile(r"\b(?:our|its|their|his|her)[\s”’\")]*$", re.I)


def stands_alone(sentence: str) -> bool:
    """Does the English text say something by itself? Not when it leads into a table or list, is an
    item of one ("internal and external manufacturing plans, ...;"), starts inside a sentence, or
    breaks off ("..., and", "... based on our")."""
    text = sentence.strip().strip("“”").strip()
    if _BEGINS.match(text) is None or _LEADS_IN.search(text) or _POSSESSIVE_END.search(text):
        return False
    return not ends_on_dangling_word(text)


# A pointer to another part of a filing ("see Item 7 of Part II", "is contained in Note 16") says
# where the answer is, not what it is; a notice about forward-looking statements, nothing.
_POINTER = re.compile(
    r"\b(?:see|refer\s+to|contained\s+in|described\s+in)\b.{0,80}\b(?:Item|Note|Part)\s+\d"
    r"|\bItem\s+\d+[A-Z]?\s+of\s+Part\b|forward-looking"
    r"|\b(?:in|to|see)\s+(?:our|the(?:\s+Company['’]s)?)\s+(?:\d{4}\s+)?(?:Annual|Quarterly)\s+Report\b.{0,120}"
    r"\bfor\s+(?:a|the|further|more)\b|\bread\s+in\s+conjunction\s+with\b"
    r"|\btable\s+of\s+contents\b|\b(?:described|discussed|set\s+forth|listed)\s+below\b",
    re.I,
)


def points_elsewhere(sentence: str) -> bool:
    """Does the sentence say where something is (another Item, Note or report), not what it is?"""
    return _POINTER.search(sentence) is not None


def content_words(text: str) -> set[str]:
    """Lower-cased words without stop words; each CJK character counts as a word."""
    words: set[str] = set()
    for token in _WORD.findall(text.lower()):
        if CJK_CHAR.search(token):
            words.update(CJK_CHAR.findall(token))
            words.update(_DIGITS.findall(token))  # "2000年": the year is a word too
        elif not is_stop_word(stem(token)) and (len(token) > 1 or token.isdigit()):
            words.add(token)
    return words


def support(claim: set[str], sentence: set[str]) -> float:
    """Share of the claim's content words that the source sentence contains (0..1)."""
    if not claim:
        return 0.0
    return len(claim & sentence) / len(claim)
