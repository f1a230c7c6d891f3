"""What a question names must be what the answer is about: a product ("Azure", "H100"), a country
("德国"), everywhere but a country ("outside the US"). A company's total is no answer for any of
them. Round 16's questions, on real pages of the shared filings."""

import re
from dataclasses import replace

import pytest

from app.chain.extract import Extractor, Question
from app.chain.facts import asks_for_a_count
from app.retrieval.glossary import excepted_segments, named_segments
from app.types import RetrievedChunk, Source
from store.records import PageText
from tests.app.test_verify import _pages_as_sources

MICROSOFT = "Microsoft Corporation | 10-Q"


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("What was Azure's operating income in Microsoft's July-September 2023 quarter?", {"azure"}),
        ("How many H100 did NVIDIA ship in FY2024 Q2?", {"h100"}),
        ("英伟达2023年5-7月那个季度一共卖出了多少块H100？", {"h100"}),
        ("英伟达FY24 Q3的营收是多少？", set()),  # a period, not a name
        ("What was the Company's revenue in the quarter ended Sept 30, 2023?", set()),
        ("How much cash did Acme have at the end of September 2023?", {"acme"}),  # a company the glossary does not know
    ],
)
def test_what_a_question_names_as_such(question: str, names: set[str]) -> None:
    assert Question.parse(question).proper_names == names


def test_a_product_named_is_not_answered_by_the_companys_total() -> None:
    """p3 is Microsoft's income statement: its "Operating income" is the company's, not Azure's,
    which no page of the filing gives."""
    sources = _pages_as_sources("2023 Q3 MSFT.pdf", MICROSOFT, 3)
    extracted = Extractor().extract(
        "What was Azure's operating income in Microsoft's July-September 2023 quarter?", sources
    )
    assert extracted is None or "26,895" not in extracted.text, extracted


def test_a_country_no_table_names_is_not_answered_by_the_companys_total() -> None:
    """Intel reports no revenue for Germany: its "Net revenue" row (p6) was given as Germany's."""
    sources = _pages_as_sources("2023 Q3 INTC.pdf", "Intel Corporation | 10-Q", 6)
    extracted = Extractor().extract("英特尔2023年7-9月那个季度在德国的营收是多少？", sources)
    assert extracted is None or "14,158" not in extracted.text, extracted


@pytest.mark.parametrize(
    ("question", "excepted", "named"),
    [
        ("How much of Microsoft's revenue came from other countries (outside the US)?", ("united states",), ""),
        ("What was non-U.S. revenue?", ("united states",), ""),
        ("微软美国以外的收入是多少？", ("united states",), ""),
        ("除美国外，微软的收入是多少？", ("united states",), ""),
        ("微软在美国的收入是多少？", (), "united states"),
        ("英特尔在德国的营收是多少？", (), "germany"),
        ("What was Intel's revenue in Germany?", (), "germany"),
    ],
)
def test_a_region_asked_all_but(question: str, excepted: tuple[str, ...], named: str) -> None:
    assert excepted_segments(question) == excepted
    assert named_segments(question) == named


def test_everywhere_but_a_country_is_not_that_countrys_row() -> None:
    """p27 lists revenue by "United States (a)" and "Other countries": the question's "US" is the
    one country it leaves out."""
    sources = _pages_as_sources("2022 Q3 MSFT.pdf", MICROSOFT, 27)
    question = (
        "How much of Microsoft's revenue came from other countries (outside the US) in the quarter "
        "ended September 30, 2022?"
    )
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and "Other countries: $24,255 million" in extracted.text, extracted


@pytest.mark.parametrize(
    ("question", "counts"),
    [
        ("英伟达那个季度一共卖出了多少块H100？", True),
        ("这台电脑多少块钱？", False),  # a price
        ("苹果卖了多少部iPhone？", True),
        ("英特尔有多少片晶圆？", True),
    ],
)
def test_chinese_counters_ask_how_many(question: str, counts: bool) -> None:
    assert asks_for_a_count(question) is counts


def test_a_count_of_chips_is_not_answered_by_a_share_of_revenue() -> None:
    """p30 gives each segment's expenses as a "% of net revenue": no count of anything."""
    sources = _pages_as_sources("2023 Q2 NVDA.pdf", "NVIDIA Corporation | 10-Q", 30, 3)
    extracted = Extractor().extract("英伟达2023年5-7月那个季度一共卖出了多少块H100？", sources)
    assert extracted is None or ("%" not in extracted.text and "$" not in extracted.text), extracted


def test_a_fiscal_quarter_in_chinese_is_a_quarter() -> None:
    """ "第三财季": the three months, whose segment row answers (p18), not a sentence about why it rose."""
    asked = Question.parse("苹果FY23第三财季（2023年4月到6月底）欧洲市场收入有多少？")
    assert asked.group == "three" and "fy23" not in asked.subject_terms(
        _pages_as_sources("2023 Q3 AAPL.pdf", "Apple Inc. | 10-Q", 18)[0].chunk
    )
    sources = _pages_as_sources("2023 Q3 AAPL.pdf", "Apple Inc. | 10-Q", 18)
    extracted = Extractor().extract(asked.text, sources)
    assert extracted is not None and "Europe: $20,205 million" in extracted.text, extracted


