"""Figures in the notes and in Item 2, as people ask for them: the cell of the monthly repurchase
table under the column asked, the total of a schedule of future payments, a note's table named by
the sentence leading into it, and a sentence on the page beside the chunk the search found.
Questions of the apart-written batch l, on real pages of the shared filings."""

import pytest

from app.chain.extract import Extractor
from app.chain.repurchases import repurchase_rows
from app.chain.tables import table_rows
from app.types import RetrievedChunk, Source
from store.records import PageText, StoredChunk
from tests.app.test_verify import _page, _pages_as_sources

APPLE = "Apple Inc. | 10-Q"


@pytest.mark.parametrize(
    ("name", "page", "first", "columns"),
    [
        # the range on a line of its own above the figures ("June 4, 2023 to July 1, 2023:")
        ("2023 Q3 AAPL.pdf", 24, ("2023-04-02", "2023-05-06", "38,121", "165.46"), 3),
        # the range and figures on one line ("July 31, 2023 - August 27, 2023 2.2 $ 444.16 2.2 $ 27.95")
        ("2023 Q3 NVDA.pdf", 46, ("2023-07-31", "2023-08-27", "2.2", "444.16"), 4),
        ("2023 Q3 MSFT.pdf", 58, ("2023-07-01", "2023-07-31", "4,176,800", "341.81"), 4),
    ],
)
def test_the_monthly_repurchase_table_is_read_by_its_columns(
    name: str, page: int, first: tuple[str, str, str, str], columns: int
) -> None:
    rows = repurchase_rows(_page(name, page))
    assert len(rows) == 3
    start, end, shares, price = first
    row = rows[0]
    assert (row.start.isoformat(), row.end.isoformat()) == (start, end) and len(row.cells) == columns
    assert (row.cells[0].column, row.cells[0].value) == ("Total number of shares purchased", shares)
    assert (row.cells[1].column, row.cells[1].value, row.cells[1].dollars) == (
        "Average price paid per share",
        price,
        True,
    )


def test_a_page_without_the_table_has_no_repurchase_rows() -> None:
    assert repurchase_rows(_page("2023 Q3 AAPL.pdf", 4)) == []  # the income statement


@pytest.mark.parametrize(
    ("name", "page", "question", "expected"),
    [
        (
            "2023 Q3 AAPL.pdf",
            24,
            "苹果在2023年6月4日到7月1日这段时间回购股票，平均每股花了多少钱？",
            "Average price paid per share: $184.34",
        ),
        (
            "2022 Q3 AAPL.pdf",
            23,
            "What average price per share did Apple pay for the shares it bought back"
            " between May 29 and June 25, 2022?",
            "Average price paid per share: $139.06",
        ),
        (
            "2023 Q3 MSFT.pdf",
            58,
            "How many shares did Microsoft buy back in August 2023?",
            "Total number of shares purchased: 5,401,235",
        ),
    ],
)
def test_a_repurchase_figure_asked_for_a_date_is_the_cell_of_its_range_and_column(
    name: str, page: int, question: str, expected: str
) -> None:
    """Apple's June repurchases were answered with the nine months' "Repurchases of common stock" from
    the cash flow statement (page 8), which sits beside the table here as it did in the search."""
    sources = (
        _pages_as_sources(name, "10-Q", 8, page)
        if name.startswith("2023 Q3 AAPL")
        else _pages_as_sources(name, "10-Q", page)
    )
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and expected in extracted.text
    assert extracted.citation.page == page


@pytest.mark.parametrize(
    ("name", "pages", "question"),
    [
        # a longer period than a range, though it ends on a range's last day
        (
            "2023 Q3 AAPL.pdf",
            (8, 24),
            "How much did Apple spend on share repurchases in the nine months ended July 1, 2023?",
        ),
        # no column's figure: how much of an authorization was used by a day in the last range
        ("2023 Q1 AAPL.pdf", (24,), "到2022年12月31日，苹果2022年4月批的那笔900亿美元回购授权已经用掉了多少？"),
    ],
)
def test_a_repurchase_question_no_cell_answers_gets_none(name: str, pages: tuple[int, ...], question: str) -> None:
    extracted = Extractor().extract(question, _pages_as_sources(name, APPLE, *pages))
    assert extracted is None or "Share repurchases," not in extracted.text


