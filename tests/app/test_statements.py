"""Financial statement pages: found by their title on real and broken PDF text, asked for by name
or by a figure read off them, and put near the top of retrieval inside the filing asked about."""

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from app.chain.extract import Extractor, Question
from app.retrieval import RetrievalConfig, Retriever
from app.retrieval.statements import Statement, StatementPageFinder, page_statements, statements_asked
from ingestion.service import KnowledgeBase
from store.records import PageText, StoredChunk
from tests.app.test_verify import _pages_as_sources
from tests.conftest import EVAL

MakeKB = Callable[..., KnowledgeBase]
AAPL_Q2 = EVAL / "sec-10-q" / "docs" / "2023 Q2 AAPL.pdf"  # statements on pages 4 (operations), 6, 8

TABLE = " ".join(f"{n:,}" for n in range(1000, 1060))  # 60 figures, as a statement page has


@pytest.mark.parametrize(
    ("opening", "expected"),
    [
        ("Table of Contents\n3M Company and Subsidiaries\nConsolidated Balance Shee\nt\nAt December 31", {"BS"}),
        ("SQUARE, INC. CONSOLIDATED STATEMENTS OF\n OPERATIONS(In thousands, except per share data)", {"IS"}),
        ("ADOBE INC.\n CONSOLIDATED STATEMENTS OF CASH FLOWS\n(In millions)", {"CF"}),
        ("Consolidated Statement of Financial Position\nAs of 31 December", {"BS"}),
        (  # the part and item headings above the first statement are not part of its title
            "PART I. FINANCIAL INFORMATION\nITEM 1.\nFINANCIAL STATEMENTS (UNAUDITED)\nNVIDIA CORPORATION AND "
            "SUBSIDIARIES\nCONDENSED CONSOLIDATED STATEMENTS OF INCOME\n(In millions, except per share data)",
            {"IS"},
        ),
        # its own statement, not the income statement
        ("Apple Inc.\nCONDENSED CONSOLIDATED STATEMENTS OF COMPREHENSIVE INCOME (Unaudited)", {"CI"}),
        # A contents page names every statement; a note names one in prose, far down its opening.
        ("Index\nStatements of Operations 4\nBalance Sheets 6\nStatements of Cash Flows 8", set()),
        (
            "Table of Contents\n14. Hedging Activities (Continued)\nThe following tables summarize the effect in the "
            "consolidated statements of income relating to derivative financial instruments",
            set(),
        ),
        # a note's extra detail names a statement at its top; it is not that statement
        ("PART I\nItem 1\nSupplemental balance sheet information related to leases was as follows:", set()),
    ],
)
def test_a_statement_page_is_known_by_the_title_at_its_top(opening: str, expected: set[str]) -> None:
    short = {Statement.BALANCE_SHEET: "BS", Statement.INCOME: "IS", Statement.CASH_FLOW: "CF"}
    short[Statement.COMPREHENSIVE_INCOME] = "CI"
    assert {short[s] for s in page_statements(opening, numbers=60)} == expected


def test_a_titled_page_of_few_figures_is_not_a_statement() -> None:
    """An auditor's report or a section cover carries the title but not the table."""
    assert page_statements("Consolidated Balance Sheets\nWe have audited ...", numbers=5) == set()
    assert page_statements("Consolidated Balance Sheets\n" + TABLE, numbers=60) == {Statement.BALANCE_SHEET}


