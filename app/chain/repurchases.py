"""The issuer's share repurchases month by month (Item 2 of a 10-Q): a table whose columns name what
its figures are ("Average Price Paid Per Share") and whose rows are date ranges.

The general row reader takes such a table's ranges for column periods and its column names for
nothing, so "what average price did Apple pay per share between June 4 and July 1, 2023?" was
answered with the nine months' repurchases from the cash flow statement. Here each cell is read as
the column's measure over the row's range.
"""

import re
from dataclasses import dataclass
from datetime import date

from app.chain.tables import DASHES, split_cells
from app.retrieval.dates import find_dates

# The columns as the filings print them, each over several lines; in the order they are found.
_COLUMNS = (
    ("Total number of shares purchased", r"Total\s+Number\s+of\s+Shares\s+Purchased(?!\s+as\s+Part)"),
    ("Average price paid per share", r"Average\s+Price\s+Paid\s+Per\s+Share"),
    (
        "Total number of shares purchased as part of publicly announced plans or programs",
        r"Total\s+Number\s+of\s+Shares\s+Purchased\s+as\s+Part\s+of\s+Publicly\s+Announced",
    ),
    (
        "Approximate dollar value of shares that may yet be purchased under the plans or programs",
        r"Approximate\s+Dollar\s+Value\s+of\s+Shares\s+That\s+May\s+Yet\s+Be\s+Purchased",
    ),
)
_HEADER_START = re.compile(r"^\s*Periods?\s*$", re.IGNORECASE | re.MULTILINE)
_HEADER_REACH = 1200  # characters from "Period" to the first row
# "June 4, 2023 to July 1, 2023:", "July 31, 2023 - August 27, 2023", "July 1, 2022 – July 31, 2022"
_RANGE = re.compile(r"([A-Z][a-z]+\s+\d{1,2},\s+\d{4})\s*(?:to|-|–|—|through)\s*([A-Z][a-z]+\s+\d{1,2},\s+\d{4}):?")


@dataclass(frozen=True)
class RepurchaseCell:
    column: str  # what the figure is ("Average price paid per share")
    value: str  # as printed, without its "$" ("184.34")
    dollars: bool  # printed with a "$" (or in a column of prices or dollar values)


@dataclass(frozen=True)
class RepurchaseRow:
    start: date
    end: date
    span: str  # the range as printed ("June 4, 2023 to July 1, 2023")
    cells: tuple[RepurchaseCell, ...]
    line: str  # the figures' line as printed
    offset: int  # where `line` starts in the page text

    def covers(self, year: int, month: int | None, day: int | None) -> bool:
        """Does a date the question names fall in the range (a month: the range's middle is in it)?"""
        if month is None:
            return False
        if day is not None:
            try:
                return self.start <= date(year, month, day) <= self.end
            except ValueError:
                return False
        middle = self.start + (self.end - self.start) / 2
        return (middle.year, middle.month) == (year, month)

    def render(self, cell: RepurchaseCell) -> str:
        sign = "$" if cell.dollars else ""
        return f"Share repurchases, {self.span} — {cell.column}: {sign}{cell.value}"


def repurchase_rows(page: str) -> list[RepurchaseRow]:
    """The rows of the page's monthly repurchase table, or none where it has no such table."""
    header = _HEADER_START.search(page)
    if header is None:
        return []
    window = page[header.end() : header.end() + _HEADER_REACH]
    found = sorted((m.start(), name) for name, pattern in _COLUMNS if (m := re.search(pattern, window, re.IGNORECASE)))
    if len(found) < 2:
        return []
    columns = [name for _, name in found]
    rows = []
    for match in _RANGE.finditer(page, header.end()):
        dates = find_dates(f"{match.group(1)} {match.group(2)}")
        if len(dates) != 2:
            continue
        line_start = page.rfind("\n", 0, match.start()) + 1
        line_end = page.find("\n", match.end())
        line_end = len(page) if line_end < 0 else line_end
        figures, at = page[match.end() : line_end], match.end()
        if not split_cells(figures):  # Apple's range heads the line of figures below it
            next_end = page.find("\n", line_end + 1)
            next_end = len(page) if next_end < 0 else next_end
            line_start, at = line_end + 1, line_end + 1
            label = re.match(r"[^\d$]*", page[at:next_end])
            at += label.end() if label else 0
            figures, line_end = page[at:next_end], next_end
        values = split_cells(figures)
        if not values or len(values) > len(columns):
            continue
        cells = tuple(
            RepurchaseCell(
                name, value.lstrip("$ "), value.startswith("$") or name.startswith(("Average", "Approximate"))
            )
            for name, value in zip(columns, values, strict=False)
            if value not in DASHES
        )
        span = f"{match.group(1)} to {match.group(2)}"
        rows.append(RepurchaseRow(dates[0], dates[1], span, cells, page[line_start:line_end].strip(), line_start))
    return rows
