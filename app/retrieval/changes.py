"""Questions that ask how much something changed, and the tables that say it.

"how much did microsoft's operating income grow in the july-sept 2023 quarter?" is answered by the
MD&A's summary table ("Operating income 26,895 21,518 25%" under "Percentage Change"), whose chunk
shares few words with the question beyond the line's name, while the income statement's row, with
the amounts and no change, ranks first. Like the statements' pages, tables with a change column
are a ranked list of their own for the questions that ask for a change.
"""

import re

_GO = r"\b(?:go|goes|gone|going|went)\s+"
DOWN_WORDS = rf"declin|decreas|\bf[ae]ll|\bdrop|shr[iau]nk|{_GO}down\b|减少|下降|下滑|跌|掉了|降了|降低"
UP_WORDS = rf"increas|\bgr[eo]w|\bris[ei]|\brose\b|\bjump|\bclimb|{_GO}up\b|增加|增长|上升|涨"
CHANGE_ASKED = re.compile(rf"chang|变化|{DOWN_WORDS}|{UP_WORDS}", re.IGNORECASE)

# A column of changes named over a table: "Percentage Change", "% Change", "$ Change",
# "Year-over-Year Change", Amazon's "Year-over-year Percentage Growth (Decline)"
_CHANGE_COLUMN = re.compile(
    r"(?:percentage|%|\$)\s*change\b|(?:year|quarter)[-\s]+over[-\s]+(?:year|quarter)|percentage\s+growth",
    re.IGNORECASE,
)
_PERCENT_CELL = re.compile(r"\(?\d+(?:\.\d+)?\)?\s?%")
_FIGURE = re.compile(r"\d{1,3}(?:,\d{3})+")
_MIN_FIGURES = 6  # a table of them, not a sentence that mentions a change
_MIN_PERCENTS = 3


def asks_for_change(question: str) -> bool:
    return CHANGE_ASKED.search(question) is not None


def states_changes(text: str) -> bool:
    """A table with a column of changes: its header names one, and its rows print amounts and rates."""
    return (
        _CHANGE_COLUMN.search(text) is not None
        and len(_FIGURE.findall(text)) >= _MIN_FIGURES
        and len(_PERCENT_CELL.findall(text)) >= _MIN_PERCENTS
    )
