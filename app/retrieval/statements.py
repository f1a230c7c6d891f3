"""Primary financial statements: which pages hold them, and which of them a question asks about.

Most questions about a company's figures are answered on one of three pages of its report: the
balance sheet, the income statement or the cash flow statement. Those pages are tables of numbers
whose chunks share few words with a question ("FY2018 capital expenditure" against "Purchases of
property, plant and equipment (1,577)"), so neither search ranks them, while prose that discusses
the same figures ranks first. A page is recognised by the statement title at its top; a question
by naming the statement or a figure that is read off it.
"""

import re
from collections import defaultdict
from enum import StrEnum

from store.records import StoredChunk


class Statement(StrEnum):
    BALANCE_SHEET = "balance sheet"
    INCOME = "income statement"
    CASH_FLOW = "cash flow statement"
    COMPREHENSIVE_INCOME = "statement of comprehensive income"


OPENING_CHARS = 400  # how much of a page's start is kept to find its title
# A title starts within this many letters of the page's top (after a running header and the
# company's name); further down, a statement's name is a mention in prose or a contents line.
TITLE_WITHIN = 90

# Page titles, matched on the letters alone: PDF text splits titles ("Balance Shee t",
# "STATEMENTS OF / OPERATIONS") and titles run into company names.
_PAGE_TITLES: tuple[tuple[Statement, re.Pattern[str]], ...] = (
    (
        Statement.BALANCE_SHEET,
        re.compile(r"balancesheets?|statements?of(?:consolidated)?financial(?:position|condition)"),
    ),
    (Statement.CASH_FLOW, re.compile(r"statements?of(?:consolidated)?cashflows?|cashflows?statements?")),
    (
        Statement.INCOME,
        re.compile(r"statements?of(?:consolidated)?(?:operations|income|earnings)|incomestatements?"),
    ),
    (Statement.COMPREHENSIVE_INCOME, re.compile(r"statements?of(?:consolidated)?comprehensive(?:income|loss)")),
)
# A page that bears this many statement titles at its top is a contents page.
_CONTENTS_TITLES = 3
# Pages that list or discuss the statements rather than show them, or a note's extra detail
# ("Supplemental balance sheet information related to leases").
_NOT_A_STATEMENT = re.compile(
    r"reportofindependent|tableofcontentsforthe|indextofinancialstatements|supplemental(?:balancesheet|cashflow)"
)
# The part and item headings a 10-Q prints above its first statement ("PART I. FINANCIAL
# INFORMATION / ITEM 1. FINANCIAL STATEMENTS (UNAUDITED)"): not part of the page's title.
_PREAMBLE = re.compile(
    r"^(?:part(?:i|1))?(?:financialinformation)?(?:item(?:i|1))?(?:financialstatements)?(?:unaudited)?"
)
_NUMBER = re.compile(r"\(?\$?\d[\d,.]*\)?")
_MIN_NUMBERS = 40  # a statement page is a table: dozens of figures, where prose has a few


def page_statements(opening: str, numbers: int) -> set[Statement]:
    """The statements a page shows, from its opening lines; a page of fewer figures (`numbers`)
    than a statement table has shows none (an audit report or a note that names the statements)."""
    letters = _PREAMBLE.sub("", re.sub(r"[^a-z]", "", opening[:OPENING_CHARS].lower()))
    if _NOT_A_STATEMENT.search(letters) or numbers < _MIN_NUMBERS:
        return set()
    found: set[Statement] = set()
    for statement, title in _PAGE_TITLES:
        match = title.search(letters, 0, TITLE_WITHIN + 50)
        if match and match.start() <= TITLE_WITHIN and not letters[: match.start()].endswith("comprehensive"):
            found.add(statement)  # "statements of comprehensive income" is not the income statement
    return found if len(found) < _CONTENTS_TITLES else set()


class StatementPageFinder:
    """Fed every chunk once (in any order), says which chunks lie on statement pages. Keeps only
    each page's opening and a count of its figures, not its text."""

    def __init__(self) -> None:
        self._openings: dict[tuple[int, int], list[tuple[int, str]]] = defaultdict(list)
        self._numbers: dict[tuple[int, int], int] = defaultdict(int)
        self._chunks: dict[tuple[int, int], list[int]] = defaultdict(list)

    def add(self, chunk: StoredChunk) -> None:
        for page, offset, segment in page_segments(chunk):
            key = (chunk.document_id, page)
            self._openings[key].append((offset, segment[:OPENING_CHARS]))
            self._numbers[key] += len(_NUMBER.findall(segment))  # overlaps count twice: a rough count
            self._chunks[key].append(chunk.id)

    def chunks_by_statement(self) -> dict[Statement, list[int]]:
        found: dict[Statement, list[int]] = defaultdict(list)
        for key, pieces in self._openings.items():
            for statement in page_statements(_joined(pieces), self._numbers[key]):
                found[statement] += self._chunks[key]
        return dict(found)


