"""Segment results: the tables that give each business line's revenue and operating income, and the
questions that ask for one.

A segment's operating income ("英伟达图形部门的营业利润是多少") is printed in the segment note's table,
whose chunk shares few words with the question (the segments' names head its columns, the figures fill
its rows) while prose about the segment ranks first. Like the statements' pages, such tables are a
ranked list of their own for the questions that name a segment.
"""

import re

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
