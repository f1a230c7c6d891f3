"""DOCX: paragraphs and tables in body order; explicit page breaks start a new page."""

import zipfile
from pathlib import Path

import docx
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingestion.errors import ParseError
from ingestion.parsing.text_cleaning import clean_text
from ingestion.types import PageText

_TEXT, _TAB, _BREAK, _CARRIAGE_RETURN = qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr")
_BREAK_TYPE = qn("w:type")


def load_docx(path: Path) -> tuple[tuple[PageText, ...], str | None]:
    """The pages and the core-properties title, if any."""
    if not zipfile.is_zipfile(path):
        raise ParseError(f"{path.name} is not a Word document (.docx): it is not a ZIP package.")
    try:
        document = docx.Document(str(path))
    except Exception as error:  # python-docx raises many kinds on a broken package
        raise ParseError(f"{path.name} is a damaged Word document and cannot be read ({error}).") from error
    pages: list[list[str]] = [[]]
    for block in _blocks(document):
        if isinstance(block, Table):
            for row in block.rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                pages[-1].append(" | ".join(cell for cell in cells if cell))
            continue
        for piece_index, piece in enumerate(_split_at_page_breaks(block)):
            if piece_index > 0:
                pages.append([])
            pages[-1].append(piece)
    page_texts = tuple(
        PageText(number=i + 1, text=clean_text("\n".join(lines))) for i, lines in enumerate(pages)
    )
    title = (document.core_properties.title or "").strip()
    return page_texts, title or None


def _blocks(document: DocxDocument) -> list[Paragraph | Table]:
    body = document.element.body
    blocks: list[Paragraph | Table] = []
    for child in body.iterchildren():
        if child.tag == qn("w:p"):
            blocks.append(Paragraph(child, document))
        elif child.tag == qn("w:tbl"):
            blocks.append(Table(child, document))
    return blocks


def _split_at_page_breaks(paragraph: Paragraph) -> list[str]:
    """The paragraph's text (hyperlinks included), cut where a hard page break sits."""
    pieces = [""]
    for element in paragraph._p.iter():
        if element.tag == _BREAK and element.get(_BREAK_TYPE) == "page":
            pieces.append("")
        elif element.tag == _TEXT:
            pieces[-1] += element.text or ""
        elif element.tag == _TAB:
            pieces[-1] += "\t"
        elif element.tag in (_BREAK, _CARRIAGE_RETURN):
            pieces[-1] += "\n"
    return pieces
