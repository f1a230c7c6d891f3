"""Long analyst questions ("How has Microsoft's total net sales evolved over time?", "... as
reported in these 10-Qs"): the words that say how they ask are not what they are about, and a
heading that repeats their words is no answer."""

from collections.abc import Sequence
from dataclasses import replace

import pytest

from app.chain.extract import Extractor, Question
from app.chain.quotes import quote_evidence
from app.chain.rag import Turn
from app.chain.sentences import stands_alone
from app.chain.topic import alternatives, asks_only, covers_the_rarest, follow_up_terms, root, side_questions, sides
from app.chain.verify import AnswerChecker
from app.retrieval.text import content_terms
from app.types import ANSWERED, RetrievedChunk, Source
from store.records import PageText, StoredChunk
from tests.app.test_chain import ALICE, chunk, hit
from tests.app.test_verify import _pages_as_sources, make_chain

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
    best = max(Extractor().candidates(Question.parse(question), sources), key=lambda c: c.score)
    assert best.text.startswith("“Revenue from Office Commercial"), best.text
    # ... which is a line of a table describing the revenue, cut off ("..., and"): no answer by itself
    assert Extractor().extract(question, sources) is None


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
    assert follow_up_terms(question) == {"supply", "chain", "strategy"}
    assert follow_up_terms("If so, what are the key drivers?") == frozenset()  # one clause: nothing follows
    assert follow_up_terms("What is the procedure for reporting a lost laptop?") == frozenset()
    rarity = {"strategy": 4.87, "chain": 3.92, "supply": 3.18, "level": 3.02, "inventory": 2.98, "intel": 1.5}
    reply = (
        "Inventories were $11.1 billion at September 30, 2023, down from $13.2 billion at December 31, 2022, "
        "as we reduced inventory levels. [1]"
    )
    [checked] = AnswerChecker([Source(1, hit(INVENTORY))]).check(reply, question, rarity=rarity)
    assert checked.verified, checked.reason
    # asked as the subject, the same word must be held
    subject = "What strategies for its inventory levels does Intel have?"
    [held] = AnswerChecker([Source(1, hit(INVENTORY))]).check(reply, subject, rarity=rarity)
    assert not held.verified and "“strategy”" in held.reason


