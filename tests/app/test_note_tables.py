"""Figures in the notes, as people ask for them: the total of a schedule of future payments, a
note's table named by the sentence leading into it, and a sentence on the page beside the chunk the
search found.
Questions of the apart-written batch l, on real pages of the shared filings."""

from app.chain.extract import Extractor
from app.chain.tables import table_rows
from app.types import RetrievedChunk, Source
from store.records import PageText, StoredChunk
from tests.app.test_verify import _page, _pages_as_sources

APPLE = "Apple Inc. | 10-Q"


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
