"""The period of a row in a statement of stockholders' equity, which no column header gives.

Such a statement prints each period as a block: "Balance as of December 31, 2022", the period's rows
(net income, dividends declared, repurchases), then "Balance as of July 1, 2023", under a heading
"Six Months Ended". A row in the block is a flow over the months ended on the closing balance's date.
Without it, Intel's "Cash dividends declared ($0.37 per share)" of the quarter and "($0.49 per share)"
of the six months, and the same rows a year earlier, were one answer each to "the first half of 2023".
"""

import re
from dataclasses import replace

from app.chain.tables import Period, Row
from app.retrieval.dates import find_dates

_BALANCE = re.compile(r"^\s*Balances?\b[^\n]*", re.IGNORECASE | re.MULTILINE)
_SPAN = re.compile(r"^\s*(Three|Six|Nine|Twelve)\s+Months\s+Ended\b", re.IGNORECASE | re.MULTILINE)


def with_block_period(row: Row, text: str) -> Row:
    """The row with the months it covers as its cells' period, where its own header gave none and
    it lies between two dated balance lines under a months-ended heading (as it is otherwise)."""
    if any(p is not None for p in row.periods) or _BALANCE.match(row.label):
        return row
    opening = [m for m in _BALANCE.finditer(text, 0, row.offset) if find_dates(m.group(0))]
    closing = next((m for m in _BALANCE.finditer(text, row.offset) if find_dates(m.group(0))), None)
    spans = list(_SPAN.finditer(text, 0, row.offset))
    if not opening or closing is None or not spans or spans[-1].start() > opening[-1].start():
        return row  # not inside a balance-to-balance block that a heading above dates
    end = find_dates(closing.group(0))[0]
    period = Period(f"{spans[-1].group(1).lower()} months ended", end.month, end.day, end.year)
    return replace(row, periods=(period,) * len(row.cells))
