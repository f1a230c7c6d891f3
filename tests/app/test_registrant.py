"""A filing's cover states the registrant's state of incorporation, address, telephone, exchange and
trading symbol as a form's labelled fields; questions asking for them in English or Chinese are
answered from those fields, on the real covers of the shared filings."""

from collections.abc import Callable
from dataclasses import replace

import pytest

from app.chain.extract import Extractor
from app.retrieval import RetrievalConfig, Retriever
from app.retrieval.registrant import Field, fields_asked, registrant_facts, states_registrant_facts
from app.types import Source
from ingestion.service import KnowledgeBase
from tests.app.test_verify import _page, _pages_as_sources
from tests.conftest import EVAL

MakeKB = Callable[..., KnowledgeBase]
AAPL_Q2 = EVAL / "sec-10-q" / "docs" / "2023 Q2 AAPL.pdf"


@pytest.mark.parametrize(
    ("name", "incorporation", "exchange", "symbol", "address", "telephone"),
    [
        (
            "2023 Q3 AAPL.pdf",
            "California",
            "The Nasdaq Stock Market LLC",
            "AAPL",
            "Cupertino, California 95014",
            "(408) 996-1010",
        ),
        (
            "2023 Q3 AMZN.pdf",
            "Delaware",
            "Nasdaq Global Select Market",
            "AMZN",
            "Seattle, Washington 98109-5210",
            "(206) 266-1000",
        ),
        (
            "2023 Q2 INTC.pdf",
            "Delaware",
            "Nasdaq Global Select Market",
            "INTC",
            "Santa Clara, California 95054-1549",
            "(408) 765-8080",
        ),
        (
            "2023 Q2 MSFT.pdf",
            "WASHINGTON",
            "NASDAQ",
            "MSFT",
            "REDMOND, WASHINGTON 98052-6399",
            "(425) 882-8080",
        ),  # no address label
        (
            "2023 Q3 NVDA.pdf",
            "Delaware",
            "The Nasdaq Global Select Market",
            "NVDA",
            "Santa Clara, California 95051",
            "(408) 486-2000",
        ),
    ],
)
def test_the_covers_fields_are_read_as_printed(
    name: str, incorporation: str, exchange: str, symbol: str, address: str, telephone: str
) -> None:
    cover = _page(name, 1)
    assert states_registrant_facts(cover)
    stated = {s.field: s for s in registrant_facts(cover)}
    assert stated[Field.INCORPORATION].value == incorporation
    assert stated[Field.EXCHANGE].value == exchange
    assert stated[Field.SYMBOL].value == symbol
    assert stated[Field.ADDRESS].value.endswith(address) and "(" not in stated[Field.ADDRESS].value
    assert stated[Field.TELEPHONE].value == telephone
    for s in stated.values():  # what is quoted holds the value: the citation shows it
        assert s.value.split(",")[-1].strip() in cover[s.start : s.end]


def test_a_page_without_a_cover_states_nothing() -> None:
    balance_sheet = _page("2023 Q3 MSFT.pdf", 5)
    assert not states_registrant_facts(balance_sheet) and registrant_facts(balance_sheet) == []


@pytest.mark.parametrize(
    ("question", "fields"),
    [
        ("Which exchange is Apple's common stock registered on?", [Field.EXCHANGE]),
        ("Where is Intel stock traded?", [Field.EXCHANGE]),
        ("亚马逊的普通股在哪个交易所挂牌？", [Field.EXCHANGE]),
        ("英伟达的股票在哪个交易所上市？", [Field.EXCHANGE]),
        ("What is NVIDIA's ticker?", [Field.SYMBOL]),
        ("英伟达的股票代码是什么", [Field.SYMBOL]),
        ("What state is Intel incorporated in?", [Field.INCORPORATION]),
        ("微软是在哪个州注册成立的？", [Field.INCORPORATION]),
        ("Where is Apple headquartered?", [Field.ADDRESS]),
        ("苹果总部地址在哪", [Field.ADDRESS]),
        ("What is Intel's telephone number?", [Field.TELEPHONE]),
        ("What's Microsoft's phone number?", [Field.TELEPHONE]),
        ("英特尔公司的电话是多少？", [Field.TELEPHONE]),
        # a suit over cell phones' radio emissions, a phone sold, a conference call
        ("In the U.S. cell phone radio-emission litigation, how many lawsuits is Microsoft Mobile Oy in?", []),
        ("How many phones did Apple sell?", []),
        ("英伟达的财报电话会议是哪天？", []),
        # not the cover's: currency, the regulator, a trade of shares, a product's launch, a filing's exhibits
        ("How did foreign exchange rates affect Apple's revenue?", []),
        ("What did the Securities and Exchange Commission say about Amazon?", []),
        ("Amazon issued shares in exchange for the acquisition", []),
        ("iPhone 15什么时候上市", []),
        ("2023年5月5日哪位AWS的CEO采用了10b5-1股票交易计划?", []),  # a trading plan, not where it trades
        ("What exhibits are incorporated by reference?", []),
        ("What is a mail exchange record?", []),
        ("在哪里注册Debian账号？", []),  # an account, not a company
        ("英伟达是什么时候在特拉华州重新注册成立的？", []),  # when, not where
        ("When was NVIDIA incorporated?", []),
    ],
)
def test_which_field_a_question_asks_for(question: str, fields: list[Field]) -> None:
    assert fields_asked(question) == fields


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which exchange is Apple's common stock registered on?", "The Nasdaq Stock Market LLC"),
        ("苹果公司是在哪个州注册成立的？", "California"),
        ("What is Apple's trading symbol?", "AAPL"),
    ],
)
def test_the_field_is_the_answer_over_rows_that_share_its_words(question: str, expected: str) -> None:
    """p7's "Common stock repurchased" row shares "common stock" with the question and was the answer."""
    sources = _pages_as_sources("2023 Q3 AAPL.pdf", "Apple Inc. | 10-Q", 7, 1)
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and extracted.text.split(" [")[0].endswith(expected), extracted
    assert extracted.citation.page == 1 and expected in extracted.citation.sentence


@pytest.fixture
def apple(apple_q2_kb: KnowledgeBase) -> KnowledgeBase:
    return apple_q2_kb


def test_the_cover_is_found_and_answers(apple: KnowledgeBase) -> None:
    admin = apple.actor(None)
    question = "Which stock exchange is Apple listed on?"
    found = Retriever(apple).retrieve(question, admin, k=6)
    sources = [Source(n, r) for n, r in enumerate(found, start=1)]
    extracted = Extractor(context=apple.reads.page_context).extract(question, sources)
    assert extracted is not None and "The Nasdaq Stock Market LLC" in extracted.text, extracted
    without = Retriever(apple, replace(RetrievalConfig(), statement_weight=0.0)).retrieve(question, admin, k=6)
    assert found[0].chunk.page_start == 1 and without[0].chunk.page_start != 1  # the list decides
