"""HTML: the visible text only (scripts, styles and other non-content elements dropped), one page."""

from pathlib import Path

from bs4 import BeautifulSoup

from ingestion.parsing.text_cleaning import clean_text
from ingestion.parsing.text_decoding import decode_text
from ingestion.types import PageText

_INVISIBLE = ("script", "style", "noscript", "template", "head", "svg", "iframe", "object", "canvas")
# Elements that start a new line when rendered; inline ones (<b>, <a>, <span>) flow with the text.
_BLOCKS = (
    "p", "div", "section", "article", "header", "footer", "main", "nav", "aside", "h1", "h2", "h3", "h4",
    "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "pre", "blockquote", "figure",
    "figcaption", "hr", "address", "form", "fieldset",
)  # fmt: skip


def load_html(path: Path) -> tuple[tuple[PageText, ...], str | None]:
    """The pages (one) and the <title> text, if any."""
    soup = BeautifulSoup(decode_text(path.read_bytes(), path.name), "lxml")
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text(" ").split()) if title_tag is not None else ""
    for tag in soup(_INVISIBLE):
        tag.decompose()
    for tag in soup("br"):
        tag.replace_with("\n")
    for tag in soup(["td", "th"]):
        tag.append(" | ")  # keeps table cells apart on their row
    for tag in soup(_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = (" ".join(line.split()).removesuffix(" |") for line in soup.get_text().splitlines())
    text = "\n".join(line for line in lines if line)
    return (PageText(number=1, text=clean_text(text)),), title or None
