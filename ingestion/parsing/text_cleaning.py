"""Normalise extracted page text before it becomes the document text that offsets point into."""

import re

# Table-of-contents leaders: ". . . . ." or "......" or "····" runs between a heading and its page.
_DOT_LEADER = re.compile(r"[ \t]*(?:[.·…‥⋯][ \t]?){4,}[ \t]*")
# Control characters other than tab and newline carry no meaning and upset tokenizers.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Unify newlines, drop control characters, shrink dot leaders to one ellipsis, trim."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _DOT_LEADER.sub(" … ", text)
    text = _TRAILING_SPACE.sub("\n", text)
    text = _MANY_BLANK_LINES.sub("\n\n", text)
    return text.strip()
