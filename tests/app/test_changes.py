"""A change asked for ("how much did ... grow", "同比降了多少") is answered by a change column, measured
as asked (year over year unless the question says the quarter before). Real pages of the shared
filings."""

import pytest

from app.chain.extract import Extractor, Question, render_row
from app.chain.tables import table_rows
from app.retrieval.changes import asks_for_change
from tests.app.test_verify import _page, _pages_as_sources


def test_a_change_column_named_above_the_two_years_is_the_last_column() -> None:
    """Microsoft prints "Percentage Change" above "2023 2022": its summary table's rows had no
    period at all, so a change asked was answered from the income statement's amounts."""
    row = next(r for r in table_rows(_page("2023 Q3 MSFT.pdf", 33)) if r.label == "Operating income")
    assert row.cells == ("26,895", "21,518", "25%")
    assert [p.change if p else None for p in row.periods] == [False, False, True]
    assert render_row(row, 2) == (
        "Operating income: up 25% for the three months ended September 30, 2023 ($26,895 million; "
        "$21,518 million for the three months ended September 30, 2022)"
    )


def test_each_change_column_says_what_it_is_measured_against() -> None:
    """NVIDIA prints a quarter-over-quarter and a year-over-year change (the header over two lines)."""
    row = next(r for r in table_rows(_page("2022 Q3 NVDA.pdf", 28)) if r.label == "Net income")
    assert row.cells[3:] == ("4 %", "(72)%")
    assert [p.against for p in row.periods[3:] if p] == ["quarter", "year"]
    assert render_row(row, 4) == (
        "Net income: down 72% year over year for the three months ended October 30, 2022 ($680 million; $656 "
        "million for the three months ended July 31, 2022; $2,464 million for the three months ended October 31, 2021)"
    )
    assert render_row(row, 3).startswith("Net income: up 4% on the quarter before for the three months ended")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("英伟达截至2023年4月那个季度，总收入同比降了多少？", "Revenue: down 13% year over year"),
        ("how much did nvidia's revenue grow in the april 2023 quarter?", "Revenue: down 13% year over year"),
        ("how much did nvidia's revenue grow from the previous quarter in april 2023?", "Revenue: up 19% on the"),
    ],
)
def test_a_change_is_measured_against_the_year_ago_quarter_unless_the_question_says_otherwise(
    question: str, expected: str
) -> None:
    """"同比" was answered with NVIDIA's first change column, the change on the quarter before."""
    extracted = Extractor().extract(question, _pages_as_sources("2023 Q1 NVDA.pdf", "NVIDIA | 10-Q", 25))
    assert extracted is not None and expected in extracted.text


def test_a_change_asked_prefers_the_row_that_gives_it_over_the_statements_amounts() -> None:
    """The income statement (page 3, found first) prints the amounts; the MD&A's summary the change."""
    sources = _pages_as_sources("2023 Q3 MSFT.pdf", "Microsoft | 10-Q", 3, 33)
    question = "how much did microsoft's operating income grow in the july-sept 2023 quarter?"
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and extracted.text.startswith("Operating income: up 25%")
    assert extracted.citation.page == 33


def test_a_change_asked_is_told_by_its_verbs_in_either_language() -> None:
    assert asks_for_change("did microsoft's profit go down in the sept 2022 quarter?")
    assert asks_for_change("英特尔今年第一季度总收入比去年同期掉了百分之多少？")
    assert not asks_for_change("What was Apple's revenue in the quarter?")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("NVIDIA automotive revenue growth yoy, quarter ended October 2022?", "Automotive revenue was up 86%"),
        ("How much did NVIDIA's Professional Visualization sales drop from a year earlier, October 2022?", "65%"),
        ("What was NVIDIA's revenue change from a year ago in the quarter ended October 30, 2022?", "down 17%"),
    ],
)
def test_a_business_line_named_in_english_is_answered_by_its_own_line_not_the_total(
    question: str, expected: str
) -> None:
    """The total's row ("Revenue: down 17% year over year") shares the words of a question about one
    business line; the line's own sentence says its change ("Automotive revenue was up 86% from a year
    ago"), which answers "growth" and "yoy" in its own words."""
    extracted = Extractor().extract(question, _pages_as_sources("2022 Q3 NVDA.pdf", "NVIDIA | 10-Q", 28))
    assert extracted is not None and expected in extracted.text, extracted