def test_the_finder_reads_a_title_across_overlapping_chunks() -> None:
    """The first chunk of a page may hold only the company's name; the next repeats it (overlap)."""

    def chunk(i: int, start: int, text: str, page_start: int = 7, breaks: tuple[int, ...] = ()) -> StoredChunk:
        end_page = page_start + len(breaks)
        return StoredChunk(i, 1, "r.pdf", i, "", text, page_start, end_page, start, start + len(text), breaks)

    prose = "Liquidity remained strong. " * 10
    finder = StatementPageFinder()
    for c in [
        chunk(3, 0, prose + "SQUARE, INC.", page_start=6, breaks=(len(prose),)),  # ends page 6, starts 7
        chunk(4, len(prose) + 7, "INC.\nCONSOLIDATED\nBALANCE\nSHEETS\n" + TABLE),  # overlaps the last
        chunk(5, 9000, TABLE),
        chunk(6, 12000, "Notes\n" + TABLE, page_start=8),
    ]:
        finder.add(c)
    assert finder.chunks_by_statement() == {Statement.BALANCE_SHEET: [3, 4, 5]}


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the FY2018 capital expenditure amount for 3M?", [Statement.CASH_FLOW]),
        ("Using the balance sheet, what is the year end FY2018 net PP&E?", [Statement.BALANCE_SHEET]),
        (
            "Based on the cash flow statement, what is EBITDA less capex? Use operating income too.",
            [Statement.CASH_FLOW, Statement.INCOME],  # named first, then figures in order
        ),
        ("Roughly how many times has JnJ sold its inventory in FY2022 (inventory turnover)?", None),
        ("How much did Amazon spend repurchasing its stock in the first nine months of 2022?", [Statement.CASH_FLOW]),
        ("What was NVIDIA's total comprehensive income in the third quarter?", [Statement.COMPREHENSIVE_INCOME]),
        ("英伟达2024财年第三季度的综合收益总额是多少？", [Statement.COMPREHENSIVE_INCOME]),
        (
            "How much did Apple pay for property, plant and equipment in the six months?",
            [Statement.CASH_FLOW, Statement.BALANCE_SHEET],
        ),
        ("What was Intel's depreciation in the first nine months of 2023?", [Statement.CASH_FLOW]),
        ("英特尔2022年前九个月向股东支付了多少股息？", [Statement.CASH_FLOW]),
        ("苹果2023财年上半年分红一共付出去多少现金？", [Statement.CASH_FLOW]),  # the dividends, then what was paid
        (
            "What was Microsoft's short-term unearned revenue at September 30, 2023?",
            [Statement.BALANCE_SHEET, Statement.INCOME],
        ),
        ("How much did Amazon spend on technology and infrastructure in Q3 2023?", [Statement.INCOME]),
        # the supplemental lines of cash paid, not the income statement's expense
        ("How much cash interest (net of capitalized interest) did Intel pay in 2023?", [Statement.CASH_FLOW]),
        ("英特尔2023年前九个月实际支付的利息是多少？", [Statement.CASH_FLOW]),
        ("苹果缴纳了多少所得税", [Statement.CASH_FLOW]),
        ("英伟达2024财年第三季度交了多少现金税？", [Statement.CASH_FLOW]),
        ("How much cash did Apple pay in interest during the nine months?", [Statement.CASH_FLOW]),
        ("What was Intel's interest expense?", []),
        # the balance, not the additions of the period
        ("What was Microsoft's net property and equipment as of September 30, 2023?", [Statement.BALANCE_SHEET]),
        ("Intel property, plant and equipment, net at the end of 2022", [Statement.BALANCE_SHEET]),
        ("Who are the primary customers of Boeing?", []),
        ("What is the statement of the CEO on cash?", []),
    ],
)
def test_a_question_asks_for_a_statement_by_name_or_by_figure(question: str, expected: list[Statement] | None) -> None:
    asked = statements_asked(question)
    if expected is None:  # both statements needed: a ratio of a balance and a flow
        assert set(asked) == {Statement.BALANCE_SHEET, Statement.INCOME}
    else:
        assert asked == expected


@pytest.fixture
def apple(apple_q2_kb: KnowledgeBase) -> KnowledgeBase:
    return apple_q2_kb


def test_the_statement_pages_of_a_real_10q(apple: KnowledgeBase) -> None:
    admin = apple.actor(None)
    corpus = Retriever(apple).corpus.get(apple.reads.readable_chunk_ids(admin))
    pages = {
        statement: {c.page_start for c in apple.reads.get_chunks([int(i) for i in ids]).values()}
        for statement, ids in corpus.statement_chunks.items()
    }
    # Page 5 is the statement of comprehensive income; the contents page 2 lists them all.
    assert pages == {
        Statement.INCOME: {4},
        Statement.COMPREHENSIVE_INCOME: {5},
        Statement.BALANCE_SHEET: {6},
        Statement.CASH_FLOW: {8},
    }


@pytest.mark.parametrize(
    ("question", "page"),
    [
        ("What is Apple's capex for the six months ended April 1, 2023?", 8),
        ("What was Apple's gross margin in Q2 2023?", 4),
        ("What were Apple's total current liabilities as of April 1, 2023?", 6),
    ],
)
def test_the_statement_asked_for_ranks_first(apple: KnowledgeBase, question: str, page: int) -> None:
    admin = apple.actor(None)
    with_statements = Retriever(apple)
    assert with_statements.config.statement_weight > 0  # on by default
    assert with_statements.retrieve(question, admin, k=5)[0].chunk.page_start == page
    without = Retriever(apple, replace(RetrievalConfig(), statement_weight=0.0))
    assert without.retrieve(question, admin, k=5)[0].chunk.page_start != page  # the list decides


@pytest.mark.parametrize(
    ("memo", "question"),
    [
        (
            "Apple capex planning memo: the cash flow review is on Friday.",
            "What is Apple's capex according to the cash flow statement?",
        ),
        # the cover's fields (registrant.py): a list of their own as well
        ("Apple stock exchange listing memo: the Nasdaq review is on Friday.", "Which stock exchange is Apple listed?"),
    ],
)
def test_a_statement_page_the_user_may_not_read_never_reaches_them(
    make_kb: MakeKB, write_text: Any, memo: str, question: str
) -> None:
    """The statement and cover lists are cut to the readable chunks before ranking, like both searches."""
    if not AAPL_Q2.is_file():
        pytest.skip(f"the sample PDFs are not in {EVAL}")
    kb = make_kb()
    admin = kb.actor(None)
    kb.people.add_group("board", admin)
    kb.people.add_user("bob", admin=False, groups=(), actor=admin)
    kb.ingest([AAPL_Q2], actor=admin, groups=("board",))
    kb.ingest([write_text("memo.txt", memo)], actor=admin)
    assert {r.chunk.file_name for r in Retriever(kb).retrieve(question, admin, k=5)} >= {AAPL_Q2.name}
    seen_by_bob = Retriever(kb).retrieve(question, kb.actor("bob"), k=5)
    assert seen_by_bob and {r.chunk.file_name for r in seen_by_bob} == {"memo.txt"}


