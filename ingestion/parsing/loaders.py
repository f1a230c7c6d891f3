"""File -> ParsedDocument, dispatched by suffix. Runs inside the parse process (see sandbox.py)."""

from pathlib import Path

from ingestion.errors import ParseError, UnsupportedFileError
from ingestion.parsing.docx_loader import load_docx
from ingestion.parsing.formats import SUPPORTED_SUFFIXES, mime_of, suffix_of
from ingestion.parsing.html_loader import load_html
from ingestion.parsing.limits import ParseLimits
from ingestion.parsing.metadata import extract_metadata
from ingestion.parsing.pdf_loader import load_pdf
from ingestion.parsing.text_loader import load_text
from ingestion.types import PageText, ParsedDocument


def load_document(path: Path, limits: ParseLimits) -> ParsedDocument:
    """Parse in the current process; call parse_file() instead, which isolates this."""
    suffix = suffix_of(path)
    embedded_title: str | None = None
    pages: tuple[PageText, ...]
    if suffix == ".pdf":
        content = load_pdf(path, limits.max_pages)
        pages, embedded_title = content.pages, content.title
    elif suffix == ".docx":
        pages, embedded_title = load_docx(path)
    elif suffix in (".html", ".htm"):
        pages, embedded_title = load_html(path)
    elif suffix in (".md", ".markdown", ".txt"):
        pages = load_text(path)
    else:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedFileError(f"{path.name} has an unsupported file type; supported: {supported}.")
    if len(pages) > limits.max_pages:
        raise ParseError(
            f"{path.name} has {len(pages):,} pages, over the limit of {limits.max_pages:,} pages."
        )
    if not any(page.text for page in pages):
        raise ParseError(
            f"{path.name} contains no text (scanned pages would need OCR, which is not supported)."
        )
    return ParsedDocument(
        file_name=path.name,
        mime=mime_of(path),
        pages=pages,
        metadata=extract_metadata(pages, embedded_title),
    )
