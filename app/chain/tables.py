"""Rows of the tables in a page's pypdf text, each figure labelled with its column's period.

Financial statements come out of pypdf as one line per row ("Cash and cash equivalents $ 53,888
$ 49,605") under header lines that name the periods, in one of a few layouts:

    December 31, 2022 September 30, 2023                one date per column
    Three Months Ended / September 30, / 2022 2023 2022 2023    groups, month-days, then years
    Three Months Ended Nine Months Ended / July 1, / 2023 / June 25, / 2022 / ...   a date per column

A header is every non-row line since the previous row; a table continues under the last header
that named periods until another one does. The unit comes from the page's "(in millions ...)".
"""

import re
from dataclasses import dataclass, replace

from app.retrieval.dates import MONTH, MONTH_NAMES, month_number

# A cell: "$ 49,605", "(1,577)", "35.8 %", "—"; NVIDIA's summary prints a margin's change in points
# ("10.1 pts", "(11.6) pts").
_CELL = (
    r"(?:\$\s*)?(?:\(\s*\$?\s*[\d,]*\d(?:\.\d+)?\s*\)|[-−]?[\d,]*\d(?:\.\d+)?)(?:\s?%|\s(?:pts|bps)\b)?"
    r"|(?:\$\s*)?[—–](?:\s?%)?"
)
# The first cell starts a token: "Rule 10b5-1" ends a sentence, not a row of 5 and -1 (nor of 1).
_ROW = re.compile(rf"^(?P<label>.*?[A-Za-z\u3400-\u9fff][^$]*?)\s*(?<![A-Za-z0-9-])(?P<cells>(?:\s*(?:{_CELL}))+)\s*$")
_ONE_CELL = re.compile(_CELL)
_ENDS_A_SENTENCE = re.compile(r"[a-z]{2}[.;]\s+[A-Z]")  # not "U.S. Federal"
_GOES_ON = re.compile(r"\s*[a-z]")
_GROUP = re.compile(
    r"\b(three|six|nine|twelve|3|6|9|12)\s+months\s+ended|\b(?:fiscal\s+)?(year)\s+ended|\b(quarter)\s+ended",
    re.IGNORECASE,
)
# A month-day, with its year when printed on the same line ("July 1,\n2023" leaves it for the next).
_MONTH_DAY = re.compile(rf"\b({MONTH})\s*(\d{{1,2}})\b(?:[ \t]*,[ \t]*((?:19|20)\d{{2}})\b)?", re.IGNORECASE)
_YEAR = re.compile(r"(?<![\d,.$])((?:19|20)\d{2})(?![\d,])")
_UNIT = re.compile(r"in\s+(thousands|millions|billions)", re.IGNORECASE)
# Rows that count things, not dollars, in a dollar table: shares, people, percentages.
_COUNTED = re.compile(r"\bshares?\b|^(?:basic|diluted)$|employees|headcount|%|percent", re.IGNORECASE)
_SECTION = re.compile(r"[A-Z][A-Za-z&.,' -]{1,38}")  # "AWS", "North America" between rows
# A heading ending in a colon names the rows under it: "Net Sales:" over North America / AWS,
# "Operating income (loss):" over the same names, "Current assets:" over cash and inventories.
_COLON_HEADING = re.compile(r"([A-Z][A-Za-z&.,'()\- ]{1,60}):")
_TOTAL = re.compile(r"total\b", re.IGNORECASE)
# A line of figures alone under a segment's rows is the segment's total (Intel prints "Client
# Computing" over Desktop / Notebook / Other, then "7,867 8,128 20,414 25,128" with no label).
_FIGURES_ONLY = re.compile(rf"^(?:\s*(?:{_CELL}))+\s*$")
_GROUP_WORDS = {"3": "three", "6": "six", "9": "nine", "12": "twelve"}
DASHES = ("—", "–")  # a cell with nothing to report
# A line that starts with the unit of the figure that ended the line before: "billion of revenue ..."
UNIT_START = re.compile(r"\s*(?:billion|million|thousand|trillion)\b", re.I)
# The rows after a balance sheet's current liabilities are long-term ones, labelled so or not,
# until the equity section (or the commitments and contingencies line above it) begins.
_CURRENT_LIABILITIES_TOTAL = re.compile(r"total\s+current\s+liabilities$", re.IGNORECASE)
LONG_TERM_LIABILITIES = "Long-term liabilities"
_EQUITY = re.compile(r"equity|stock\b|contingencies", re.IGNORECASE)
_QUARTER_YEAR = re.compile(r"\b(Q[1-4]|YTD)\s+((?:19|20)\d{2})\b", re.IGNORECASE)
# Intel's MD&A bridges from one period's segment figure to another's print the figure first, then its
# period and name: "$ 2,073 Q3 2023 CCG Operating Income" (the lines between are the reasons).
_FIGURE_FIRST = re.compile(
    rf"^(?P<cell>{_CELL})\s+(?P<period>(?:Q[1-4]|YTD)\s+(?:19|20)\d{{2}})\s+(?P<label>[A-Z][A-Za-z&()\- ]{{2,60}})$"
)