def test_a_question_about_a_role_finds_the_signed_page(apple: KnowledgeBase) -> None:
    """Exhibit lists and notes name the role in more words; the signed pages are a list of their own."""
    admin = apple.actor(None)
    question = "Who is Apple's chief executive officer?"
    found = Retriever(apple).retrieve(question, admin, k=5)
    assert any("/s/ Timothy D. Cook" in r.chunk.text for r in found)
    without = Retriever(apple, replace(RetrievalConfig(), statement_weight=0.0)).retrieve(question, admin, k=5)
    assert not any("/s/ Timothy D. Cook" in r.chunk.text for r in without)  # the list decides


def test_a_revenue_line_asked_finds_the_table_that_breaks_revenue_down(apple: KnowledgeBase) -> None:
    """Note 2's table ("Net sales disaggregated by significant products and services") holds the
    Wearables row under no word of the question but the row's; it is a list of its own for a
    question about a line of revenue, and none for one about the total."""
    admin = apple.actor(None)
    corpus = Retriever(apple).corpus.get(apple.reads.readable_chunk_ids(admin))
    tables = apple.reads.get_chunks([int(i) for i in corpus.breakdown_chunks]).values()
    assert {c.page_start for c in tables} == {10, 19}  # the revenue note and the MD&A's net sales by category
    question = "What were Apple's wearables sales in the quarter?"
    assert 10 in {r.chunk.page_start for r in Retriever(apple).retrieve(question, admin, k=5)}
    without = Retriever(apple, replace(RetrievalConfig(), statement_weight=0.0)).retrieve(question, admin, k=5)
    assert 10 not in {r.chunk.page_start for r in without}  # the list decides
    total = Retriever(apple).retrieve("What were Apple's total net sales in the quarter?", admin, k=5)
    assert 10 not in {r.chunk.page_start for r in total}


NET_PP_AND_E = "What was Microsoft's net property and equipment as of September 30, 2023?"


def test_a_balance_is_read_off_the_balance_sheet_not_a_notes_table_of_one_part() -> None:
    """p22's lease note ("Supplemental balance sheet information") has a "Property and equipment,
    net" line for finance leases alone; the company's is the balance sheet's line (p5)."""
    sources = _pages_as_sources("2023 Q3 MSFT.pdf", "Microsoft Corporation | 10-Q", 22, 5)
    extracted = Extractor().extract(NET_PP_AND_E, sources)
    assert extracted is not None and "$102,502 million at September 30, 2023" in extracted.text, extracted
    assert extracted.citation.page == 5


def test_a_page_of_several_chunks_is_known_as_a_statement_by_its_whole_text() -> None:
    """The store gives a page as the chunks on it joined, marking where each chunk starts: the
    statement's title is in the first, most of its figures in the next."""
    sources = _pages_as_sources("2023 Q3 MSFT.pdf", "Microsoft Corporation | 10-Q", 22, 5)
    lease_note, balance_sheet = (source.chunk.text for source in sources)
    half = len(balance_sheet) // 3

    def context(chunk: StoredChunk) -> PageText:
        if chunk.page_start == 5:
            return PageText(balance_sheet, 0, ((0, 5), (half, 5)))
        return PageText(lease_note, 0, ((0, 22),))

    extracted = Extractor(context=context).extract(NET_PP_AND_E, sources)
    assert extracted is not None and "$102,502 million" in extracted.text, extracted


def test_an_abbreviated_line_item_is_not_a_business_line() -> None:
    """"PP&E" abbreviates the balance sheet's line, where "DCAI" names a segment: Intel's balance
    sheet line (p8) answers, not a segment note's "Net additions to property, plant, and equipment"
    (p41), which had won when the line's own words counted as a segment's name."""
    question = "英特尔2023年7月1日的物业、厂房和设备净额（PP&E, net）是多少？"
    assert Question.parse(question).acronyms == frozenset()
    assert Question.parse("英特尔DCAI的营收").acronyms == {"DCAI"}
    sources = _pages_as_sources("2023 Q2 INTC.pdf", "Intel Corporation | 10-Q", 41, 8)
    extracted = Extractor().extract(question, sources)
    assert extracted is not None and "$90,945 million at July 1, 2023" in extracted.text, extracted
