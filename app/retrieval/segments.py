"""Segment results: the tables that give each business line's revenue and operating income, and the
questions that ask for one.

A segment's operating income ("英伟达图形部门的营业利润是多少") is printed in the segment note's table,
whose chunk shares few words with the question (the segments' names head its columns, the figures fill
its rows) while prose about the segment ranks first. Like the statements' pages, such tables are a
ranked list of their own for the questions that name a segment.

Revenue broken down by product, category, market or region is the same kind of table one note
further ("Revenue, classified by significant product and service offerings, was as follows:" over
rows for Windows, Gaming, ...): the row a question names ("微软游戏业务收入", Amazon's advertising
sales) sits in a chunk of figures, often apart from the lead-in sentence that says what they are.
Such pages are recognised by that sentence anywhere on them, and searched with the words that name
the row. A question that asks how much a line changed gets only the breakdowns that print the
change (Apple's "Mac ... (10)%"): a table of amounts alone would push out the sentence that states it
("Devices revenue decreased $553 million or 30%").
"""

import re
from collections import defaultdict

from app.retrieval.dates import MONTH_NAMES, MONTHS
from app.retrieval.statements import page_segments
from app.retrieval.text import word_list
from store.records import StoredChunk

_ASKS = re.compile(r"\bsegments?\b|部门|分部|事业部", re.IGNORECASE)
# "Net sales by reportable segment", "Segment Information", or segments' names over the columns and
# the company's total last ("Compute & Networking Graphics All Other Consolidated / (In millions)")
_TABLE = re.compile(
    r"reportable\s+segments?|segment\s+information|by\s+segments?\b|\bConsolidated\s*\(\s*In\s+millions\s*\)"
    r"|revenue\s+and\s+operating\s+income\s+\(loss\)\s+for\s+each\s+period",  # Intel's lead-in
    re.IGNORECASE,
)
_MEASURE = re.compile(r"operating\s+income|revenue|net\s+sales", re.IGNORECASE)
_FIGURE = re.compile(r"\d{1,3}(?:,\d{3})+")
_MIN_FIGURES = 8  # a table of them, not a sentence that mentions a segment


def asks_for_segment_results(question: str) -> bool:
    return _ASKS.search(question) is not None


def states_segment_results(text: str) -> bool:
    return bool(_TABLE.search(text) and _MEASURE.search(text)) and len(_FIGURE.findall(text)) >= _MIN_FIGURES


# "Net sales by category", "Net sales by groups of similar products", "revenue by each of the
# specialized markets we serve", "Revenue, classified by the major geographic areas", "Net sales
# disaggregated by significant products and services"
_BREAKDOWN = re.compile(
    r"(?:revenues?|net\s+sales)\W{0,3}(?:classified\s+|disaggregated\s+)?by\s+(?:[a-z]+\s+){0,4}?"
    r"(?:products?|categor(?:y|ies)|markets?|geographic\w*|regions?|groups?)\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"\d\s?\)?\s?%")
_MIN_CHANGES = 3  # a column of them, not a footnote's rate
_ASKS_REVENUE = re.compile(r"\b(?:revenues?|sales)\b|收入|营收|销售额|营业额", re.IGNORECASE)
# Words of any revenue question, which name no row of a breakdown: what is left names the row.
NOT_AN_ITEM = frozenset(
    {
        "revenue", "revenues", "sale", "sales", "net", "total", "consolidated", "quarter", "quarters", "month",
        "months", "year", "fiscal", "period", "ended", "ending", "three", "six", "nine", "first", "second",
        "third", "fourth", "q1", "q2", "q3", "q4", "much", "many", "company",
    }
    | {name.lower() for name in MONTH_NAMES}  # "the january-march 2023 quarter": the period, not a line
    | set(MONTHS)
)
# Words after a line's name that say it is one: "Microsoft Cloud revenue", not "microsoft book in".
_LINE_FOLLOWS = frozenset(word_list("revenue revenues sales sale gross margin income growth business segment"))


def names_a_branded_line(question: str, companies: frozenset[str] | set[str], items: list[str]) -> bool:
    """"Microsoft Cloud revenue": a line named with the company's name, which its breakdown does not
    list by that name (its rows "Server products and cloud services" share only the word "cloud")."""
    words = re.findall(r"[A-Za-z0-9&]+(?:['’]s)?", question)
    return any(
        a.lower() in companies and b.lower() in items and (b[:1].isupper() or c.lower() in _LINE_FOLLOWS)
        for a, b, c in zip(words, words[1:], [*words[2:], ""], strict=False)
    )


def states_revenue_breakdown(page_text: str) -> bool:
    return _BREAKDOWN.search(page_text) is not None


_TABLE_END = re.compile(r"^\s*(?:Total|Consolidated)\b", re.MULTILINE)
LEAD_IN_REACH = 800  # characters: a table of ten lines under its lead-in


def breakdown_measure(text_above: str) -> str | None:
    """The measure ("Revenue", "Net sales") of the breakdown whose table a row is in, from the text
    above the row: the rows "United States", "Gaming" name no measure, their lead-in does. None
    where no lead-in is above or its table ended (its "Total" line) before the row."""
    window = text_above[-LEAD_IN_REACH:]
    lead_ins = list(_BREAKDOWN.finditer(window))
    if not lead_ins:
        return None
    last = lead_ins[-1]
    if _TABLE_END.search(window, last.end()):
        return None
    return re.split(r"\W+(?:classified|disaggregated|by)\b", last.group(0), maxsplit=1, flags=re.I)[0]


def asks_for_revenue(question: str) -> bool:
    return _ASKS_REVENUE.search(question) is not None


class BreakdownPageFinder:
    """Fed every chunk once, says which chunks hold the figures of a page that breaks revenue down
    (the lead-in may lie in the chunk before the table's)."""

    def __init__(self) -> None:
        self._pages: set[tuple[int, int]] = set()
        self._tables: dict[tuple[int, int], list[int]] = defaultdict(list)
        self._changes: set[int] = set()  # table chunks with a column of changes

    def add(self, chunk: StoredChunk) -> None:
        for page, _, segment in page_segments(chunk):
            key = (chunk.document_id, page)
            if states_revenue_breakdown(segment):
                self._pages.add(key)
            if len(_FIGURE.findall(segment)) >= _MIN_FIGURES:
                self._tables[key].append(chunk.id)
                if len(_PERCENT.findall(segment)) >= _MIN_CHANGES:
                    self._changes.add(chunk.id)

    def chunks(self) -> list[int]:
        return [chunk_id for key in self._pages for chunk_id in self._tables.get(key, [])]

    def chunks_with_changes(self) -> list[int]:
        return [chunk_id for chunk_id in self.chunks() if chunk_id in self._changes]
