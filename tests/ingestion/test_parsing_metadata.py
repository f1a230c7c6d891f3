"""Company, form and period read from real covers; titles for everything else."""

import pytest

from ingestion.parsing.metadata import extract_metadata, meaningful_title
from ingestion.parsing.pdf_loader import embedded_title, open_pdf, read_pages
from ingestion.types import DocumentMetadata, PageText
from tests.ingestion.parse_fixtures import eval_file

COVERS = [
    ("sec-10-q/docs/2022 Q3 AMZN.pdf", "AMAZON.COM, INC.", "10-Q", "quarter ended September 30, 2022"),
    ("sec-10-q/docs/2023 Q1 INTC.pdf", "INTEL CORPORATION", "10-Q", "quarter ended April 1, 2023"),
    ("sec-10-q/docs/2023 Q1 MSFT.pdf", "MICROSOFT CORPORATION", "10-Q", "quarter ended December 31, 2022"),
    ("sec-10-q/docs/2023 Q3 NVDA.pdf", "NVIDIA CORPORATION", "10-Q", "quarter ended October 29, 2023"),
    ("sec-10-q/docs/2023 Q1 AAPL.pdf", "Apple Inc.", "10-Q", "quarter ended December 31, 2022"),
    ("financebench/pdfs/3M_2022_10K.pdf", "3M COMPANY", "10-K", "fiscal year ended December 31, 2022"),
    ("financebench/pdfs/BLOCK_2016_10K.pdf", "SQUARE, INC.", "10-K", "fiscal year ended December 31, 2016"),
    (
        "financebench/pdfs/BESTBUY_2023_10K.pdf",
        "BEST BUY CO., INC.",
        "10-K",
        "fiscal year ended January 28, 2023",
    ),
    (
        "financebench/pdfs/JOHNSON_JOHNSON_2023_8K_dated-2023-08-30.pdf",
        "Johnson & Johnson",
        "8-K",
        "report dated August 30, 2023",
    ),
    (
        "financebench/pdfs/PEPSICO_2023Q1_EARNINGS.pdf",
        "PepsiCo, Inc.",
        "earnings release",
        "first quarter 2023",
    ),
    (
        "financebench/pdfs/MGMRESORTS_2022Q4_EARNINGS.pdf",
        "MGM Resorts International",
        "earnings release",
        "fourth quarter 2022, quarter ended December 31, 2022",
    ),
]


@pytest.mark.parametrize(("relative", "organisation", "kind", "period"), COVERS)
def test_real_cover_pages(relative: str, organisation: str, kind: str, period: str) -> None:
    path = eval_file(relative)
    reader = open_pdf(path, max_pages=10_000)
    metadata = extract_metadata(read_pages(reader, path.name, [1, 2, 3]), embedded_title(reader))
    assert (metadata.organisation, metadata.kind, metadata.period) == (organisation, kind, period)


def test_a_form_mentioned_in_the_text_is_not_a_cover() -> None:
    pages = (
        PageText(
            1,
            "Acme Corp. (NYSE: ACME) today reported results for the third quarter 2023. "
            "See our Quarterly Report on Form 10-Q for details.",
        ),
    )
    metadata = extract_metadata(pages, None)
    assert metadata.kind == "earnings release"
    assert metadata.organisation == "Acme Corp."
    assert metadata.period == "third quarter 2023"


def test_generic_documents_get_a_title_only() -> None:
    pages = (PageText(1, "# Travel expenses policy\n\nEmployees book economy class."),)
    assert extract_metadata(pages, None) == DocumentMetadata(title="Travel expenses policy")
    assert extract_metadata(pages, "Expense Policy 2024").title == "Expense Policy 2024"


def test_filler_embedded_titles_are_ignored() -> None:
    assert meaningful_title("0000320193-23-000064") is None
    assert meaningful_title("report_final.docx") is None
    assert meaningful_title("Microsoft Word - Handbook 2024") == "Handbook 2024"
    assert meaningful_title("  Debian   参考手册 ") == "Debian 参考手册"