def test_a_sentence_saying_how_much_a_figure_moved_does_not_answer_what_it_was() -> None:
    """"Changes in foreign exchange rates reduced fulfillment costs by $396 million" (the MD&A, found
    first) gives a move; the income statement gives the costs asked for. Asked for the effect, the
    sentence answers."""
    sources = _pages_as_sources("2023 Q1 AMZN.pdf", "Amazon | 10-Q", 28, 4)
    extracted = Extractor().extract("What were Amazon's fulfillment costs in Q1 2023?", sources)
    assert extracted is not None and "20,905" in extracted.text and extracted.citation.page == 4
    question = "How much did foreign exchange rates reduce Amazon's fulfillment costs in Q1 2023?"
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and "396" in extracted.text and extracted.citation.page == 28


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("亚马逊2023年第二季度销售额同比增长了多少？", "Consolidated: 11%"),
        ("亚马逊2023年第二季度北美销售额同比增长了多少？", "North America: 11%"),
        ("亚马逊2023年第二季度AWS销售额同比增长了多少？", "AWS: 12%"),
    ],
)
def test_a_chinese_question_naming_no_business_line_gets_the_companys_own_growth(question: str, expected: str) -> None:
    """Amazon's growth table lists North America, International and AWS before "Consolidated": a
    question naming none of them asks for the company's, not the first line's."""
    extracted = Extractor().extract(question, _pages_as_sources("2023 Q2 AMZN.pdf", "Amazon | 10-Q", 24))
    assert extracted is not None and expected in extracted.text, extracted


def test_sales_asked_of_a_company_that_says_revenue_is_its_revenue_row() -> None:
    """"销售额" glosses as "net sales"; Intel's statement says "Net revenue", so only "net" matched and
    "Other, net" (page 14) was answered."""
    sources = _pages_as_sources("2023 Q3 INTC.pdf", "Intel | 10-Q", 14, 6)
    extracted = Extractor().extract("英特尔2023年前九个月的销售额是多少？", sources)
    assert extracted is not None and "Net revenue: $38,822 million for the nine months" in extracted.text


def test_a_growth_asked_is_the_growth_tables_row_not_the_sales_mix() -> None:
    """"国际业务销售额同比涨了多少": Amazon's page prints the segments' share of sales ("Net sales mix",
    22%) and their "Year-over-year Percentage Growth" (10%); the mix matched "net sales" and won."""
    sources = _pages_as_sources("2023 Q2 AMZN.pdf", "Amazon | 10-Q", 24)
    extracted = Extractor().extract("亚马逊2023年4-6月国际业务销售额同比涨了多少？", sources)
    assert extracted is not None and "Growth (Decline) — International: 10%" in extracted.text


def test_a_sentence_saying_how_much_the_total_moved_answers_a_change_asked_of_it() -> None:
    """Intel's "A Quarter in Review" (p5): "Total revenue ... was down $2.4 billion or 15% from Q2
    2022" says the fall asked for in other words than the question's ("降", "百分之"); the income
    statement's amounts beside it (p6) say no change at all."""
    sources = _pages_as_sources("2023 Q2 INTC.pdf", "Intel Corporation | 10-Q", 6, 5)
    extracted = Extractor().extract("英特尔2023年第二季度总收入比去年同期降了百分之多少？", sources)
    assert extracted is not None and "or 15% from Q2 2022" in extracted.text, extracted


def test_a_cost_line_is_no_answer_for_sales() -> None:
    """Amazon's operating expense table grows "Cost of sales" 12%; the company's sales grew 15% (p24).
    A cost's line says "sales" and is no line of sales, nor is "Sales and marketing"."""
    sources = _pages_as_sources("2022 Q3 AMZN.pdf", "Amazon.com | 10-Q", 26, 24)
    extracted = Extractor().extract("亚马逊2022年7到9月那个季度，整体销售额同比增长了多少？", sources)
    assert extracted is not None and "Consolidated: 15% for the three months ended September 30, 2022" in extracted.text
    assert extracted.citation.page == 24


def test_a_line_named_in_latin_letters_is_answered_by_the_sentence_saying_its_change() -> None:
    """"微软云（Microsoft Cloud）收入同比增长了多少": the highlight says "Microsoft Cloud revenue increased
    22%"; "Office Commercial products and cloud services revenue increased 13%" held "growth"."""
    sources = _pages_as_sources("2023 Q2 MSFT.pdf", "Microsoft | 10-Q", 32)
    question = "微软2023财年第三季度（2023年1-3月）微软云（Microsoft Cloud）收入同比增长了多少？"
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and "Microsoft Cloud revenue increased 22%" in extracted.text


def test_a_sentence_is_of_the_months_its_section_heading_compares() -> None:
    """Under "Nine Months Ended March 31, 2023 Compared with ..." (p39) LinkedIn grew 11%; in the
    quarter's highlights (p32), 8%. Neither sentence names its months."""
    sources = _pages_as_sources("2023 Q2 MSFT.pdf", "Microsoft | 10-Q", 39, 32)
    question = "How much did Microsoft's LinkedIn revenue grow in the quarter ended March 31, 2023?"
    candidates = Extractor().candidates(Question.parse(question), sources)
    by_text = {c.text: c.score for c in candidates}
    quarter = by_text["“LinkedIn revenue increased 8%.”"]
    nine_months = next(score for text, score in by_text.items() if "LinkedIn revenue increased $1.1 billion" in text)
    assert quarter > nine_months


