"""Quoted evidence for open questions, on real filing pages read by pypdf: what is quoted is on
the cited page word for word, states a fact, and is given only to a question that asks for no one
figure, name or date; through the chain, a made-up answer is replaced by the quotes."""

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pypdf
import pytest

from app.chain.extract import Extractor
from app.chain.facts import Passage, facts_of, unsupported
from app.chain.quotes import LEAD, QuoteSettings, quote_evidence
from app.chain.rag import Turn
from app.types import ANSWERED, UNVERIFIED, RetrievedChunk, Source
from store.records import StoredChunk
from tests.app.test_chain import ALICE
from tests.app.test_verify import make_chain

SEC = Path(__file__).resolve().parents[2].parent / "shared" / "eval" / "sec-10-q" / "docs"
AMAZON = "2023 Q2 AMZN.pdf"


def _page_chunk(name: str, page: int, cid: int = 1) -> StoredChunk:
    if not (SEC / name).is_file():
        pytest.skip(f"{SEC / name} is not available")
    text = pypdf.PdfReader(SEC / name).pages[page - 1].extract_text()
    return StoredChunk(cid, cid, name, 0, "Amazon.com, Inc. | 10-Q", text, page, page, 0, len(text))


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_an_open_question_gets_the_facts_of_the_page_quoted_word_for_word() -> None:
    page = _page_chunk(AMAZON, 22)  # liquidity: what was paid for acquisitions, and which
    quoted = quote_evidence(
        Extractor(),
        "Did Amazon make any acquisitions in the second quarter of 2023?",
        [Source(1, RetrievedChunk(page, 1.0))],
        {},
    )
    assert quoted is not None and quoted.text.startswith(LEAD["en"])
    lines = quoted.text.splitlines()[1:]
    assert any("One Medical" in line for line in lines) and len(lines) <= QuoteSettings().limit
    for line in lines:  # "- “sentence” [1]": the sentence is on the page as written
        assert line.startswith("- “") and line.endswith("” [1]")
        assert line[3:-5] in _flat(page.text)
    assert [(c.document, c.page) for c in quoted.citations] == [(AMAZON, 22)]


def test_a_balance_asked_about_in_general_is_quoted_as_its_row_with_periods() -> None:
    page = _page_chunk(AMAZON, 6)  # the balance sheet
    quoted = quote_evidence(
        Extractor(), "How have Amazon's inventories changed?", [Source(1, RetrievedChunk(page, 1.0))], {}
    )
    assert quoted is not None
    assert "Inventories: $36,587 million at June 30, 2023 ($34,405 million at December 31, 2022) [1]" in quoted.text


@pytest.mark.parametrize(
    "question",
    [
        "How much cash did Amazon spend on acquisitions?",  # a figure: the extractor's, or nothing
        "Who signed Amazon's report?",  # a name
        "When did Amazon acquire One Medical?",  # a date
    ],
)
def test_a_question_for_one_figure_name_or_date_gets_no_quotes(question: str) -> None:
    page = _page_chunk(AMAZON, 22)
    assert quote_evidence(Extractor(), question, [Source(1, RetrievedChunk(page, 1.0))], {}) is None


def test_risk_factors_and_pointers_are_not_quoted_as_facts() -> None:
    """Hedged sentences ("we may be unable to complete acquisitions"), pointers ("see Item 1A"), a
    contents line and a sentence leading into a table state nothing."""
    text = (
        "We may not be able to complete acquisitions on favorable terms in 2023, which could harm our results. "
        "For more information on acquisitions, see Item 1A of Part II, “Risk Factors”, of our 2022 Form 10-K. "
        "Our acquisitions in 2023 could be delayed by regulators for 12 months or longer. "
        "Management’s Discussion and Analysis of acquisitions and Results of Operations 15 Item 3. "
        "Acquisitions are described in Item 1 of Part I, “Financial Statements — Note 4”, of our 2023 reports. "
        "Payments for the acquisitions made in 2023 and 2022 were as follows:"
    )
    chunk = StoredChunk(1, 1, "risks.pdf", 0, "ACME | 10-Q", text, 30, 30, 0, len(text))
    question = "Did ACME make any acquisitions in 2023?"
    assert quote_evidence(Extractor(), question, [Source(1, RetrievedChunk(chunk, 1.0))], {}) is None


def test_asked_about_risks_a_sentence_that_names_one_is_quoted_hedged_or_not() -> None:
    """Microsoft's risk factors state some risks without hedging ("Our global business exposes us to
    operational and economic risks."); asked about risks, that is what the filing warns of. Asked
    about something else, it states no fact."""
    text = (
        "Our global business exposes us to operational and economic risks. "
        "Catastrophic events or geopolitical conditions may disrupt our business."
    )
    chunk = StoredChunk(1, 1, "risks.pdf", 0, "ACME | 10-Q", text, 30, 30, 0, len(text))
    sources = [Source(1, RetrievedChunk(chunk, 1.0))]
    question = "Outline the risk elements associated with ACME's business over the reporting timeframe."
    quoted = quote_evidence(Extractor(), question, sources, {})
    assert quoted is not None and "“Our global business exposes us to operational and economic risks.”" in quoted.text
    assert quote_evidence(Extractor(), "How is ACME's global business organised?", sources, {}) is None