@pytest.mark.parametrize(
    ("term", "asks_how"),
    [
        ("reported", True),
        ("gleaned", True),
        ("evolved", True),
        ("alteration", True),
        ("level", True),  # "inventory levels": the inventory is what is asked about
        ("performance", True),  # "Apple's financial performance"
        ("significantly", True),  # "risks that could significantly impact the company"
        ("laptop", False),
        ("gift", False),
        ("need", False),
        ("speed", False),
        ("revenue", False),
        ("unrecognized", False),  # "unrecognized compensation cost": a negated participle is the subject's
        ("unrealized", False),
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


SEGMENTS = chunk(
    "Segment results for 2023 are shown in the table below for all 3 segments. "
    "Segment reporting changed in 2023 to show the Americas and Europe separately. "
    "The Greater China segment's results in 2023 included the effect of the stronger dollar. "
    "Operating expenses grew 5% in 2023, driven by research and development headcount.",
    cid=11,
)


def _segments_first(question: str, sentences: Sequence[str]) -> list[float]:
    """An embedder that finds the segment sentences closest to the question."""
    return [0.9 if "egment" in s else 0.5 for s in sentences]


def test_quotes_speak_of_the_rarest_term_in_another_form_of_the_word() -> None:
    """ "What does the segment reporting say about operational expenses?": the filing says
    "operating expenses". The three quotes closest in meaning are on segments; the closest that
    speaks of the expenses takes the last place, so the quotes cover what is asked."""
    question = "What do the insights in the segment reporting say about operational expenses?"
    rarity = {"operational": 4.5, "segment": 2.84, "reporting": 2.8, "expense": 2.08}
    quoted = quote_evidence(Extractor(similarity=_segments_first), question, [Source(1, hit(SEGMENTS))], rarity)
    assert quoted is not None, "the operating expenses sentence answers in part"
    assert "Operating expenses grew 5%" in quoted.text and "Segment reporting changed" in quoted.text
    assert root("operational") == root("operating") == root("operation")
    assert root("inventorie") == root("inventory") and root("launche") == root("launch")
    assert root("sale") == "sale"  # a short word keeps its ending


ACQUISITIONS = chunk("In March 2022 we completed our acquisition of Nuance Communications for $18.8 billion.", cid=12)


def test_either_side_of_an_or_is_what_is_asked_about() -> None:
    """ "acquisitions or sell-offs": a filing that reports an acquisition answers, though no
    sell-off is in it; asked for both, it does not."""
    rarity = {"sell": 3.43, "acquisition": 2.91, "new": 2.49, "company": 2.32}
    either = "Has Microsoft announced any major new company acquisitions or sell-offs?"
    both = "Has Microsoft announced any major new company acquisitions and sell-offs?"
    assert alternatives(either) == [(frozenset({"acquisition"}), frozenset({"sell"}))]
    assert covers_the_rarest(frozenset(rarity), {"acquisition"}, rarity, either)
    assert not covers_the_rarest(frozenset(rarity), {"acquisition"}, rarity, both)
    sources = [Source(1, hit(ACQUISITIONS))]
    quoted = quote_evidence(Extractor(), either, sources, rarity)
    assert quoted is not None and "Nuance" in quoted.text
    assert quote_evidence(Extractor(), both, sources, rarity) is None


def test_a_row_run_into_the_next_rows_label_is_read_as_the_row() -> None:
    """Page 4 of Apple's 2023 Q1 10-Q: "Total net sales 117,154 123,945" then "Cost of sales:".
    The two lines read as one sentence quoted "“Total net sales 117,154 123,945 Cost of sales:”",
    with no unit or period, and ranked over the row itself."""
    sources = _pages_as_sources("2023 Q1 AAPL.pdf", "Apple Inc. | 10-Q", 4)
    extracted = Extractor().extract("How have Apple's total net sales changed?", sources)
    assert extracted is not None and extracted.text.startswith(
        "Total net sales: $117,154 million for the three months ended December 31, 2022"
    ), extracted


def test_two_things_set_side_by_side_are_each_what_the_question_is_about() -> None:
    """ "How does the discussion on employee compensation in the human resources section relate to
    the reported financial expenses?": quotes on compensation expense speak of the second thing,
    though not of "human" resources, the rarest word of the whole."""
    question = (
        "In NVIDIA's Q2 2023 10-Q, how does the discussion on employee compensation in the human resources "
        "section relate to the reported financial expenses?"
    )
    first, second = sides(question)
    assert {"human", "resource", "compensation", "employee"} <= first and {"expense", "financial"} <= second
    rarity = {"human": 4.31, "resource": 3.23, "compensation": 3.07, "employee": 2.73}
    rarity |= {"expense": 2.08, "financial": 1.39}
    wanted = frozenset(rarity)
    assert covers_the_rarest(wanted, {"expense", "compensation"}, rarity, question, each_side=True)
    # a small model's sentence must still speak of the rarest of the whole
    assert not covers_the_rarest(wanted, {"expense", "compensation"}, rarity, question)
    alone = "What does NVIDIA say about employee compensation in the human resources section and its expenses?"
    assert sides(alone) == []
    assert not covers_the_rarest(wanted, {"expense", "compensation"}, rarity, alone, each_side=True)
    # a thing named in one word is a side too: quotes on the earnings speak of one of the two things
    stack_up = "How did Amazon's operational expenditures stack up against its earnings in Q1 2023?"
    rarities = {"operational": 4.5, "expenditure": 4.21, "earning": 3.18}
    assert covers_the_rarest(frozenset(rarities), {"earning"}, rarities, stack_up, each_side=True)
    assert not covers_the_rarest(frozenset(rarities), {"earning"}, rarities, stack_up)
    # "how do the changes in X reflect the Y": two things set side by side
    reflect = "In Amazon's Q3 2023 10-Q, how do the changes in inventory levels reflect the supply chain strategies?"
    first, second = sides(reflect)
    assert "inventory" in first and {"supply", "chain", "strategy"} <= second
    assert sides("What does the increase in revenue reflect?") == []


SEGMENT_NOTE = chunk(
    "Segment reporting: our operating segments are DCAI, CCG and NEX, and segment operating expenses "
    "are allocated on revenue. Operating expenses were $5.2 billion in Q3 2023.",
    cid=14,
)


@pytest.mark.parametrize(
    "reply",
    [
        "Specifically, it relates to the segment reporting and insights shared. [1]",
        "Based on the provided information, the operational expenses details relate to the segment reporting. [1]",
    ],
)
def test_a_sentence_that_says_the_question_back_is_no_answer(reply: str) -> None:
    """Asked how two parts of a filing relate, the small model said the question back; its words are
    on the page, and it claims nothing."""
    question = (
        "From Intel's Q3 2023 10-Q, how do the operational expenses details relate to the segment reporting "
        "and insights shared?"
    )
    [checked] = AnswerChecker([Source(1, hit(SEGMENT_NOTE))]).check(reply, question)
    assert not checked.verified and checked.reason == "it only says the question back"
    said = "Segment operating expenses are allocated on revenue. [1]"  # "allocated": the page's, not the question's
    # asked yes or no, a statement said back answers ("Parking is free for employees."); a heading does not
    yes_or_no = "Are there any legal proceedings or risks disclosed in Microsoft's Q2 2023 10-Q?"
    contents = chunk("PART II. OTHER INFORMATION\nItem 1. Legal Proceedings\nSee Note 15.", cid=17)
    [heading] = AnswerChecker([Source(1, hit(contents))]).check("a) Legal Proceedings: [1]", yes_or_no)
    assert not heading.verified and heading.reason == "it only says the question back"
    [kept] = AnswerChecker([Source(1, hit(SEGMENT_NOTE))]).check(said, question)
    assert kept.verified, kept.reason
    # an address ends in a zip code, which reads as two cells: the line under it is no row's label
    cover = chunk(
        "2200 Mission College Boulevard, Santa Clara, California 95054-1549\n"
        "(Address of principal executive offices) (Zip Code)\n",
        cid=13,
    )
    office = Extractor().extract("What city is Intel's head office in?", [Source(1, hit(cover))])
    assert office is not None and "Santa Clara" in office.text, office


def test_asked_across_quarters_the_chain_reads_more_filings_for_the_line() -> None:
    """The search's usual passages held two of Apple's four filings; asked how iPhone revenue moved
    across quarters, a wider search finds the other two, and each filing's iPhone line is shown
    with its own citation; the model's prompt holds the usual passages only. Asked for one quarter,
    the usual search alone is read."""
    pages = [("2023 Q2 AAPL.pdf", 10), ("2023 Q3 AAPL.pdf", 10), ("2023 Q1 AAPL.pdf", 10), ("2022 Q3 AAPL.pdf", 10)]
    found = [s.retrieved for s in _filings(pages, "Apple Inc. | 10-Q")]
    chain, engine, retriever = make_chain(found, reply="Apple sold many phones.", k=2)
    trend = chain.invoke(Turn("How has Apple's revenue from iPhone sales fluctuated across quarters?", ALICE))
    assert [(c.document, c.page) for c in trend.citations] == [
        (name, 10) for name in ("2023 Q3 AAPL.pdf", "2023 Q2 AAPL.pdf", "2023 Q1 AAPL.pdf", "2022 Q3 AAPL.pdf")
    ], trend.text
    assert len(retriever.questions) == 2  # the usual search, then the wider one
    prompt = engine.generated[0][-1].content
    assert "[2] 2023 Q3 AAPL.pdf" in prompt and "[3]" not in prompt  # the wider search's are read, not prompted
    one = chain.invoke(Turn("What was Apple's iPhone revenue in the quarter ended April 1, 2023?", ALICE))
    assert "$51,334 million" in one.text and len(one.citations) == 1 and len(retriever.questions) == 3


def test_a_line_of_the_contents_does_not_answer_an_open_question() -> None:
    """ "Are there any legal proceedings or risks disclosed ...?" was answered "“Legal Proceedings
    51”": the contents line holds its words and says nothing."""
    contents = _pages_as_sources("2023 Q2 MSFT.pdf", "Microsoft Corporation | 10-Q", 2)  # the contents
    question = "Are there any legal proceedings or risks disclosed in Microsoft's Q2 2023 10-Q?"
    quoted = Extractor().extract(question, contents)
    assert quoted is None or "Proceedings 51" not in quoted.text, quoted
    stated = chunk("We accrued legal liabilities of $264 million for the legal proceedings in Note 15.", cid=16)
    assert Extractor().extract(question, [Source(1, hit(stated))]) is not None


def test_each_of_two_things_set_side_by_side_is_searched_with_the_names_of_the_whole() -> None:
    question = "How did Amazon's operational expenditures stack up against its earnings in Q1 2023?"
    assert side_questions(question) == [
        "How did Amazon's operational expenditures Q1 2023",
        "its earnings in Q1 2023 Amazon's",
    ]
    # the filing named outside both things goes with each; a word of asking ("In") does not
    compare = "In NVIDIA's Q3 2023 10-Q, compare the inventory levels with the supply chain strategies."
    assert side_questions(compare) == [
        "the inventory levels NVIDIA's Q3 2023 10-Q",
        "the supply chain strategies NVIDIA's Q3 2023 10-Q",
    ]
    assert side_questions("What were Amazon's operating expenses in Q1 2023?") == []


class _SearchByWords:
    """A search that finds the passages holding a word of the query, those holding most first."""

    def __init__(self, chunks: Sequence[StoredChunk]) -> None:
        self.chunks = list(chunks)
        self.questions: list[str] = []

    def retrieve(self, question: str, actor: object, k: int = 8, filters: object = None) -> list[RetrievedChunk]:
        self.questions.append(question)
        words = set(content_terms(question))
        shared = [(len(words & set(content_terms(c.text))), c) for c in self.chunks]
        return [hit(c) for n, c in sorted(shared, key=lambda pair: -pair[0]) if n][:k]


OPERATING = chunk(
    "Total operating expenses were $122.0 billion in Q1 2023, up from $112.4 billion in Q1 2022, on fulfillment costs.",
    cid=21,
)
EARNINGS = chunk(
    "Net earnings were $3.2 billion in Q1 2023, compared with a net loss of $3.8 billion in Q1 2022.", cid=22
)


def test_two_things_set_side_by_side_are_quoted_from_a_search_for_each() -> None:
    """The search for the whole question found only the expenses (the index weighs "operating
    expenses" more); a search for each side finds the earnings too, and the quotes hold both. The
    side's passage is read, not put in the model's prompt."""
    question = "How did ACME's operating expenses stack up against its earnings in Q1 2023?"
    retriever = _SearchByWords([OPERATING, EARNINGS])
    chain, _, _ = make_chain([], k=1)
    chain.retriever = retriever
    prepared = chain.prepare.invoke(Turn(question, ALICE))
    assert retriever.questions[0] == question and len(retriever.questions) == 3, retriever.questions
    assert [s.chunk.id for s in prepared.sources] == [OPERATING.id]
    assert [s.chunk.id for s in prepared.unpacked] == [EARNINGS.id]
    assert "Net earnings" not in prepared.messages[-1].content  # read, not prompted
    # the model's sentence does not check out, nor does any one row or sentence answer: the quotes
    answer = chain.finish("Zorblax Quentin reported 987,654,321 widgets. [1]", prepared)
    assert answer.outcome == ANSWERED and "$122.0 billion" in answer.text and "$3.2 billion" in answer.text, answer.text
    assert [c.n for c in answer.citations] == [1, 2] and EARNINGS.id in {s.chunk.id for s in answer.sources}
    # asked of one thing, one search
    retriever.questions.clear()
    chain.invoke(Turn("What were ACME's operating expenses in Q1 2023?", ALICE))
    assert len(retriever.questions) == 1


def test_asked_about_risks_a_risk_factor_that_warns_is_quoted() -> None:
    """A risk factor hedges ("could adversely affect") and states no figure: asked about risks, it
    is what the filing warns of; asked about anything else it reports nothing."""
    risk = chunk(
        "LEGAL, REGULATORY, AND LITIGATION RISKS Government litigation and regulatory activity relating to "
        "competition rules may limit how we design and market our products.",
        cid=23,
    )
    sources = [Source(1, hit(risk))]
    rarity = {"litigation": 3.9, "risk": 2.2, "regulatory": 3.1}
    asked = "What litigation risks does ACME disclose in its 10-Q?"
    quoted = quote_evidence(Extractor(), asked, sources, rarity)
    assert quoted is not None and "may limit how we design" in quoted.text
    assert quote_evidence(Extractor(), "What litigation has ACME disclosed in its 10-Q?", sources, rarity) is None
    # a warning that names nothing asked besides risks says nothing
    boilerplate = chunk(
        "Additional risks and uncertainties not presently known to us or that we currently deem immaterial "
        "may also impair our business operations.",
        cid=36,
    )
    vague = "What legal proceedings or uncertainties are presented in ACME's quarterly reports?"
    rarity = {"proceeding": 3.5, "legal": 3.0, "uncertainty": 2.8, "quarterly": 1.5}
    assert quote_evidence(Extractor(), vague, [Source(1, hit(boilerplate))], rarity) is None


@pytest.mark.parametrize(
    "sentence",
    [
        # a pointer to another report, to a list below, or the contents
        "See the Annual Report on Form 10-K for the fiscal year ended January 29, 2023 for a description of our debt.",
        "Refer to our Annual Report on Form 10-K for 2022 for a description of our debt instruments and notes.",
        "Our debt is subject to various risks and uncertainties, including those described below, in 2023 and later.",
        "NVIDIA CORPORATION FORM 10-Q FOR THE QUARTER ENDED April 30, 2023 TABLE OF CONTENTS Page Debt Item 1.",
    ],
)
def test_a_pointer_elsewhere_is_no_quote(sentence: str) -> None:
    sources = [Source(1, hit(chunk(sentence, cid=24)))]
    rarity = {"debt": 2.57, "instrument": 3.39}
    assert quote_evidence(Extractor(), "What debt instruments does NVIDIA describe?", sources, rarity) is None


def test_a_sentence_cut_where_its_chunk_begins_is_quoted_whole_or_not_at_all() -> None:
    """The chunk after the cut begins "$13.1 billion during Q1 2022 and Q1 2023, which ...": shown
    alone it gives both quarters one figure. The whole sentence, in the chunk before, is quoted."""
    whole = chunk(
        "Cash capital expenditures were $13.7 billion and $13.1 billion during Q1 2022 and Q1 2023, "
        "which primarily reflect investments in technology infrastructure.",
        cid=25,
    )
    cut = chunk(
        "$13.1 billion during Q1 2022 and Q1 2023, which primarily reflect investments in technology "
        "infrastructure. We expect cash capital expenditures to decrease in 2023 on fulfillment.",
        cid=26,
    )
    rarity = {"expenditure": 4.21, "capital": 2.9, "technology": 2.5}
    question = "How do Amazon's capital expenditures relate to its technology investments?"
    for sources in ([Source(1, hit(cut)), Source(2, hit(whole))], [Source(1, hit(cut))]):
        quoted = quote_evidence(Extractor(), question, sources, rarity)
        assert quoted is not None
        assert "“$13.1 billion" not in quoted.text and "- “$" not in quoted.text, quoted.text
    assert "Cash capital expenditures were $13.7 billion and $13.1 billion" in str(
        quote_evidence(Extractor(), question, [Source(1, hit(cut)), Source(2, hit(whole))], rarity)
    )


def test_a_sentence_cut_at_a_line_that_runs_on_is_quoted_whole() -> None:
    """Microsoft's tax note wraps "... by the Internal Revenue Service and U.S. Treasury" /
    "Department, which delayed ...": the second line starts no sentence, though it starts with a
    capital; the sentence is quoted from where it starts. A heading's short line ("Effective Tax
    Rate") does not run on into the next."""
    text = (
        "Effective Tax Rate\nOur effective tax rate was 18% and 19% for the three months ended September 30, 2023 "
        "and 2022, respectively. The decrease was primarily due to tax benefits from tax law changes in the first "
        "quarter of\nfiscal year 2024, including the impact from the issuance of Notice 2023-55 by the Internal "
        "Revenue Service (“IRS”) and U.S. Treasury\nDepartment, which delayed the effective date of final foreign "
        "tax credit regulations to fiscal year 2024 for Microsoft.\nThe final foreign tax credit regulations were "
        "issued in 2022 and apply to Microsoft from fiscal year 2024 on."
    )
    question = "How does Microsoft's effective tax rate compare with the discussion on foreign tax credit regulations?"
    rarity = {"regulation": 3.9, "effective": 3.2, "credit": 3.0, "foreign": 2.8, "tax": 2.4, "rate": 2.3}
    quoted = quote_evidence(Extractor(), question, [Source(1, hit(chunk(text, cid=30)))], rarity)
    assert quoted is not None, quoted
    assert "- “The decrease was primarily due to tax benefits from tax law changes" in quoted.text, quoted.text
    assert "by the Internal Revenue Service (“IRS”) and U.S. Treasury Department, which delayed" in quoted.text
    assert "“Department," not in quoted.text and "“fiscal year 2024, including" not in quoted.text
    assert "“Effective Tax Rate Our effective tax rate was 18%" in quoted.text  # after a heading: whole


@pytest.mark.parametrize(
    ("name", "page", "header", "question"),
    [
        # "... for the three- and six-month periods ... were as follows (dollars in millions):"
        (
            "2023 Q2 AAPL.pdf",
            20,
            "Apple Inc. | 10-Q",
            "How has Apple's gross margin percentage for Products and Services evolved?",
        ),
        # "The following table outlines the expected future recognition of unearned revenue ...:"
        (
            "2023 Q1 MSFT.pdf",
            45,
            "Microsoft Corporation | 10-Q",
            "How has Microsoft's unearned revenue changed, and what does it indicate about future revenue?",
        ),
    ],
)
def test_a_sentence_leading_into_a_table_does_not_answer_an_open_question(
    name: str, page: int, header: str, question: str
) -> None:
    """The table's lead-in holds the question's words and says nothing by itself: the chain goes on
    to a sentence that says how it moved, or to the model's answer and the quotes (which quote the
    table's rows)."""
    sources = _pages_as_sources(name, header, page)
    lead_in = max(Extractor().candidates(Question.parse(question), sources), key=lambda c: c.score)
    assert lead_in.text.rstrip("”").endswith(":"), lead_in.text  # the best scored, as before
    extracted = Extractor().extract(question, sources)
    assert extracted is None or lead_in.quote.strip("“”") not in extracted.text, extracted
    assert extracted is None or "increased" in extracted.text or "decreased" in extracted.text, extracted


@pytest.mark.parametrize(
    ("sentence", "alone"),
    [
        ("Microsoft Cloud revenue increased 24% to $25.7 billion.", True),
        ("“The Company repurchased $18.0 billion of its common stock.”", True),
        ("$13.1 billion was spent on capital expenditures in Q1 2023.", True),
        ("The following table outlines the expected future recognition of unearned revenue:", False),
        ("Free cash flow is cash flow from operations less capital expenditures. The following", False),
        ("internal and external manufacturing plans, including manufacturing expansion plans;", False),
        ("Our stock-based compensation expense is associated with RSUs that are based on our", False),
        ("Revenue from Office Commercial products (Office 365 subscriptions, and", False),
    ],
)
def test_a_sentence_stands_alone_when_it_begins_and_ends_as_one(sentence: str, alone: bool) -> None:
    assert stands_alone(sentence) is alone


def test_a_tables_last_row_run_into_a_sentence_is_not_quoted_with_it() -> None:
    """NVIDIA's equity award table ends "Balances, July 30, 2023 46 $ 219.47" and the sentence
    after it is read with it; the quote is the sentence. A date before a sentence's subject ("On
    March 17, 2022 Amazon acquired ...") is no row."""
    awards = chunk(
        "Balances, July 30, 2023 46 $ 219.47 As of July 30, 2023, there was $9.69 billion of aggregate "
        "unearned stock-based compensation expense.",
        cid=31,
    )
    rarity = {"compensation": 3.07, "stock": 2.0, "unearned": 3.9}
    question = "How has NVIDIA's unearned stock-based compensation changed?"
    quoted = quote_evidence(Extractor(), question, [Source(1, hit(awards))], rarity)
    assert quoted is not None and "- “As of July 30, 2023, there was $9.69 billion" in quoted.text, quoted
    assert quoted.citations[0].sentence.startswith("As of July 30, 2023")
    total = chunk("Total $ 39,626 On June 30, 2023, unearned stock-based compensation was $2.1 billion.", cid=34)
    quoted = quote_evidence(Extractor(), question, [Source(1, hit(total))], rarity)
    assert quoted is not None and "- “On June 30, 2023, unearned stock-based compensation" in quoted.text, quoted
    dated = chunk("On March 17, 2022 Amazon acquired MGM Holdings Inc. for cash consideration of $6.1 billion.", cid=32)
    acquired = quote_evidence(Extractor(), "What acquisitions did Amazon complete?", [Source(1, hit(dated))], {})
    assert acquired is not None and "“On March 17, 2022 Amazon acquired MGM" in acquired.text


def test_a_chunk_beginning_inside_a_sentence_is_answered_with_the_whole_sentence() -> None:
    """Intel's chunk begins "Brookfield own 51% and 49%, respectively, ...": quoted from there, it
    says Brookfield owns both shares. The page before the chunk holds the sentence's start."""
    before = "Semiconductor Co-Investment Program. This arrangement represents an equity partnership whereby we and "
    cut = (
        "Brookfield own 51% and 49%, respectively, of what will be a newly-formed entity, Arizona Fab LLC, "
        "which we will fully consolidate into our consolidated financial statements."
    )
    page = PageText(before + cut, len(before), ((0, 28),))
    sources = [Source(1, hit(chunk(cut, cid=33, pages=(28, 28))))]
    question = "What share of the new Arizona fab entity will Brookfield own?"
    extracted = Extractor(context=lambda _: page).extract(question, sources)
    assert extracted is not None, "the whole sentence answers"
    assert extracted.text.startswith("“This arrangement represents an equity partnership whereby we and Brookfield own")
    assert extracted.citation.sentence.startswith("This arrangement represents")
    # no page before the chunk: the sentence as the chunk has it, which starts as one does
    alone = Extractor().extract(question, sources)
    assert alone is not None and alone.text.startswith("“Brookfield own 51%")


def test_a_lead_in_that_says_the_question_back_with_its_period_is_no_answer() -> None:
    """ "The legal proceedings that Amazon disclosed in Q2 2023 were: [2]" holds the question's
    words and its period, and nothing else: the list it announces never came."""
    question = "What legal proceedings did Amazon disclose in Q2 2023?"
    note = chunk("Legal proceedings disclosed by Amazon in Q2 2023 include a complaint filed in June 2023.", cid=23)
    [said_back] = AnswerChecker([Source(1, hit(note))]).check(
        "The legal proceedings that Amazon disclosed in Q2 2023 were: [1]", question
    )
    assert not said_back.verified and said_back.reason == "it only says the question back"
    # a date the question does not name is something said
    [dated] = AnswerChecker([Source(1, hit(note))]).check(
        "Amazon disclosed legal proceedings in June 2023. [1]", question
    )
    assert dated.reason != "it only says the question back"


CONTENTS = chunk(
    "PART II. OTHER INFORMATION\nItem 1. Legal Proceedings 34\nItem 1A. Risk Factors 35\n"
    "Item 2. Unregistered Sales of Equity Securities and Use of Proceeds 48\nItem 5. Other Information 49\n"
    "Item 6. Exhibits 50",
    cid=24,
)


def test_a_line_of_the_contents_is_no_figure() -> None:
    """ "What legal proceedings did Amazon disclose?" was answered "Item 1. Legal Proceedings: 34":
    a title and its page number, read as a row."""
    question = "What legal proceedings did Amazon disclose in Q2 2023?"
    assert Extractor().extract(question, [Source(1, hit(CONTENTS))]) is None
    # nor is a line of it quoted as a sentence
    index = chunk(
        "Form 10-Q Cross-Reference Index for the quarter ended April 1, 2023, with debt and legal proceedings 2\n"
        "Financial Statements 3\nManagement's Discussion and Analysis 26\nLegal Proceedings 34\n"
        "Risk Factors 35\nExhibits 50",
        cid=26,
    )
    asked = "How do the legal proceedings relate to Amazon's debt in 2023?"
    assert quote_evidence(Extractor(), asked, [Source(1, hit(index))], {"legal": 3.0, "debt": 2.5}) is None


CASH_FLOWS = chunk(
    "CONDENSED CONSOLIDATED STATEMENTS OF CASH FLOWS (in millions)\nThree Months Ended\n"
    "December 31, 2022 December 25, 2021\nOperating activities:\nNet income 29,998 34,630\n"
    "Share-based compensation expense 2,905 2,265\nFinancing activities:\n"
    "Repurchases of common stock (19,475) (20,478)\nPayments for dividends and dividend equivalents (3,768) (3,732)",
    cid=25,
)


def test_of_rows_scored_alike_the_one_holding_the_rarest_term_answers() -> None:
    """ "What share repurchase activity did Apple report?": "Share-based compensation expense" (share,
    activities) and "Repurchases of common stock" (repurchase, activities) score the same; the
    repurchases are what it asks about."""
    question = "What share repurchase activity did Apple report in Q1 2023?"
    rarity = {"activity": 2.73, "share": 2.08, "repurchase": 3.56}
    sources = [Source(1, hit(CASH_FLOWS))]
    found = Extractor().candidates(Question.parse(question), sources)
    scored = {c.text.split(":")[0]: round(c.score, 2) for c in found}
    assert scored["Share-based compensation expense"] == scored["Repurchases of common stock"], scored
    extracted = Extractor().extract(question, sources, rarity)
    assert extracted is not None and extracted.text.startswith("Repurchases of common stock"), extracted


SEGMENT_METRICS = chunk(
    "Metrics related to our Productivity and Business Processes and Intelligent Cloud segments assess the "
    "health of our core businesses within these segments. Intelligent Cloud revenue increased driven by "
    "Azure and other cloud services.",
    cid=27,
)


def test_asked_how_something_changed_a_sentence_saying_no_move_is_no_answer() -> None:
    """ "How did Microsoft's Intelligent Cloud segment revenue change?" was answered with the sentence
    on what the segments' metrics assess: it holds "segment", and says nothing moved."""
    question = "How did ACME's Intelligent Cloud segment revenue change in the latest 10-Q?"
    sources = [Source(1, hit(SEGMENT_METRICS))]
    found = max(Extractor().candidates(Question.parse(question), sources), key=lambda c: c.score)
    assert found.quote.startswith("Metrics related"), found.quote  # the best scored, without the test
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and "revenue increased" in extracted.text, extracted


STOCK_AWARDS = chunk(
    "CASH FLOWS STATEMENTS (In millions)\nThree Months Ended September 30, 2023 2022\n"
    "Stock-based compensation expense 2,507 2,192\nNet cash from operations 30,583 23,198",
    cid=28,
)


def test_a_line_without_the_word_the_question_negates_is_no_answer() -> None:
    """ "How much unrecognized stock-based compensation cost did Microsoft report?" was answered with
    the stock-based compensation expense: recognised, the opposite of what was asked."""
    sources = [Source(1, hit(STOCK_AWARDS))]
    unrecognized = "How much unrecognized stock-based compensation cost did ACME report?"
    assert Extractor().extract(unrecognized, sources) is None
    expense = Extractor().extract("How much stock-based compensation expense did ACME report?", sources)
    assert expense is not None and "2,507" in expense.text, expense
    # "unit", "under" and the like negate nothing
    assert Extractor().extract("How much stock-based compensation expense did ACME report by unit?", sources)
