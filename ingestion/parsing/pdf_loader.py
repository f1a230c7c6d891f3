"""PDF -> text per physical page with pypdf. Runs inside the parse process."""

from dataclasses import dataclass
from pathlib import Path

import pypdf
from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError, WrongPasswordError

from ingestion.errors import ParseError
from ingestion.parsing.text_cleaning import clean_text
from ingestion.types import PageText

# Two real 10-Qs (MSFT) hold a 109,548-element /IDTree array; pypdf's default limit is 100,000.
ARRAY_ELEMENT_LIMIT = 1_000_000


@dataclass(frozen=True)
class PdfContent:
    pages: tuple[PageText, ...]
    title: str | None  # the document information /Title, when it says something


def load_pdf(path: Path, max_pages: int) -> PdfContent:
    name = path.name
    with path.open("rb") as stream:
        head = stream.read(1024)
    if b"%PDF-" not in head:
        raise ParseError(f"{name} is not a PDF: it does not start with a PDF header.")
    with pypdf.apply_configuration(array_maximum_element_count=ARRAY_ELEMENT_LIMIT):
        try:
            return _read(path, max_pages)
        except ParseError:
            raise
        except LimitReachedError as error:
            raise ParseError(
                f"{name} exceeds a safety limit of the PDF reader ({error}); "
                "it may be a decompression bomb or a hostile file."
            ) from error
        except (FileNotDecryptedError, WrongPasswordError) as error:
            raise ParseError(f"{name} is encrypted with a password, so its text cannot be read.") from error
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
            raise ParseError(
                f"{name} is damaged or truncated and cannot be read as a PDF ({error})."
            ) from error


def _read(path: Path, max_pages: int) -> PdfContent:
    name = path.name
    reader = pypdf.PdfReader(path)
    # An empty user password opens most "encrypted" filings; pypdf tries it, a real one it cannot.
    if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
        raise ParseError(f"{name} is encrypted with a password, so its text cannot be read.")
    page_count = len(reader.pages)
    if page_count > max_pages:
        raise ParseError(f"{name} has {page_count:,} pages, over the limit of {max_pages:,} pages.")
    pages = []
    for index, page in enumerate(reader.pages):
        try:
            text = page.extract_text()
        except (LimitReachedError, MemoryError):
            raise
        except Exception as error:
            raise ParseError(f"{name}: page {index + 1} could not be read ({error}).") from error
        pages.append(PageText(number=index + 1, text=clean_text(text)))
    return PdfContent(pages=tuple(pages), title=_title(reader))


def _title(reader: pypdf.PdfReader) -> str | None:
    try:
        info = reader.metadata
        title = info.title if info is not None else None
    except Exception:  # a broken info dictionary must not cost the document
        return None
    if not isinstance(title, str):
        return None
    title = " ".join(title.split())
    return title or None
