"""Plain text and Markdown: one page, the decoded text as is (Markdown syntax is kept; it reads fine)."""

from pathlib import Path

from ingestion.parsing.text_cleaning import clean_text
from ingestion.parsing.text_decoding import decode_text
from ingestion.types import PageText


def load_text(path: Path) -> tuple[PageText, ...]:
    text = decode_text(path.read_bytes(), path.name)
    # Form feeds mark pages in some plain-text exports; honour them.
    return tuple(PageText(number=i + 1, text=clean_text(part)) for i, part in enumerate(text.split("\f")))