def test_a_street_address_is_a_place_and_the_form_number_no_figure() -> None:
    """Amazon's cover (p1) prints the address over "(Address and telephone number ...)"."""
    question = "what street address does amazon list for its principal executive offices on the 10-q cover?"
    assert Question.parse(question).wants == "place"
    assert Question.parse("哪个软件包可以封禁多次认证失败的 IP 地址？").wants != "place"  # an IP address
    sources = _pages_as_sources("2022 Q3 AMZN.pdf", "Amazon.com, Inc. | 10-Q", 1)
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and "410 Terry Avenue North" in extracted.text, extracted


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("截至2022年10月20日，微软有多少股普通股在外流通？", "7,454,473,144 shares"),
        ("How many shares of Microsoft were outstanding as of October 20, 2022?", "7,454,473,144 shares"),
        # asked for, the average answers
        ("What were Microsoft's weighted average shares outstanding in the quarter ended September 30, 2022?", "7,457"),
    ],
)
def test_the_shares_outstanding_on_a_day_are_not_the_quarters_weighted_average(question: str, expected: str) -> None:
    """p11's "Weighted average outstanding shares of common stock" (7,457 million) matched every word
    of the question; the cover (p1) gives the count on the day asked."""
    sources = _pages_as_sources("2022 Q3 MSFT.pdf", MICROSOFT, 11, 1)
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and expected in extracted.text, extracted


@pytest.mark.parametrize(
    "question",
    [
        "苹果2022年10到12月那季，销售、一般及管理费用（SG&A）花了多少？",
        "苹果截至2023年4月1日，固定资产净值（PP&E, net）有多少？",  # "net": English glossing a word
        "截至2022年12月31日，苹果资产负债表上的商业票据（commercial paper）余额是多少？",
    ],
)
def test_an_acronym_or_a_gloss_in_a_chinese_question_is_no_name(question: str) -> None:
    """ "SG&A" reads as the terms "sg" and "a": taken for a name, no row held it and every answer was refused."""
    assert Question.parse(question).proper_names == frozenset()


def test_a_line_asked_by_its_acronym_in_chinese_is_its_row() -> None:
    sources = _pages_as_sources("2023 Q1 AAPL.pdf", "Apple Inc. | 10-Q", 4)
    extracted = Extractor().extract("苹果2022年10到12月那季，销售、一般及管理费用（SG&A）花了多少？", sources)
    assert extracted is not None and "6,607" in extracted.text, extracted


def test_the_day_a_quarter_ran_to_is_its_end() -> None:
    from app.retrieval.cover import asks_for_period_end

    assert asks_for_period_end("英伟达2023财年第三季度是截至哪一天的？")
    assert not asks_for_period_end("英伟达2023财年第三季度的营收是多少？")


def test_a_stock_split_asked_in_chinese_is_the_filings_split() -> None:
    """拆股 / 生效: "we effected a 20-for-1 stock split" (p7)."""
    sources = _pages_as_sources("2022 Q3 AMZN.pdf", "Amazon.com, Inc. | 10-Q", 7)
    extracted = Extractor().extract("亚马逊2022年三季度报告里提到的20拆1拆股，是哪天生效的？", sources)
    assert extracted is not None and "May 27, 2022" in extracted.text, extracted


@pytest.mark.parametrize(
    "question",
    [
        "What was the average selling price of an iPhone in Apple's quarter ended July 1, 2023?",
        "苹果2023年4到6月那季iPhone的平均售价是多少？",
    ],
)
def test_a_price_asked_is_not_answered_by_revenue(question: str) -> None:
    """Apple reports no iPhone price; its "iPhone" net sales row (p4) shares the question's other
    words and was given as the price. A price, users or subscribers are named by what answers them."""
    sources = _pages_as_sources("2023 Q3 AAPL.pdf", "Apple Inc. | 10-Q", 4)
    extracted = Extractor().extract(question, sources)
    assert extracted is None or "39,669" not in extracted.text, extracted


def test_a_user_account_asked_is_no_count_of_users() -> None:
    """"用户" in a manual question is an account, not users counted: a sentence naming no users answers."""
    assert Question.parse("练习用的用户账号不要了，用什么命令可以连同它的主目录一起删除？").terms.isdisjoint(
        {"users", "active"}
    )


def test_subscribers_asked_are_answered_by_the_sentence_naming_them() -> None:
    sources = _pages_as_sources("2023 Q2 MSFT.pdf", MICROSOFT, 38)
    question = "How many Microsoft 365 Consumer subscribers were there in the March 2023 quarter?"
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and "65.4 million" in extracted.text, extracted


