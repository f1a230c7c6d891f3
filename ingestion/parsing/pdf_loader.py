"""PDF -> text per physical page with pypdf. Runs inside the parse process."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pypdf
from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError, WrongPasswordError

from ingestion.errors import ParseError
from ingestion.parsing import pdf_content_stream
from ingestion.parsing.page_progress import report_pages
from ingestion.parsing.text_cleaning import clean_text
from ingestion.types import PageText

# Two real 10-Qs (MSFT) hold a 109,548-element /IDTree array; pypdf's default limit is 100,000.
ARRAY_ELEMENT_LIMIT = 1_000_000


@dataclass(frozen=True)
class PdfContent:
    pages: tuple[PageText, ...]
    title: str | None  # the document information /Title, as written


def load_pdf(path: Path, max_pages: int) -> PdfContent:
    reader = open_pdf(path, max_pages)
    return PdfContent(pages=read_pages(reader, path.name), title=embedded_title(reader))


def open_pdf(path: Path, max_pages: int) -> pypdf.PdfReader:
    """A decrypted reader with at most `max_pages` pages, or a ParseError saying why not."""
    name = path.name
    with path.open("rb") as stream:
        head = stream.read(1024)
    if b"%PDF-" not in head:
        raise ParseError(f"{name} is not a PDF: it does not start with a PDF header.")
    with _pdf_errors_as_parse_errors(name):
        reader = pypdf.PdfReader(path)
        # An empty user password opens most "encrypted" filings; pypdf tries it, a real one it cannot.
        if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
            raise ParseError(f"{name} is encrypted with a password, so its text cannot be read.")
        page_count = len(reader.pages)
    if page_count > max_pages:
        raise ParseError(f"{name} has {page_count:,} pages, over the limit of {max_pages:,} pages.")
    return reader


def read_pages(
    reader: pypdf.PdfReader, name: str, numbers: Iterable[int] | None = None
) -> tuple[PageText, ...]:
    """Text of the given 1-based physical pages (all by default). Numbers are pypdf index + 1,
    never the printed footer, which differs (Apple 10-Qs print physical - 3)."""
    wanted = list(range(1, len(reader.pages) + 1) if numbers is None else numbers)
    pdf_content_stream.install()  # the same text as pypdf's own reader, in about half its time
    pages: list[PageText] = []
    with _pdf_errors_as_parse_errors(name):
        for number in wanted:
            try:
                text = reader.pages[number - 1].extract_text()
            except (LimitReachedError, MemoryError, RecursionError):
                raise
            except Exception as error:  # say which page; a silent empty page would hide the loss
                raise ParseError(f"{name}: page {number} could not be read ({error}).") from error
            pages.append(PageText(number=number, text=clean_text(text)))
            report_pages(len(pages), len(wanted))
    return tuple(pages)


def embedded_title(reader: pypdf.PdfReader) -> str | None:
    try:
        info = reader.metadata
        title = info.title if info is not None else None
    except Exception:  # a broken info dictionary must not cost the document
        return None
    return title if isinstance(title, str) else None


@contextmanager
def _pdf_errors_as_parse_errors(name: str) -> Iterator[None]:
    """Raises pypdf's limits for real filings and turns its exceptions into sentences."""
    with pypdf.apply_configuration(array_maximum_element_count=ARRAY_ELEMENT_LIMIT):
        try:
            yield
        except ParseError:
            raise
        except LimitReachedError as error:
            raise ParseError(
                f"{name} exceeds a safety limit of the PDF reader ({error}); "
                "it may be a decompression bomb or another hostile file."
            ) from error
        except (FileNotDecryptedError, WrongPasswordError) as error:
            raise ParseError(f"{name} is encrypted with a password, so its text cannot be read.") from error
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as error:
            raise ParseError(
                f"{name} is damaged or truncated and cannot be read as a PDF ({error})."
            ) from error
