"""Long analyst questions ("How has Microsoft's total net sales evolved over time?", "... as
reported in these 10-Qs"): the words that say how they ask are not what they are about, and a
heading that repeats their words is no answer."""

from dataclasses import replace

import pytest

from app.chain.extract import Extractor
from app.chain.topic import asks_only, covers_the_rarest, follow_up_terms
from app.chain.verify import AnswerChecker
from app.types import Source
from tests.app.test_chain import chunk, hit
from tests.app.test_verify import _pages_as_sources

TAX = chunk(
    "The Company's effective tax rate for the third quarter of 2023 was lower compared to the third "
    "quarter of 2022 due primarily to a lower effective tax rate on foreign earnings.",
    cid=8,
)
# as measured among the readable chunks of the sec-10-q filings: the filings seldom say "reported"
RARITY = {"reported": 3.76, "effective": 3.22, "tax": 2.46, "rate": 2.38, "apple": 2.3, "period": 1.78}


def test_a_word_saying_how_the_question_asks_is_not_what_it_is_about() -> None:
    """The rarest word of "What is the effective tax rate reported by Apple in these quarters?" is
    "reported", which no answer need hold: the tax rate is what it asks about."""
    question = "What is the effective tax rate reported by Apple in these quarters and how does it compare?"
    sources = [Source(1, hit(TAX))]
    [checked] = AnswerChecker(sources).check(
        "The Company's effective tax rate for the third quarter of 2023 was lower compared to the third "
        "quarter of 2022. [1]",
        question,
        rarity=RARITY,
    )
    assert checked.verified, checked.reason
    assert covers_the_rarest(frozenset(RARITY), {"effective"}, RARITY)
    assert not covers_the_rarest(frozenset(RARITY), {"tax", "rate"}, RARITY)  # the subject's rarest still counts
    quoted = Extractor().extract(question, sources, RARITY)
    assert quoted is not None and "effective tax rate" in quoted.text


@pytest.mark.parametrize(
    ("name", "header", "question", "expected"),
    [
        (
            "2023 Q3 MSFT.pdf",
            "Microsoft Corporation | 10-Q",
            "How has Microsoft's total net sales evolved over time?",
            "Total revenue: $56,517 million for the three months ended September 30, 2023",
        ),
        (
            "2023 Q1 NVDA.pdf",
            "NVIDIA Corporation | 10-Q",
            "How has NVIDIA's total net sales trended over time?",
            "Revenue: $7,192 million for the three months ended April 30, 2023",  # not "Other, net"
        ),
    ],
)
def test_total_net_sales_asked_of_a_company_that_says_revenue(
    name: str, header: str, question: str, expected: str
) -> None:
    """The income statement's revenue line, though "evolved" or "trended" is on no line and "net"
    is on "Other, net"."""
    extracted = Extractor().extract(question, _pages_as_sources(name, header, 3))
    assert extracted is not None and expected in extracted.text, extracted


def test_a_heading_over_its_paragraph_is_not_the_quote() -> None:
    """Page 32 of Microsoft's 2023 Q3 10-Q titles a paragraph "Office Commercial products and cloud
    services revenue growth"; the sentence under it says what that revenue is."""
    sources = _pages_as_sources("2023 Q3 MSFT.pdf", "Microsoft Corporation | 10-Q", 32)
    question = "How did revenue from Office Commercial products and cloud services grow?"
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and extracted.text.startswith("“Revenue from Office Commercial"), extracted


INVENTORY = chunk(
    "Inventories were $11.1 billion at September 30, 2023, down from $13.2 billion at December 31, 2022, "
    "as we reduced inventory levels.",
    cid=9,
)


def test_a_follow_up_clause_is_asked_of_what_the_first_is_about() -> None:
    """ "..., and what might this suggest about their supply chain strategies?" asks about the
    inventory levels of the first clause; an answer about them need not hold "strategies"."""
    question = (
        "How have inventory levels at Intel changed over these quarters, and what might this suggest "
        "about their supply chain strategies?"
    )
    assert follow_up_terms(question) == {"supply", "chain", "strategie"}
    assert follow_up_terms("If so, what are the key drivers?") == frozenset()  # one clause: nothing follows
    assert follow_up_terms("What is the procedure for reporting a lost laptop?") == frozenset()
    rarity = {"strategie": 4.87, "chain": 3.92, "supply": 3.18, "level": 3.02, "inventory": 2.98, "intel": 1.5}
    reply = (
        "Inventories were $11.1 billion at September 30, 2023, down from $13.2 billion at December 31, 2022, "
        "as we reduced inventory levels. [1]"
    )
    [checked] = AnswerChecker([Source(1, hit(INVENTORY))]).check(reply, question, rarity=rarity)
    assert checked.verified, checked.reason
    # asked as the subject, the same word must be held
    subject = "What strategies for its inventory levels does Intel have?"
    [held] = AnswerChecker([Source(1, hit(INVENTORY))]).check(reply, subject, rarity=rarity)
    assert not held.verified and "“strategie”" in held.reason


@pytest.mark.parametrize(
    ("term", "asks_how"),
    [
        ("reported", True),
        ("gleaned", True),
        ("evolved", True),
        ("alteration", True),
        ("laptop", False),
        ("gift", False),
        ("need", False),
        ("speed", False),
        ("revenue", False),
    ],
)
def test_a_participle_or_a_word_of_asking_is_no_subject(term: str, asks_how: bool) -> None:
    assert asks_only(term) == asks_how


def _filings(pages: list[tuple[str, int]], header: str) -> list[Source]:
    """Real pages of several filings, each its own document, in the search's order."""
    sources = []
    for n, (name, page) in enumerate(pages, start=1):
        found = _pages_as_sources(name, header, page)[0].retrieved
        sources.append(Source(n, replace(found, chunk=replace(found.chunk, id=n, document_id=n))))
    return sources


def test_a_line_asked_across_quarters_is_quoted_from_each_filing_latest_first() -> None:
    """ "How has Apple's revenue from iPhone sales fluctuated across quarters?": the iPhone line of
    each quarter's filing the search found, with its own citation, not one quarter's alone."""
    pages = [("2023 Q2 AAPL.pdf", 10), ("2023 Q3 AAPL.pdf", 10), ("2023 Q1 AAPL.pdf", 10)]
    sources = _filings(pages, "Apple Inc. | 10-Q")
    trend = Extractor().extract("How has Apple's revenue from iPhone sales fluctuated across quarters?", sources)
    assert trend is not None
    assert trend.text.splitlines() == [
        "iPhone: $39,669 million for the three months ended July 1, 2023 "
        "($40,665 million for the three months ended June 25, 2022) [2]",
        "iPhone: $51,334 million for the three months ended April 1, 2023 "
        "($50,570 million for the three months ended March 26, 2022) [1]",
        "iPhone: $65,775 million for the three months ended December 31, 2022 "
        "($71,628 million for the three months ended December 25, 2021) [3]",
    ]
    assert [(c.document, c.page) for c in trend.citations] == [
        (name, 10) for name in ("2023 Q3 AAPL.pdf", "2023 Q2 AAPL.pdf", "2023 Q1 AAPL.pdf")
    ]
    one = Extractor().extract("What was Apple's iPhone revenue in the quarter ended April 1, 2023?", sources)
    assert one is not None and len(one.text.splitlines()) == 1 and "$51,334 million" in one.text