def test_quotes_are_ranked_by_meaning_and_must_cover_the_questions_rare_words() -> None:
    """The embedder's similarity orders the quotes; the rarity-weighted share of the question's
    words they cover decides whether there are any: a word no document holds weighs most."""
    page = _page_chunk(AMAZON, 22)
    sources = [Source(1, RetrievedChunk(page, 1.0))]
    question = "Did Amazon make any acquisitions in the second quarter of 2023?"

    def prefer_one_medical(question: str, sentences: Sequence[str]) -> list[float]:
        return [0.9 if "One Medical" in s else 0.5 for s in sentences]

    ranked = Extractor(similarity=prefer_one_medical)
    first = quote_evidence(ranked, question, sources, {}, QuoteSettings(limit=1))
    assert first is not None and "One Medical" in first.text and len(first.text.splitlines()) == 2
    rare = {"acquisition": 1.0, "make": 1.0, "amazon": 1.0}  # "holdco", held by no chunk, weighs as the rarest
    question = "Did Amazon make any acquisitions of holdco subsidiaries in 2023?"
    assert quote_evidence(Extractor(), question, sources, rare, settings=QuoteSettings(min_coverage=0.5)) is None
    assert quote_evidence(Extractor(), question, sources, rare, settings=QuoteSettings(min_coverage=0.05)) is not None


def test_a_made_up_answer_to_an_open_question_is_replaced_by_quotes_from_the_page() -> None:
    page = _page_chunk(AMAZON, 6)
    made_up = "Inventories fell to $12 billion in April 2023 because Jeff Bezos cut orders [1]."
    chain, _, _ = make_chain([RetrievedChunk(page, 1.0)], reply=made_up)
    question = "How have Amazon's inventory levels changed, and what does that say about its supply chain?"
    answer = chain.invoke(Turn(question, ALICE))
    assert answer.outcome == ANSWERED and answer.method == "extractive"
    assert answer.text.startswith(LEAD["en"]) and "Bezos" not in answer.text
    assert "Inventories: $36,587 million at June 30, 2023" in answer.text
    assert [c.page for c in answer.citations] == [6]
    assert not unsupported(facts_of(answer.text), [Passage(page.text)])  # every figure, date and name is on the page
    dropped = [c for c in answer.checked if not c.verified]
    assert dropped and "Bezos" in dropped[0].text  # the API says what was removed


def test_a_question_for_a_figure_with_nothing_to_quote_stays_could_not_verify() -> None:
    page = _page_chunk(AMAZON, 22)
    chain, _, _ = make_chain([RetrievedChunk(page, 1.0)], reply="Amazon had 300 million Prime members [1].")
    answer = chain.invoke(Turn("How many Prime members does Amazon have?", ALICE))
    assert answer.outcome == UNVERIFIED and not answer.found


def test_a_table_of_contents_is_not_quoted_as_rows() -> None:
    """Amazon's index lists "Consolidated Statements of Cash Flows 3" under "For the Quarterly Period
    Ended March 31, 2023": a title and its page number, not a row with its period."""
    page = _page_chunk("2023 Q1 AMZN.pdf", 2)
    question = "How did Amazon's cash flows develop in the quarter?"
    assert quote_evidence(Extractor(), question, [Source(1, RetrievedChunk(page, 1.0))], {}) is None


def test_an_exhibit_index_is_quoted_for_nothing() -> None:
    """Intel's exhibit index ("32.1 Certification of the Chief Executive Officer and the Chief Financial
    Officer pursuant to Rule 13a-14(b) of the Exchange Act and 18 U.S.C.") was quoted for a question on
    its debt strategy: a title of a document filed with the report states nothing. Nor is it read from a
    chunk holding only the index's last lines, through the rest of its page."""
    from app.chain.extract import Question
    from store.records import PageText
    from tests.app.test_verify import _pages_as_sources

    question = Question.parse("How does the management discussion relate to the financial statements' certification?")
    page = _pages_as_sources("2023 Q1 INTC.pdf", "Intel Corporation | 10-Q", 41)
    assert "Certification of the Chief Executive Officer" in page[0].chunk.text
    assert Extractor().candidates(question, page) == []
    tail_at = page[0].chunk.text.index("Section 1350")
    tail = replace(page[0].chunk, text=page[0].chunk.text[tail_at:])
    read_on_page = Extractor(lambda c: PageText(page[0].chunk.text, tail_at, ((0, 41),)))
    assert read_on_page.candidates(question, [Source(1, RetrievedChunk(tail, 1.0))]) == []