@dataclass(frozen=True)
class Period:
    group: str  # "three months ended", "year ended", "" (a balance sheet's date)
    month: int | None
    day: int | None
    year: int | None

    name: str = ""  # as the header prints it, where that is all it says ("Q3 2022", "YTD 2022")
    change: bool = False  # a "Change" column: the period's change on the one it is compared with
    # what a change column compares the period with, where its header says: "year" (NVIDIA's
    # "Year-over-Year Change"), "quarter" ("Quarter-over-Quarter Change"), "" (not said)
    against: str = ""

    @property
    def span(self) -> str:
        """The group's first word: "three", "six", "nine", "twelve", "year", "quarter" or ""."""
        return self.group.split(" ")[0] if self.group else ""

    def text(self) -> str:
        if self.name:
            return f"for {self.name}"
        when = ""
        if self.month is not None:
            name = MONTH_NAMES[self.month - 1]
            when = f"{name} {self.day}, {self.year}" if self.day else f"{name} {self.year}"
        elif self.year is not None:
            when = str(self.year)
        if self.group:
            return f"for the {self.group} {when}" if when else f"for the {self.group.removesuffix(' ended')}"
        return f"at {when}" if when else ""


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[str, ...]  # as printed: "$ 49,605", "(1,577)", "—"
    periods: tuple[Period | None, ...]  # one per cell, None where the header did not say
    unit: str  # "million", "thousand", "" when the page names none
    currency: str  # "$" when the row's table is in dollars (its first rows print the sign)
    line: str  # the row as printed
    offset: int  # where the row's text (`line`, stripped) starts in the page text
    section: str = ""  # the sub-heading the row sits under ("AWS", "North America"), if any
    heading: str = ""  # the colon heading over the row ("Net Sales", "Current assets"), if any
    percent: bool = False  # its figures are percentages (a mix table prints "%" on its first row only)


def split_cells(text: str) -> list[str]:
    """The figures of a row's cells, as printed ("$ 184.34", "(487)", "—" for a dash)."""
    cells = [" ".join(m.group(0).split()) for m in _ONE_CELL.finditer(text)]
    return [cell.lstrip("$ ") if cell.endswith(DASHES) else cell for cell in cells]  # "$ —": nothing


def _is_header_only(label: str) -> bool:
    """A line whose 'label' is only period words ("September 30, 2022 2023") is a header."""
    rest = _MONTH_DAY.sub(" ", _GROUP.sub(" ", label))
    rest = re.sub(r"[\s,()]|unaudited|ended|and", "", rest, flags=re.IGNORECASE)
    return not rest


def _only_years(cells: str) -> bool:
    """ "... Sep 30, 2023 Oct 1,\n2022" ends in a year, not a figure: a header line."""
    return all(_YEAR.fullmatch(cell) for cell in split_cells(cells))


def _quarter_periods(header: str, columns: int, quarter: int | None = None) -> tuple[Period | None, ...] | None:
    """ "Q3 2022 Q3 2021 YTD 2022 YTD 2021" (Intel's tables): a quarter is three months, the year
    to date as many months as the quarter it ends (the header's, or `quarter` where it names none)."""
    marks = _QUARTER_YEAR.findall(header)
    if len(marks) != columns:
        return None
    quarter = next((int(mark[1]) for mark, _ in marks if mark.upper().startswith("Q")), quarter)
    year_to_date = {1: "three", 2: "six", 3: "nine", 4: "twelve"}.get(quarter or 0, "")
    return tuple(
        Period(
            "three months ended" if mark.upper().startswith("Q") else f"{year_to_date} months ended".strip(),
            None,
            None,
            int(year),
            f"{mark.upper()} {year}",
        )
        for mark, year in marks
    )


