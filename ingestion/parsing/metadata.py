"""Document metadata (title, organisation, kind, period) read from the document's own text."""

from ingestion.types import DocumentMetadata, PageText


def extract_metadata(pages: tuple[PageText, ...], embedded_title: str | None) -> DocumentMetadata:
    return DocumentMetadata(title=embedded_title or _first_line(pages))


def _first_line(pages: tuple[PageText, ...]) -> str | None:
    for page in pages:
        for line in page.text.splitlines():
            line = line.strip().lstrip("#").strip()
            if line:
                return line[:200]
    return None
