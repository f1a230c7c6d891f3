"""Everyday words for what the filings say in their own: "profit" is income, and a Chinese question
about a fine or a patent suit is searched in the filings' English.
Round 14's questions, on real pages of the shared filings."""

import pytest

from app.chain.extract import Extractor
from app.retrieval.glossary import expanded_terms, named_segments
from tests.app.test_verify import _pages_as_sources


@pytest.mark.parametrize(
    ("question", "english"),
    [
        ("亚马逊在意大利被反垄断机构罚了多少钱？", {"italy", "antitrust", "competition", "fine"}),
        ("英特尔跟VLSI的专利官司，法院判英特尔赔多少钱？", {"patent", "lawsuit", "court"}),
        ("亚马逊到2023年6月底还有多少没确认的股权激励费用？", {"unrecognized", "stock", "compensation"}),
        ("did microsoft's profit go down in the sept 2022 quarter? by how much?", {"income"}),
        ("苹果2023年7月那个季度的10-Q是谁签的字？", {"signed"}),  # the signature page's word
        ("这份季报上的签名是谁的？", {"signed", "signature"}),
    ],
)
def test_a_question_is_searched_in_the_filings_words_too(question: str, english: set[str]) -> None:
    assert english <= set(expanded_terms(question))


def test_gross_profit_keeps_its_own_words() -> None:
    assert "income" not in expanded_terms("what was apple's gross profit in the quarter?")


def test_a_profit_asked_is_the_filings_net_income_and_a_fall_asked_is_not_a_rise() -> None:
    """Page 34's summary: operating income up 6%, net income down 14%; asked whether profit went down."""
    sources = _pages_as_sources("2022 Q3 MSFT.pdf", "Microsoft Corporation | 10-Q", 34)
    question = "did microsoft's profit go down in the sept 2022 quarter? by how much?"
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and extracted.text.startswith("Net income: down 14%")


@pytest.mark.parametrize(
    ("question", "lines"),
    [
        ("how much did nvidia's professional visualization revenue fall?", "professional visualization"),
        ("What was NVIDIA's Compute & Networking revenue?", "compute networking"),
        ("Apple's net sales in Greater China last quarter?", "greater china"),  # not China as well
        ("英伟达游戏业务收入多少？", "gaming"),
        ("What was NVIDIA's revenue in the quarter?", ""),
    ],
)
def test_the_business_line_a_question_names_in_either_language(question: str, lines: str) -> None:
    assert named_segments(question) == lines
