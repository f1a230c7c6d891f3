"""HTML: the visible text only (scripts, styles and other non-content elements dropped), one page."""

from pathlib import Path

from bs4 import BeautifulSoup

from ingestion.parsing.text_cleaning import clean_text
from ingestion.parsing.text_decoding import decode_text
from ingestion.types import PageText

_INVISIBLE = ("script", "style", "noscript", "template", "head", "svg", "iframe", "object")


def load_html(path: Path) -> tuple[tuple[PageText, ...], str | None]:
    """The pages (one) and the <title> text, if any."""
    soup = BeautifulSoup(decode_text(path.read_bytes(), path.name), "lxml")
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text(" ").split()) if title_tag is not None else ""
    for tag in soup(_INVISIBLE):
        tag.decompose()
    text = soup.get_text("\n")
    lines = (" ".join(line.split()) for line in text.splitlines())
    return (PageText(number=1, text=clean_text("\n".join(line for line in lines if line))),), title or None
