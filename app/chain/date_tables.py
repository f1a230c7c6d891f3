"""Rows of dates under columns named "... Date" in a page's pypdf text.

Microsoft's dividends table prints, for each dividend, its declaration, record and payment dates on
one line, under column names that pypdf puts on lines of their own above:

    Declaration Date / Record Date / Payment Date / Dividend / Per Share / Amount
    September 19, 2023     November 16, 2023       December 14, 2023     $ 0.75     $ 5,573

A figure row reader skips such a line (its cells are dates); read here, each date is named by its
column, which is what "when will the dividend declared on September 19 be paid?" asks for.
"""

import re
from dataclasses import dataclass

from app.retrieval.dates import MONTH

_FULL_DATE = re.compile(rf"\b{MONTH}\s+\d{{1,2}},\s+(?:19|20)\d{{2}}\b", re.IGNORECASE)
_STARTS_WITH_DATES = re.compile(rf"^\s*{_FULL_DATE.pattern}\s+{_FULL_DATE.pattern}", re.IGNORECASE)
_DATE_COLUMN = re.compile(r"\b[A-Z][a-z]+\s+Date\b")  # "Declaration Date", "Record Date"


@dataclass(frozen=True)
class DatedRow:
    columns: tuple[str, ...]  # the column names, one per date: "Declaration Date", "Record Date", ...
    dates: tuple[str, ...]  # as printed: "September 19, 2023"
    line: str  # the row as printed
    offset: int  # where `line` (stripped) starts in the page text

    def render(self) -> str:
        return "; ".join(f"{column}: {date}" for column, date in zip(self.columns, self.dates, strict=True))


def _is_prose(line: str) -> bool:
    """A sentence ends the table's header: "Our Board of Directors declared the following dividends:"."""
    return line.rstrip().endswith(".") or sum(w.isalpha() and w.islower() for w in line.split()) >= 5


def dated_rows(page: str) -> list[DatedRow]:
    """Lines that start with two or more dates, where the header above names as many date columns."""
    rows: list[DatedRow] = []
    header: list[str] = []
    columns: list[str] = []  # the names in force: a second row under "Fiscal Year 2023" keeps them
    offset = 0
    for line in page.split("\n"):
        start, offset = offset, offset + len(line) + 1
        if _STARTS_WITH_DATES.match(line):
            named = _DATE_COLUMN.findall(" ".join(header))
            columns = [" ".join(name.split()) for name in named] or columns
            dates = [" ".join(date.split()) for date in _FULL_DATE.findall(line)]
            if columns and len(dates) == len(columns):
                stripped = line.strip()
                rows.append(DatedRow(tuple(columns), tuple(dates), stripped, start + line.index(stripped[:1])))
            header = []
            continue
        if _is_prose(line):
            header, columns = [], []
        elif line.strip():
            header.append(line.strip())
    return rows