def _header_periods(header: str, columns: int) -> tuple[Period | None, ...] | None:
    """Each column's period from the header lines above a row, or None when they name none."""
    changes = [m.start() for m in _CHANGE_COLUMN.finditer(header)]
    if changes and columns > len(changes):
        return _with_change_columns(header, columns, changes)
    quarters = _quarter_periods(header, columns)
    if quarters is not None:
        return quarters
    groups = [
        (_GROUP_WORDS.get(g.group(1) or "", g.group(1) or "").lower() + " months ended")
        if g.group(1)
        else ("year ended" if g.group(2) else "quarter ended")
        for g in _GROUP.finditer(header)
    ]
    month_days = [(month_number(m.group(1)), int(m.group(2))) for m in _MONTH_DAY.finditer(header)]
    years = [int(m.group(1)) for m in _YEAR.finditer(header)]  # also those printed after a month-day
    if not month_days and not years:
        return None
    if len(years) != columns and not (len(years) == 1 and len(month_days) <= 1):
        return tuple(Period(groups[0], None, None, None) for _ in range(columns)) if len(groups) == 1 else None
    periods: list[Period | None] = []
    for i in range(columns):
        group = groups[i * len(groups) // columns] if groups and columns % len(groups) == 0 else ""
        month = day = None
        if month_days:
            month, day = month_days[i * len(month_days) // columns] if columns % len(month_days) == 0 else (None, None)
        periods.append(Period(group, month, day, years[i] if len(years) == columns else years[0]))
    return tuple(periods)


# "July 1, 2023  June 25, 2022  Change": a column of each period's change on the year before.
_CHANGE_COLUMN = re.compile(r"(?<![\w-])(?:%\s*)?change(?![\w-])", re.IGNORECASE)


# What a change column's header says it compares with: "Quarter-over-Quarter Change", "Y/Y Change".
_AGAINST = (
    ("quarter", re.compile(r"quarter[-\s]+over[-\s]+quarter|\bq/q|sequential", re.IGNORECASE)),
    ("year", re.compile(r"year[-\s]+over[-\s]+year|\by/y", re.IGNORECASE)),
)


def _latest(period: Period) -> tuple[int, int, int]:
    return (period.year or 0, period.month or 0, period.day or 0)


def _against(header: str, at: int) -> str:
    """What the change column whose "Change" is at `at` compares with, by the words just before it."""
    before = header[max(0, at - 30) : at]
    return next((name for name, words in _AGAINST if words.search(before)), "")


def _with_change_columns(header: str, columns: int, changes: list[int]) -> tuple[Period | None, ...] | None:
    """The dated columns' periods, each "Change" column after them marked as the change of the
    period printed just before it (Apple: "(20)%" beside "5,791 7,224" is the quarter's change)."""
    dated = _header_periods(_CHANGE_COLUMN.sub(" ", header), columns - len(changes))
    years = [m.start() for m in _YEAR.finditer(header)]  # also the years of "Q3 2023" and "YTD 2023"
    if dated is None or len(years) != len(dated):
        return None  # the header's years and columns do not line up: no guessing
    if years and max(changes) < min(years) and len(dated) == 2:
        # Microsoft prints "Percentage Change" above its two years ("2023 2022"): the change column
        # is the last, the latest year's change on the other
        newest = max((p for p in dated if p is not None), key=_latest, default=None)
        if newest is None:
            return None
        return (*dated, *(replace(newest, change=True, against=_against(header, at)) for at in changes))
    periods: list[Period | None] = []
    compared: list[Period] = []  # the dated columns since the last change column
    latest: Period | None = None
    remaining = iter(dated)
    for at, is_change in sorted([(at, False) for at in years] + [(at, True) for at in changes]):
        if not is_change:
            period = next(remaining)
            periods.append(period)
            compared += [period] if period is not None else []
            continue
        if not periods:
            return None  # a change named before some periods and after others: no guessing
        # the change of the latest of the periods it follows (Amazon prints 2022 before 2023); NVIDIA
        # prints "$ Change" and "% Change" side by side
        if compared:
            latest = max(compared, key=_latest)
        periods.append(replace(latest, change=True, against=_against(header, at)) if latest is not None else None)
        compared = []
    return tuple(periods) if len(periods) == columns else None


# "Amount  % of Net Revenue" under each period (Intel's results of operations): a row prints each
# period's amount, then its share of revenue.
_SHARE_OF_COLUMN = re.compile(r"%\s*of\s+(?:net\s+)?(?:revenue|sales)", re.IGNORECASE)


def _paired_periods(header: list[str], columns: int) -> tuple[Period | None, ...] | None:
    """Each period twice, for an amount and its "% of net revenue" beside it, where the header
    names half as many periods as the row has cells and says "% of ... revenue"."""
    if columns % 2 or not _SHARE_OF_COLUMN.search(" ".join(header)):
        return None
    periods = _block_periods(header, columns // 2)
    return None if periods is None else tuple(period for period in periods for _ in range(2))


def _all_percent(cells: list[str]) -> bool:
    """ "10 % 20 %": a row of percentages ("11,751 8,978 31%" is amounts with a change beside)."""
    figures = [cell for cell in cells if cell not in DASHES]
    return bool(figures) and all("%" in cell for cell in figures)


def _is_prose(line: str) -> bool:
    """A sentence, not a header ("October 29, October 30, October 29, October 30," is long too)."""
    return line.endswith(".") or sum(w.isalpha() and w.islower() for w in line.split()) >= 5


# The end of a row whose label ran over two lines: "December 31, 2022)  85,734  80,860" after
# "Property, plant and equipment, net of accumulated depreciation of $94,550 ($93,386 as of".
_WRAPPED_ROW_END = re.compile(r"(?:\s\(?\$?\s?\d{1,3}(?:,\d{3})+\)?){2,}\s*$")


def _block_periods(header: list[str], columns: int) -> tuple[Period | None, ...] | None:
    """The periods the header lines after the last prose line name (a paragraph above the table
    names dates of its own: "into Q3 2023."), else those of the whole block. A wrapped row's end
    names a date of its label, not the columns'."""
    header = [line for line in header if not _WRAPPED_ROW_END.search(line)]
    prose = [i for i, line in enumerate(header) if _is_prose(line)]
    if prose and prose[-1] + 1 < len(header):
        periods = _header_periods("\n".join(header[prose[-1] + 1 :]), columns)
        if periods is not None:
            return periods
    # A title above the columns may name a year of its own ("Third Quarter of Fiscal Year 2023
    # Summary" over "October 30, 2022  July 31, 2022 ..."): the longest run of the last lines that
    # names the columns' periods
    for first in range(len(header)):
        periods = _header_periods("\n".join(header[first:]), columns)
        if periods is not None:
            return periods
    return None


_FOOTNOTE_MARK = re.compile(r"\(\d{1,2}\)")
_CONNECTOR_END = re.compile(r"\b(?:and|or|of|to|from)$", re.IGNORECASE)
_DATE_END = re.compile(rf"\b{MONTH}\s*\d{{1,2}},$", re.IGNORECASE)


def _label_figures(
    label: str, cells: list[str], width: int, current: dict[int, tuple[Period | None, ...]]
) -> tuple[str, list[str]]:
    """A figure that ends a label ("... doubtful accounts of $438 and $633   31,279   44,261") is the
    label's, when the label stops at "and" and the row has a column more than the table: than its
    first row under the header, or than the tables read (with no header of that many columns)."""

    def one_too_many() -> bool:
        return len(cells) > max(width, 1) or (len(cells) - 1 in current and len(cells) not in current)

    while len(cells) > 1 and _CONNECTOR_END.search(label) and one_too_many():
        label, cells = f"{label} {cells[0]}", cells[1:]
    # "Accrued restructuring balance as of December 31, 2022 $ 873": the year ends the label's date
    if len(cells) > 1 and _DATE_END.search(label) and _YEAR.fullmatch(cells[0]):
        label, cells = f"{label} {cells[0]}", cells[1:]

    def dated_without_it() -> bool:  # the header dates one column fewer, and not this many
        return _dated(current.get(len(cells) - 1)) and not _dated(current.get(len(cells)))

    # A footnote's number after the label ("Advertising services (5) 7,877 9,509") is no figure.
    while len(cells) > 1 and _FOOTNOTE_MARK.fullmatch(cells[0]) and (one_too_many() or dated_without_it()):
        cells = cells[1:]
    return label, cells


def _dated(periods: tuple[Period | None, ...] | None) -> bool:
    return periods is not None and any(p is not None and p.year is not None for p in periods)


# A table's title on the line above its periods: "Operating Income by Reportable Segments" over
# rows named only "Graphics" and "Total".
_CAPTION = re.compile(r"[A-Z][A-Za-z&,'\- ]{3,60}")


# The sentence that leads into a table: "Revenue, classified by significant product and service
# offerings, was as follows:" over rows named only "Windows", "LinkedIn" and "Gaming".
# (or over lines: "... forfeited. Stock-based compensation expense is as" / "follows (in millions):")
_LEAD_IN = re.compile(
    r"(?:^|[.:;]\s+)([A-Z][^.:;]{2,120}?),?\s+(?:was|were|is|are)\s+as\s+follows(?:\s*\([^()]{1,30}\))?:?\s*$"
)


def _caption(header: list[str]) -> str:
    """The title line just above the first line that names a period, in mixed case (not a running
    header in capitals); else the sentence leading into the table; else ""."""
    for i, line in enumerate(header):
        # (a sentence naming a day above the table, "... as of December 31, 2022 and March 31, 2023.", is no header)
        if (_GROUP.search(line) or _MONTH_DAY.search(line)) and not _is_prose(line):
            title = header[i - 1] if i > 0 else ""
            plain = _CAPTION.fullmatch(title) is not None and not title.isupper() and len(title.split()) <= 8
            plain = plain and title.lower() != "table of contents"
            if plain:
                return title
            return _lead_in(header[:i])
    return _lead_in(header)  # a table of no period's columns ("Restructuring activity ... was as follows:")


def _lead_in(lines: list[str]) -> str:
    lines_above = [*reversed(lines), " ".join(lines[-3:])]
    lead_in = next((m for line in lines_above if (m := _LEAD_IN.search(line))), None)
    return lead_in.group(1).split(",")[0] if lead_in is not None else ""  # "Revenue", not how it is classified


def _title_below_periods(header: list[str]) -> str:
    """A short title-case line between the last line naming periods and the first row: "North
    America" over Net sales / Operating expenses, "Operating Income (Loss)" over the segments."""
    named = [i for i, line in enumerate(header) if _GROUP.search(line) or _MONTH_DAY.search(line) or _YEAR.search(line)]
    if not named or named[-1] != len(header) - 2:
        return ""
    title = header[-1]
    plain = _CAPTION.fullmatch(title.replace("(", "").replace(")", "")) is not None and not title.isupper()
    plain = plain and not _UNIT.search(title)  # "(In Millions)" titles nothing
    return title if plain and len(title.split()) <= 5 and title.lower() != "table of contents" else ""


def _opens_segment(header: list[str], label: str) -> bool:
    """A colon heading, then a segment's name over rows of its own ("Net revenue:", "Client
    Computing", "Desktop $ 2,753 ..."); not the first line of a label run over two lines
    ("Derivative assets subject to master" / "netting arrangements $ 966 ...")."""
    named = len(header) > 1 and _SECTION.fullmatch(header[-1]) is not None
    return named and _COLON_HEADING.fullmatch(header[-2]) is not None and label[:1].isupper()


def _section_total(line: str, section: str, rows: list[Row], width: int) -> re.Match[str] | None:
    """A label-less line of figures closing a segment's rows, matched as "Total <segment> ..."."""
    in_section = len(rows) >= 2 and rows[-1].section == rows[-2].section == section != ""
    if not in_section or width < 2 or not _FIGURES_ONLY.match(line) or len(split_cells(line)) != width:
        return None
    return _ROW.match(f"Total {section} {line}")


def _figure_first_row(line: str, unit: str, offset: int, quarter: int | None) -> Row | None:
    """A bridge's "$ 2,073 Q3 2023 CCG Operating Income" as the row "CCG Operating Income" for Q3
    2023; "YTD 2023" is as many months as the page's bridges' quarter."""
    match = _FIGURE_FIRST.match(line)
    if match is None:
        return None
    cell = " ".join(match.group("cell").split())
    periods = _quarter_periods(match.group("period"), 1, quarter)
    currency = "$" if "$" in cell else ""
    return Row(match.group("label").strip(), (cell,), periods or (None,), unit, currency, line, offset)


# A schedule by year under "2023 (remaining three months) $ 1,260": "2024 3,417", "2025 1,990", ...
_YEAR_ROW = re.compile(rf"(?P<label>(?:19|20)\d{{2}})\s+(?P<cells>{_CELL})")
_YEAR_FIRST = re.compile(r"(?:19|20)\d{2}\b")


def _year_row(line: str, rows: list[Row]) -> re.Match[str] | None:
    """A line of a year and one figure, after a row that a year names: a row of a schedule of future
    payments, not a header (the "Total" under it keeps the schedule's heading)."""
    if not rows or not _YEAR_FIRST.match(rows[-1].label):
        return None
    return _YEAR_ROW.fullmatch(line)


def table_rows(page: str) -> list[Row]:
    """Rows with figures on a page, each cell labelled with its period where the header says."""
    rows: list[Row] = []
    header: list[str] = []
    current: dict[int, tuple[Period | None, ...]] = {}  # columns -> periods of the table in force
    unit = ""
    dollars = False  # the table in force printed "$" on a row
    section = heading = ""
    percents = False  # the rows under the current header are percentages
    width = 0  # columns of the first row under the current header
    offset = 0
    lines = page.split("\n")
    bridged = [m.group("period") for m in map(_FIGURE_FIRST.match, lines) if m is not None]
    quarter = next((int(period[1]) for period in bridged if period.upper().startswith("Q")), None)
    dated: list[tuple[int, dict[int, tuple[Period | None, ...]], str]] = []  # (rows before, periods, unit)
    for i, line in enumerate(lines):
        start, offset = offset, offset + len(line) + 1
        found_unit = _UNIT.search(line)
        if found_unit:
            unit = found_unit.group(1).lower().rstrip("s")
        stripped = line.strip()
        # "... losses of $270 million, $545 million, and $1.1" / "billion, respectively": prose whose
        # figure runs on to the next line, not a row ending in a figure
        # (and "... the FPGA product line. NEX revenue decreased 38%" / "from Q2 2022 and ...": a
        # paragraph's sentence that breaks after a figure)
        following = lines[i + 1] if i + 1 < len(lines) else None
        runs_on = following is not None and (
            UNIT_START.match(following) is not None
            or (_ENDS_A_SENTENCE.search(line) is not None and _GOES_ON.match(following) is not None)
        )
        match = None if runs_on else _ROW.match(stripped) or _year_row(stripped, rows)
        segment_total = None if match else _section_total(stripped, section, rows, width)
        match = match or segment_total
        section = "" if segment_total else section  # the segment's rows end with its total
        figure_first = None if match else _figure_first_row(
            stripped, unit, start + len(line) - len(line.lstrip()), quarter
        )
        if figure_first is not None:
            rows.append(figure_first)
            continue
        if match is None or _is_header_only(match.group("label")) or _only_years(match.group("cells")):
            header.append(stripped)
            if rows and _SECTION.fullmatch(stripped):
                section = stripped  # a short heading between rows names the segment below it
            continue
        cells = split_cells(match.group("cells"))
        if header:
            named = _UNIT.search(" ".join(header))  # also "(in\nmillions)"
            if named:
                unit = named.group(1).lower().rstrip("s")
            new_table = False
            for columns in {len(cells), 2, 3, 4}:
                periods = _block_periods(header, columns) or _paired_periods(header, columns)
                if periods is not None:
                    current[columns] = periods
                    dollars, section, heading = False, "", ""
                    new_table = True
            if new_table:
                dated.append((len(rows), dict(current), unit))
            heading = _caption(header) or heading
            colon = _COLON_HEADING.fullmatch(header[-1])
            if colon is not None:
                heading = colon.group(1).strip()
            elif _opens_segment(header, match.group("label")):
                # "Net revenue:" then "Client Computing": a heading, then the segment its first rows are in
                heading, section = header[-2].rstrip(":").strip(), header[-1]
            else:
                section = _title_below_periods(header) or section
            # The first row under a table's header speaks for the rest; a sub-heading ("Operating
            # expenses" in NVIDIA's percentage-of-revenue table) starts no new table.
            same_table = not new_table and len(cells) == width
            percents = _all_percent(cells) or (same_table and percents)
            width = len(cells)  # and gives the table's columns
            passed_to_equity = any(_EQUITY.search(line) for line in header)
            heading = "" if heading == LONG_TERM_LIABILITIES and passed_to_equity else heading
            header = []
        dollars = dollars or "$" in match.group("cells")
        label, cells = _label_figures(match.group("label").strip(" .:"), cells, width, current)
        heading = "" if heading == LONG_TERM_LIABILITIES and _EQUITY.search(label) else heading
        periods = current.get(len(cells), (None,) * len(cells))
        currency = "$" if dollars and not _COUNTED.search(label) else ""
        percents = percents and "$" not in match.group("cells")  # a dollar row ends a block of shares
        percent = percents or _all_percent(cells)
        currency = "" if percent else currency
        at = start + len(line) - len(line.lstrip())  # where `stripped` begins: a quote's offset
        rows.append(Row(label, tuple(cells), periods, unit, currency, stripped, at, section, heading, percent))
        if _TOTAL.match(label) and segment_total is None:
            heading = ""  # "Total current assets" closes "Current assets:"
            if _CURRENT_LIABILITIES_TOTAL.match(label):
                # Intel's balance sheet: "Total current liabilities", then "Debt 48,836": its long-term debt
                heading = LONG_TERM_LIABILITIES
            if section and section.lower() in label.lower():
                section = ""  # and "Total operating expenses" the heading "Operating expenses"
        elif section and label.lower() == section.lower():
            section = ""  # "Other comprehensive loss, net of tax" over its parts, then its sum
    return _split_by_named_columns(_dated_from_below(rows, dated), page)


# NVIDIA's segment note puts the segments in the columns ("Compute & / Networking Graphics All Other
# Consolidated") and the period on a line of its own above each pair of rows ("Three Months Ended
# July 30, 2023 / Revenue $ 10,402 $ 3,105 $ — $ 13,507 / Operating income (loss) ...").
_COLUMN_NAMES = re.compile(
    r"^((?:[A-Z][\w’'-]*|&)(?:[ \t]+(?:[A-Z][\w’'-]*|&|and))*[ \t]+(?:Consolidated|Total))[ \t]*$", re.M
)
_JOINED_NAMES = ("All Other",)  # two words, one column


def _column_names(line: str) -> list[str]:
    words = line.split()
    names: list[str] = []
    i = 0
    while i < len(words):
        if i + 2 < len(words) and words[i + 1] in ("&", "and"):
            names.append(" ".join(words[i : i + 3]))
            i += 3
        elif i + 1 < len(words) and f"{words[i]} {words[i + 1]}" in _JOINED_NAMES:
            names.append(f"{words[i]} {words[i + 1]}")
            i += 2
        else:
            names.append(words[i])
            i += 1
    return names


def _split_by_named_columns(rows: list[Row], page: str) -> list[Row]:
    """Below a line of column names, a row whose cells all share one period is one row per column,
    each under its name (the last, "Consolidated" or "Total", is the company's own row)."""
    found = _COLUMN_NAMES.search(page.replace("&\n", "& "))
    if found is None:
        return rows
    names = _column_names(found.group(1))
    if len(names) < 3:
        return rows
    at = found.end(1)  # "&\n" became "& ": every offset is the page's own
    split: list[Row] = []
    for row in rows:
        periods = set(row.periods)
        if row.offset < at or len(row.cells) != len(names) or len(periods) != 1 or None in periods:
            split.append(row)
            continue
        for name, cell, period in zip(names, row.cells, row.periods, strict=True):
            section = "" if name in ("Consolidated", "Total") else name
            split.append(replace(row, cells=(cell,), periods=(period,), section=section))
    return split


_MIN_TABLE_ROWS = 5  # fewer undated rows above a header are stray lines ("Item 6."), not its table


def _dated_from_below(rows: list[Row], dated: list[tuple[int, dict[int, tuple[Period | None, ...]], str]]) -> list[Row]:
    """Intel's statements, as pypdf reads them, print their one header ("Three Months Ended / (In
    Millions; Unaudited) Apr 1, 2023 Apr 2, 2022") below the rows: a page whose only dated header
    comes after undated rows of its width dates them (and gives their unit)."""
    if len(dated) != 1 or dated[0][0] == 0:
        return rows
    before, periods, unit = dated[0]
    above = rows[:before]
    fitting = [i for i, r in enumerate(above) if _dated(periods.get(len(r.cells)))]
    if len(fitting) < _MIN_TABLE_ROWS or len(fitting) < 0.8 * len(above) or any(_dated(r.periods) for r in above):
        return rows
    for i in fitting:
        row = rows[i]
        rows[i] = replace(row, periods=periods[len(row.cells)], unit=row.unit or unit)
    return rows