def test_a_schedule_of_future_payments_keeps_its_heading_down_to_its_total() -> None:
    """ "2024 3,417" ... "Thereafter 8,198" were read as header lines, and the "Total $ 18,957" under
    them lost the schedule's heading; the question's "总共" (in all) was answered with the first year."""
    rows = {row.label: row for row in table_rows(_page("2023 Q3 AAPL.pdf", 15))}
    assert rows["2025"].cells == ("1,990",) and rows["Total"].section == "Unconditional Purchase Obligations"
    question = (
        "截至2023年7月1日，苹果那些不可撤销的无条件购买义务（unconditional purchase obligations）以后总共还要付多少钱？"
    )
    extracted = Extractor().extract(question, _pages_as_sources("2023 Q3 AAPL.pdf", APPLE, 15))
    assert extracted is not None and "Total: $18,957 million" in extracted.text


def test_a_notes_table_is_named_by_the_sentence_leading_into_it_over_two_lines() -> None:
    """ "Stock-based compensation expense is as" / "follows (in millions):" names the rows below it:
    the stock-based compensation in technology and content, not the income statement's whole line."""
    rows = [row for row in table_rows(_page("2023 Q1 AMZN.pdf", 16)) if row.label == "Technology and content"]
    assert [row.heading for row in rows] == ["Stock-based compensation expense"]
    question = "亚马逊2023年1-3月那个季度，记在技术与内容（technology and content）里的股权激励费用是多少？"
    extracted = Extractor().extract(question, _pages_as_sources("2023 Q1 AMZN.pdf", "Amazon.com, Inc. | 10-Q", 4, 16))
    assert extracted is not None and "$2,574 million" in extracted.text and extracted.citation.page == 16


def test_a_sentence_beside_the_chunk_found_on_its_page_answers() -> None:
    """NVIDIA's summary page: the search found its opening (the summary table and Data Center's
    paragraph); "Automotive revenue was up 86% from a year ago" lies further down the same page."""
    text = _page("2022 Q3 NVDA.pdf", 28)
    cut = text.index("Gaming revenue was down")
    chunk = StoredChunk(1, 1, "2022 Q3 NVDA.pdf", 0, "NVIDIA Corporation | 10-Q", text[:cut], 28, 28, 0, cut)
    sources = [Source(1, RetrievedChunk(chunk, 1.0))]
    question = "nvidia automotive revenue growth yoy in the quarter ended oct 2022?"
    alone = Extractor().extract(question, sources)
    assert alone is None or "86%" not in alone.text  # the chunk read alone does not hold it
    with_page = Extractor(context=lambda _: PageText(text, 0, ((0, 28),))).extract(question, sources)
    assert with_page is not None and "Automotive revenue was up 86% from a year ago" in with_page.text
    assert with_page.citation.page == 28


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "In the third quarter of fiscal 2024, what share of NVIDIA revenue came from its largest customer?",
            "Customer A, represented 12% of total revenue for the third quarter of fiscal year 2024",
        ),
        (
            "英伟达2024财年第三季度计提了多少存货准备？",
            "In the third quarter of fiscal year 2024, provisions for inventory",
        ),
    ],
)
def test_a_sentence_of_another_fiscal_year_than_asked_is_no_answer(question: str, expected: str) -> None:
    """NVIDIA's concentration note tells this year's third quarter and then last year's ("In the third
    quarter of fiscal year 2023, one customer represented 10%"), which answered for fiscal 2024."""
    sources = _pages_as_sources("2023 Q3 NVDA.pdf", "NVIDIA Corporation | 10-Q", 24, 28)
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and expected in extracted.text
    assert "fiscal year 2023, one customer" not in extracted.text