def test_a_charts_caption_over_several_lines_is_one_statement() -> None:
    """Intel's "A Quarter in Review" captions its charts without full stops: "Diluted EPS /
    attributable to / Intel down / $0.18 or 72% / from Q3 2022", then the non-GAAP one "up $0.04"."""
    sources = _pages_as_sources("2023 Q3 INTC.pdf", "Intel | 10-Q", 5)
    question = "By what percentage did Intel's GAAP diluted EPS drop in Q3 2023 compared with Q3 2022?"
    extracted = Extractor().extract(question, sources)
    caption = "Diluted EPS attributable to Intel down $0.18 or 72% from Q3 2022"
    assert extracted is not None and caption in extracted.text, extracted


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("英伟达2024财年第二季度营收环比（跟上一个季度比）涨了多少？", "Revenue: up 88% on the quarter before"),
        ("英伟达2024财年第二季度营收同比涨了多少？", "101%"),
    ],
)
def test_a_change_on_the_quarter_before_is_not_the_sentences_year_on_year(question: str, expected: str) -> None:
    """MD&A's "Revenue ... was $13.51 billion ..., up 101%" is on the year ago; "环比" asks the summary
    table's quarter-over-quarter column (p27)."""
    sources = _pages_as_sources("2023 Q2 NVDA.pdf", "NVIDIA | 10-Q", 29, 27)
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and expected in extracted.text, extracted


def test_a_question_naming_no_business_line_gets_the_segments_total() -> None:
    """NVIDIA's segment table prints a change for Compute & Networking, Graphics and their Total,
    all alike to "how much did revenue grow": the company's is the Total (its name is no line's)."""
    sources = _pages_as_sources("2023 Q3 NVDA.pdf", "NVIDIA | 10-Q", 30)
    question = "By how much did NVIDIA's revenue grow year over year in Q3 of fiscal 2024?"
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and "Total: up 206%" in extracted.text, extracted


@pytest.mark.parametrize(
    ("question", "answered"),
    [
        ("英特尔2023年第二季度总收入比去年同期降了百分之多少？", False),  # revenue: not the expenses' 12%
        ("英特尔2023年第二季度研发和MG&A费用合计多少？", True),  # the expenses, asked
    ],
)
def test_a_change_of_another_measure_than_asked_is_no_answer(question: str, answered: bool) -> None:
    """Intel's operating expenses page: "Total R&D and MG&A expenses for Q2 2023 were $5.5 billion,
    down 12% from Q2 2022" answered how much Intel's revenue fell; "Q2 2023 vs. Q2 2022 R&D decreased
    by $320 million, or 7%" after it. Their subjects are costs, which the question does not ask."""
    extracted = Extractor().extract(question, _pages_as_sources("2023 Q2 INTC.pdf", "Intel Corporation | 10-Q", 35))
    said = extracted is not None and "Total R&D and MG&A expenses for Q2 2023 were $5.5 billion" in extracted.text
    assert said == answered
    assert extracted is None or answered or "R&D decreased by $320 million" not in extracted.text


def test_a_paragraph_that_breaks_after_a_figure_is_no_table_row() -> None:
    """Intel's MD&A, page 33: "... from the FPGA product line. NEX revenue decreased 38%" then "from
    Q2 2022 and decreased 34% ...". Read as a row ("NEX revenue decreased: 38%"), it answered how
    much Intel's total revenue fell; the page's own sentence says it: 15%."""
    sources = _pages_as_sources("2023 Q2 INTC.pdf", "Intel Corporation | 10-Q", 33)
    assert not [row for row in table_rows(sources[0].chunk.text) if "NEX revenue" in row.label]
    total = Extractor().extract("英特尔2023年第二季度总收入比去年同期降了百分之多少？", sources)
    assert total is not None and "Our Q2 2023 revenue was $12.9 billion, down $2.4 billion or 15%" in total.text
    line = Extractor().extract("英特尔2023年第二季度NEX收入同比降了多少？", sources)
    assert line is not None and "NEX revenue decreased 38% from Q2 2022" in line.text


@pytest.mark.parametrize(
    ("question", "answered"),
    [
        ("英特尔今年第一季度（2023年）总收入比去年同期掉了百分之多少？", False),  # revenue, not units
        ("How much did Intel's server volume fall in Q1 2023?", True),
    ],
)
def test_a_change_in_units_is_no_change_in_revenue(question: str, answered: bool) -> None:
    """Intel's client and data center page: "Server volume decreased 50% in Q1 2023" answered how much
    Intel's total revenue fell. Volumes, unit sales and ASPs count units and prices, not money."""
    extracted = Extractor().extract(question, _pages_as_sources("2023 Q1 INTC.pdf", "Intel Corporation | 10-Q", 26))
    said = extracted is not None and "Server volume decreased 50% in Q1 2023" in extracted.text
    assert said == answered
