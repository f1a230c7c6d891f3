"""Real PDFs of the shared evaluation set: physical page numbers, the array limit, AES, Chinese.

Big files are read in-process for chosen pages only (open_pdf/read_pages); small ones go through
parse_file and its child process, as ingestion does."""



import pypdf
import pytest
from pypdf.errors import LimitReachedError

from ingestion.parsing import parse_file
from ingestion.parsing.metadata import extract_metadata
from ingestion.parsing.pdf_loader import embedded_title, open_pdf, read_pages
from ingestion.splitter import split_document
from ingestion.types import ParsedDocument
from tests.ingestion.parse_fixtures import eval_file

AAPL_Q1_2023 = "sec-10-q/docs/2023 Q1 AAPL.pdf"
AAPL_Q2_2023 = "sec-10-q/docs/2023 Q2 AAPL.pdf"
MSFT_Q2_2023 = "sec-10-q/docs/2023 Q2 MSFT.pdf"
FOOTLOCKER_8K = "financebench/pdfs/FOOTLOCKER_2022_8K_dated-2022-05-20.pdf"
ADOBE_10K = "financebench/pdfs/ADOBE_2022_10K.pdf"
DEBIAN_ZH = "zh-pdf/debian-reference.zh-cn.pdf"


@pytest.fixture(scope="module")
def apple() -> ParsedDocument:
    return parse_file(eval_file(AAPL_Q2_2023))


def test_apple_10q_pages_are_physical_not_printed(apple: ParsedDocument) -> None:
    assert [page.number for page in apple.pages] == list(range(1, 29))
    # The income statement is on physical page 4, whose footer prints "1" (Apple: physical - 3).
    statement = apple.pages[3]
    assert statement.number == 4
    assert "CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS" in statement.text
    assert statement.text.endswith("Apple Inc. | Q2 2023 Form 10-Q | 1")
    assert "CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS" not in apple.pages[0].text


def test_apple_10q_metadata_comes_from_the_cover(apple: ParsedDocument) -> None:
    assert apple.metadata.organisation == "Apple Inc."
    assert apple.metadata.kind == "10-Q"
    assert apple.metadata.period == "quarter ended April 1, 2023"
    assert apple.metadata.header() == "Apple Inc. | 10-Q | quarter ended April 1, 2023"


def test_apple_10q_chunks_keep_offsets_and_page_spans(apple: ParsedDocument) -> None:
    chunks = split_document(apple, _word_count, chunk_tokens=256, overlap_tokens=32)
    text = apple.text
    assert len(chunks) > 28
    page_of_offset = []
    for page in apple.pages:
        page_of_offset += [page.number] * (len(page.text) + 2)
    for chunk in chunks:
        assert text[chunk.char_start : chunk.char_end] == chunk.text
        assert page_of_offset[chunk.char_start] == chunk.page_start
        assert page_of_offset[chunk.char_end - 1] == chunk.page_end
    statement_chunks = [c for c in chunks if "STATEMENTS OF OPERATIONS (Unaudited)" in c.text]
    assert statement_chunks and statement_chunks[0].page_start == 4


def test_footlocker_8k_through_the_child_process() -> None:
    doc = parse_file(eval_file(FOOTLOCKER_8K))
    assert len(doc.pages) == 4
    assert doc.metadata.organisation == "Foot Locker, Inc."
    assert doc.metadata.kind == "8-K"
    assert doc.metadata.period == "report dated May 20, 2022"


def test_msft_10q_needs_and_gets_the_raised_array_limit() -> None:
    path = eval_file(MSFT_Q2_2023)
    with pytest.raises(LimitReachedError):  # what an ingest with pypdf's defaults would hit
        len(pypdf.PdfReader(path).pages)
    reader = open_pdf(path, max_pages=10_000)
    assert len(reader.pages) == 74
    first, last = read_pages(reader, path.name, [1, 74])
    assert last.number == 74 and last.text == ""  # a page without text is kept, empty
    metadata = extract_metadata((first,), embedded_title(reader))
    assert (metadata.organisation, metadata.kind, metadata.period) == (
        "MICROSOFT CORPORATION",
        "10-Q",
        "quarter ended March 31, 2023",
    )


def test_adobe_10k_with_aes_256_encryption_opens() -> None:
    path = eval_file(ADOBE_10K)
    reader = open_pdf(path, max_pages=10_000)
    assert reader.is_encrypted and len(reader.pages) == 99
    metadata = extract_metadata(read_pages(reader, path.name, [1, 2]), embedded_title(reader))
    assert (metadata.organisation, metadata.kind, metadata.period) == (
        "ADOBE INC.",
        "10-K",
        "fiscal year ended December 2, 2022",
    )


def test_chinese_manual_page_numbers_and_table_of_contents() -> None:
    path = eval_file(DEBIAN_ZH)
    reader = open_pdf(path, max_pages=10_000)
    cover, toc, chapter_one, page_101 = read_pages(reader, path.name, [1, 6, 29, 101])
    assert cover.text == ""  # the cover is an image
    assert chapter_one.text.startswith("Debian 参考手册 1/ 223")  # printed page 1 is physical 29
    assert "73/ 223" in page_101.text and "引导加载程序" in page_101.text
    assert ". . ." not in toc.text and "1.3.2 启动 MC … 15" in toc.text  # dot leaders shrunk


def _word_count(text: str) -> int:
    return len(text.split())




def test_apple_q1_10q_with_a_twice_printed_agreement_splits_in_e5_tokens() -> None:
    """Regression: its award agreement is printed twice, and with e5 token counts the splitter once
    picked the far copy for a chunk and then failed on the next ("text that is not in the document")."""
    from ingestion.embedders import load_embedder

    doc = parse_file(eval_file(AAPL_Q1_2023))
    chunks = split_document(doc, load_embedder("auto").count_tokens, chunk_tokens=256, overlap_tokens=32)
    assert len(chunks) > 100
    starts = [chunk.char_start for chunk in chunks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for chunk in chunks:
        assert doc.text[chunk.char_start : chunk.char_end] == chunk.text