def test_a_name_asked_is_quoted_to_the_end_of_its_sentence() -> None:
    """The pair of lines ending "... a business within our IFS operating segment, to Bain" held every
    word the whole sentence did and outranked it, cutting the buyer's name in half."""
    sources = _pages_as_sources("2023 Q3 INTC.pdf", "Intel Corporation | 10-Q", 13)
    extracted = Extractor().extract("英特尔在2023年8月把IMS Nanofabrication约20%的少数股权卖给了谁？", sources)
    assert extracted is not None and "to Bain Capital Special Situations" in " ".join(extracted.text.split())


def test_a_sentence_running_on_to_the_next_line_is_quoted_to_its_end() -> None:
    """The pair of lines "Share Repurchase Program" / "During the nine months ... excluding excise tax
    due under" held every word asked and outranked the whole sentence, whose last line ("the Inflation
    Reduction Act of 2022.") goes on in lower case: the quote stopped at "due under"."""
    sources = _pages_as_sources("2023 Q3 AAPL.pdf", "Apple Inc. | 10-Q", 14)
    extracted = Extractor().extract("How many shares did Apple buy back?", sources)
    assert extracted is not None and "365 million shares" in extracted.text
    assert "due under the Inflation Reduction Act of 2022.”" in " ".join(extracted.text.split())


def test_a_sentence_the_chunk_cuts_is_read_on_in_its_page() -> None:
    """A chunk that ends inside a sentence: the rest is on the page (the next chunk), and the quote
    is the whole sentence, not the part this chunk holds."""
    page = _pages_as_sources("2023 Q3 AAPL.pdf", "Apple Inc. | 10-Q", 14)[0].chunk
    cut = page.text.index("due under") + len("due under")
    chunk = replace(page, text=page.text[:cut], char_end=cut)
    sources = [Source(1, RetrievedChunk(chunk, 1.0))]
    whole_page = Extractor(lambda c: PageText(page.text, 0, ((0, 14),)))
    extracted = whole_page.extract("How many shares did Apple buy back?", sources)
    assert extracted is not None and "Inflation Reduction Act of 2022.”" in " ".join(extracted.text.split())
    alone = Extractor().extract("How many shares did Apple buy back?", sources)  # no page to read on in
    assert alone is not None and "Inflation" not in alone.text


@pytest.mark.parametrize(
    ("question", "name"),
    [("Who is Intel's CEO?", "Patrick P. Gelsinger"), ("英特尔的首席执行官是谁？", "Patrick P. Gelsinger")],
)
def test_a_role_asked_is_answered_by_its_signer_not_the_signature_lines(question: str, name: str) -> None:
    """The signature page's lines ("Date: October 26, 2023 By: /s/ PATRICK P. GELSINGER Patrick P.
    Gelsinger Chief Executive Officer ... By: /s/ DAVID ZINSNER David Zinsner") read as one sentence
    outranked the block read as a signer, and named two people for one role."""
    sources = _pages_as_sources("2023 Q3 INTC.pdf", "Intel Corporation | 10-Q", 54)
    extracted = Extractor().extract(question, sources)
    assert extracted is not None  # (a Chinese question's answer opens with a note that the quote is English)
    assert extracted.text.splitlines()[-1].startswith(f"{name}, Chief Executive Officer"), extracted.text
    assert "/s/" not in extracted.text and "Zinsner" not in extracted.text


def test_a_rows_first_line_under_its_heading_is_no_sentence() -> None:
    """"Client Computing" / "Desktop $ 1,879 $ 2,641" (a heading and the first row below it, with no
    full stop) was quoted as a sentence for Intel's Client Computing Group revenue, outranking the
    group's total row."""
    sources = _pages_as_sources("2023 Q1 INTC.pdf", "Intel Corporation | 10-Q", 12)
    extracted = Extractor().extract("What was Intel's Client Computing Group revenue in Q1 2023?", sources)
    assert extracted is not None and "5,767" in extracted.text and "1,879" not in extracted.text, extracted.text


def test_a_signers_title_run_into_the_next_sentence_is_no_answer() -> None:
    """NVIDIA's certification: "President and Chief Executive Officer" / "A signed original of this written
    statement required by Section 906 ... upon request." (one sentence where the page is read from its
    chunks joined, the blank line between them gone) outranked the signer it is the title of, once a
    sentence's last line was taken in."""
    page = _pages_as_sources("2022 Q3 NVDA.pdf", "NVIDIA Corporation | 10-Q", 48)[0].chunk
    joined = re.sub(r"Officer\s*\n\s*\n\s*A signed original", "Officer\nA signed original", page.text)
    assert joined != page.text
    sources = [Source(1, RetrievedChunk(replace(page, text=joined, char_end=len(joined)), 1.0))]
    found = Extractor().candidates(Question.parse("Who is NVIDIA's CEO?"), sources)
    assert any(c.text.startswith("Jen-Hsun Huang, President and Chief Executive Officer") for c in found)
    assert not any("Chief Executive Officer A signed original" in " ".join(c.text.split()) for c in found)
