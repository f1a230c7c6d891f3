"""Acronyms a document defines ("Network and Edge (NEX)"): a question using the acronym also
searches the long form, which the table answering it may alone print; only as the documents the
asking user may read define it."""

from typing import Any

from app.retrieval import Retriever
from app.retrieval.acronym_defs import defined_acronyms, spelt_out_terms

OVERVIEW = (
    "We manage our business through our Client Computing Group (CCG), Data Center and AI (DCAI) and "
    "Network and Edge (NEX) operating segments. NEX revenue decreased in the quarter. NEX Revenue $B "
    "NEX Operating Income $B. The NEX business saw lower demand; NEX margins fell. "
)
SEGMENTS = (
    "Net revenue and operating income (loss) for each period were as follows:\n"
    "Three Months Ended\n(In Millions) Apr 1, 2023 Apr 2, 2022\nNet revenue:\n"
    "Client Computing $ 5,767 $ 9,322\nData Center and AI 3,719 6,075\nNetwork and Edge 1,489 2,139\n"
)


def test_a_document_defines_an_acronym_by_the_words_before_its_brackets() -> None:
    text = "through our Client Computing Group (CCG), Data Center and AI (DCAI), The Company (TC) and Edge (EG)"
    assert defined_acronyms(text) == {"ccg": "client computing group", "dcai": "data center and ai"}
    assert spelt_out_terms("NEX收入多少？", [{"nex": "network and edge"}]) == ["network", "edge"]
    assert spelt_out_terms("What was revenue?", [{"nex": "network and edge"}]) == []


def test_an_acronym_asked_finds_the_table_naming_it_in_full_only_where_the_user_reads_its_definition(
    make_kb: Any, write_text: Any
) -> None:
    kb = make_kb()
    admin = kb.actor(None)
    kb.people.add_group("board", admin)
    kb.people.add_user("bob", admin=False, groups=(), actor=admin)
    kb.ingest([write_text("overview.txt", OVERVIEW * 2)], actor=admin, groups=("board",))
    kb.ingest([write_text("segments.txt", SEGMENTS)], actor=admin)
    notes = "NEX revenue planning notes: the NEX revenue review and the NEX revenue roadmap are on Friday."
    kb.ingest([write_text("notes.txt", notes)], actor=admin)
    question = "What was NEX revenue in the quarter ended April 1, 2023?"
    found = Retriever(kb).search(question, admin, k=3)
    assert {"network", "edge"} <= set(found.terms) and found.chunks[0].chunk.file_name == "segments.txt"
    # bob reads no definition of NEX: his search is not told what it stands for
    assert not {"network", "edge"} & set(Retriever(kb).search(question, kb.actor("bob"), k=3).terms)


def test_a_segments_revenue_is_not_its_unearned_revenue_nor_a_charts_label() -> None:
    """Microsoft's p23 tabulates "Unearned revenue by segment" under the segments' names; Intel's
    p27 prints a chart's labels ("NEX Revenue $B ... $2.1") as text."""
    from app.chain.extract import Extractor
    from tests.app.test_verify import _pages_as_sources

    unearned = _pages_as_sources("2023 Q2 MSFT.pdf", "Microsoft Corporation | 10-Q", 23, 29)
    extracted = Extractor().extract("微软智能云业务在2023财年第三季度的收入是多少？", unearned)
    assert extracted is not None and "Intelligent Cloud: $22,081 million" in extracted.text, extracted
    asked = Extractor().extract("What was Intelligent Cloud's unearned revenue at March 31, 2023?", unearned)
    assert asked is not None and "$15,552 million" in asked.text, asked
    question = "英特尔2023年一季度网络与边缘（NEX）业务收入多少？"
    chart = Extractor().extract(question, _pages_as_sources("2023 Q1 INTC.pdf", "Intel Corporation | 10-Q", 27))
    assert chart is None or "$B" not in chart.text, chart