def _joined(pieces: list[tuple[int, str]]) -> str:
    """The page's first characters from (document offset, text) pieces that may overlap."""
    text = ""
    end = None
    for offset, piece in sorted(pieces):
        if end is not None and offset < end:
            piece = piece[end - offset :]  # the part the previous chunk already gave
            offset = end
        text += piece
        end = offset + len(piece)
        if len(text) >= OPENING_CHARS:
            break
    return text[:OPENING_CHARS]


def page_segments(chunk: StoredChunk) -> list[tuple[int, int, str]]:
    """(page, offset in the document, text) of each page a chunk covers; without recorded breaks,
    the whole text for each page."""
    pages = range(chunk.page_start, chunk.page_end + 1)
    if len(chunk.page_breaks) != len(pages) - 1:
        return [(page, chunk.char_start, chunk.text) for page in pages]
    cuts = [0, *chunk.page_breaks, len(chunk.text)]
    return [(page, chunk.char_start + cuts[i], chunk.text[cuts[i] : cuts[i + 1]]) for i, page in enumerate(pages)]


def _phrases(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


# A question names a statement...
_NAMED: tuple[tuple[Statement, re.Pattern[str]], ...] = (
    (Statement.BALANCE_SHEET, _phrases(r"balance\s+sheets?", r"statements?\s+of\s+financial\s+(?:position|condition)")),
    (
        Statement.INCOME,
        _phrases(
            r"income\s+statements?", r"statements?\s+of\s+(?:operations|income|earnings)", r"P&L|profit\s+and\s+loss"
        ),
    ),
    (Statement.CASH_FLOW, _phrases(r"cash\s+flows?\s+statements?", r"statements?\s+of\s+cash\s+flows?")),
    # "comprehensive income" is read off its own statement, whether the question calls it a statement or not
    (Statement.COMPREHENSIVE_INCOME, re.compile(r"\bcomprehensive\s+(?:income|loss)|综合收益|综合损益", re.IGNORECASE)),
)
# ...or a figure, or a ratio of figures, that is read off one.
_FIGURES: tuple[tuple[Statement, re.Pattern[str]], ...] = (
    (
        Statement.BALANCE_SHEET,
        _phrases(
            r"PP&?E|PPNE|property,?\s+plant,?\s+(?:and|&)\s+equipment",
            # "net property and equipment", "property and equipment, net": the balance, not the additions
            r"net\s+property(?:,?\s+plant)?,?\s+(?:and|&)\s+equipment|property(?:,?\s+plant)?,?\s+(?:and|&)\s+"
            r"equipment,?\s+net",
            r"inventor(?:y|ies)",
            r"working\s+capital",
            r"(?:quick|current|cash)\s+ratio",
            r"total\s+assets",
            r"current\s+(?:assets|liabilities)",
            r"accounts\s+(?:payable|receivable)",
            r"days\s+(?:payable|sales|inventory)\s+outstanding|DPO|DSO|DIO",
            r"(?:shareholders|stockholders)['’]?\s+equity",
            r"debt[- ]to[- ]equity|return\s+on\s+(?:assets|equity)|ROA|ROE",
            r"(?:fixed\s+asset|asset)\s+turnover",
            r"capital[- ]intensive|capital\s+intensity",
            r"cash\s+and\s+cash\s+equivalents|cash\s+(?:on\s+hand|balance|position|holdings?)\b"
            # "how much cash did Amazon have", not "how much cash did Apple pay in interest"
            r"|cash\s+(?:did|does|do)\b(?!\s+(?:\w+\s+){1,3}(?:pay|paid|spend|spent)\b)",
            r"long[- ]term\s+debt|total\s+(?:debt|liabilities)|goodwill|marketable\s+securities",
            r"(?:unearned|deferred)\s+revenues?|commercial\s+paper|accrued\s+(?:expenses|liabilities)",
        ),
    ),
    (
        Statement.INCOME,
        _phrases(
            r"gross\s+(?:margins?|profits?)",
            r"operating\s+(?:margins?|income|profits?)",
            r"net\s+(?:income|profit|earnings)(?:\s+margin)?",
            r"COGS|cost\s+of\s+(?:goods\s+sold|sales|revenues?)",
            r"EBITDA?|interest\s+coverage",
            r"effective\s+tax\s+rate",
            r"EPS|earnings\s+per\s+share",
            r"(?:total\s+)?revenues?\s+growth|(?:year-over-year|yoy)\s+change\s+in\s+revenues?",
            r"(?:inventory|asset|fixed\s+asset)\s+turnover|days\s+(?:payable|sales|inventory)\s+outstanding|DPO",
            r"(?:total\s+|net\s+)?(?:revenues?|sales)(?!\s+growth)",
            r"R&D|research\s+and\s+development|(?:total\s+)?operating\s+expenses|SG&A|net\s+loss",
            r"income\s+(?:\(loss\)\s+)?before\s+(?:provision\s+for\s+)?(?:income\s+)?tax(?:es)?|pre-?tax\s+(?:income|profit)",
            r"provision\s+for\s+income\s+taxes|income\s+tax\s+(?:expense|provision)",
            r"technology\s+and\s+(?:infrastructure|content)|fulfillment|(?:selling,?\s+|marketing,?\s+)?general\s+and\s+"
            r"administrative|restructuring\s+(?:and\s+other\s+)?charges",
        ),
    ),
    (
        Statement.CASH_FLOW,
        _phrases(
            r"capex|capital\s+expenditures?|(?:purchases?|additions?)\s+(?:of|to)\s+property",
            r"free\s+cash\s*flows?",
            r"(?:cash\s+from|cash\s+provided\s+by)\s+operati(?:ons|ng\s+activities)|operating\s+cash\s+flows?",
            r"D&A|depreciation(?:\s+and\s+amortization)?|stock-based\s+compensation",
            # "How much did Apple pay for property, plant and equipment": the investing line, not the balance
            r"(?:pa(?:y|id)|spen[dt]|payments?)\s+(?:\w+\s+){0,2}(?:for|on)\s+(?:the\s+)?(?:acquisition\s+of\s+)?property",
            r"dividends?\s+paid|repurchases?\s+of\s+(?:common\s+)?stock|pa(?:y|id)\s+(?:\w+\s+)?(?:in\s+)?dividends?",
            r"buy(?:ing)?[- ]?backs?|bought\s+back|(?:share|stock)\s+repurchases?",
            r"issuance|proceeds\s+from",  # "Issuance of long-term debt, net of issuance costs"
            r"repurchas\w*\s+(?:of\s+)?(?:its\s+|their\s+|our\s+)?(?:common\s+)?(?:stock|shares)",
            r"repa(?:y|id|yments?)\s+(?:of\s+)?(?:\w+\s+)?debt|debt(?:\s+[\w']+){0,3}\s+repa(?:y|id|yments?)",
            r"(?:cash|restricted\s+cash)\b.*\bend\s+of\s+(?:the\s+)?period|restricted\s+cash",
            r"(?:operating|investing|financing)\s+activities|operations,\s+investing,?\s+and\s+financing",
            r"capital[- ]intensive|capital\s+intensity",
            # the supplemental lines under "Cash paid during the period for:"
            r"cash\s+(?:paid\s+(?:for\s+)?)?(?:interest|income\s+taxes)|(?:interest|income\s+taxes)\s+paid",
            r"pa(?:y|id)\s+(?:in\s+|for\s+)?(?:income\s+)?(?:interest|taxes)",  # "did Apple pay in interest"
        ),
    ),
    # Chinese has no word boundaries for \b: "向股东支付了多少股息" (dividends paid)
    (
        Statement.CASH_FLOW,
        # and "分红一共付出去多少现金": the dividends, then what was paid out
        re.compile(
            r"(?:支付|派发|付出)[^，。？?]{0,6}(?:股息|股利|分红)|(?:股息|股利|分红)[^，。？?]{0,4}(?:支付|派发|付出|付了|发了)"
            # and the interest or income tax paid in cash ("实际支付的利息", "缴纳了多少所得税")
            r"|(?:支付|缴纳|缴|交|付)[^，。？?]{0,6}(?:利息|所得税|现金税|税)|(?:利息|所得税)[^，。？?]{0,4}(?:支付|缴纳|付了|交了)"
        ),
    ),
)


def statements_named(question: str) -> dict[Statement, str]:
    """The statements a question names as such ("on its balance sheet"), with the words naming
    them: they say where the figure is, not which line it is."""
    named: dict[Statement, str] = {}
    for statement, pattern in _NAMED:
        match = pattern.search(question)
        if match and statement is not Statement.COMPREHENSIVE_INCOME:  # that is also a figure's name
            named[statement] = match.group(0)
    return named


def text_statements(page_text: str) -> set[Statement]:
    """The statements a page shows, from its own text (the title at its top, its many figures)."""
    return page_statements(page_text[:OPENING_CHARS], len(_NUMBER.findall(page_text)))


def statements_asked(question: str) -> list[Statement]:
    """The statements a question needs: those it names first, then those its figures are read
    off, each group in the order the question mentions them."""
    found: dict[Statement, tuple[int, int]] = {}
    for rank, patterns in enumerate((_NAMED, _FIGURES)):
        for statement, pattern in patterns:
            match = pattern.search(question)
            if match and statement not in found:
                found[statement] = (rank, match.start())
    return sorted(found, key=lambda s: found[s])
