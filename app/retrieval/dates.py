"""The one date grammar: months, and dates as documents and questions write them.

"September 30, 2023", "Sep. 30, 2023", "30 September 2023", "2023-09-30", "2023年9月30日", a month
and year ("September 2023", "2023年9月"; a span of months by its last: "2022年10月到12月"), and bare
years. Document metadata, the answer checker, table headers and the cross-language glossary all
read dates through here.
"""

import re
from dataclasses import dataclass
from datetime import date

from app.retrieval.text import word_list

MONTH_NAMES = word_list("January February March April May June July August September October November December")
MONTHS = {name[:3].lower(): number for number, name in enumerate(MONTH_NAMES, 1)}  # "sep" -> 9
# A month's name or its usual short form, as a whole word: not "margin" or "marketing".
MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
    r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b\.?"
)

_GRAMMAR: tuple[tuple[re.Pattern[str], tuple[int, int, int | None, int | None]], ...] = (
    # (pattern, group numbers of year, month, day, first month of a span), longest first
    (re.compile(rf"\b({MONTH})\s*(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*((?:19|20)\d{{2}})\b", re.I), (3, 1, 2, None)),
    (
        re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({MONTH})\s*,?\s*((?:19|20)\d{{2}})\b", re.I),
        (3, 2, 1, None),
    ),
    (re.compile(r"\b((?:19|20)\d{2})-(\d{1,2})-(\d{1,2})\b"), (1, 2, 3, None)),
    (re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"), (1, 2, 3, None)),
    # a span of months is named by its last: "2022年10月到12月", "October to December 2022" (a quarter ended
    # in December)
    (re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月?\s*(?:到|至|-|–|~)\s*(\d{1,2})\s*月"), (1, 3, None, 2)),
    (
        re.compile(rf"\b({MONTH})\s*(?:to|through|-|–)\s*({MONTH})\s*,?\s*((?:19|20)\d{{2}})\b", re.IGNORECASE),
        (3, 2, None, 1),
    ),
    (re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月(?!\s*\d)"), (1, 2, None, None)),
    (re.compile(rf"\b({MONTH})\s+((?:19|20)\d{{2}})\b", re.IGNORECASE), (2, 1, None, None)),
)
_YEAR = re.compile(r"(?<![\d,.])((?:19|20)\d{2})(?![\d,])")
# "at the end of 2022", "year-end 2022", "2022年底": December 31 in plain speech. "The end of fiscal
# 2022" is not (a fiscal year ends when the company's does), so "fiscal" breaks the phrase.
_YEAR_END = re.compile(
    r"\b(?:end\s+of|year[- ]?end(?:\s+of)?)\s+(?:the\s+)?(?:calendar\s+)?(?:year\s+)?((?:19|20)\d{2})\b"
    r"|\b((?:19|20)\d{2})\s+year[- ]?end\b|((?:19|20)\d{2})\s*年\s*(?:年?底|年?末|年终)",
    re.IGNORECASE,
)
MONTH_DAY = re.compile(rf"\b({MONTH})\s*(\d{{1,2}})\b", re.IGNORECASE)


@dataclass(frozen=True)
class DateMention:
    text: str
    year: int
    month: int | None  # None: a bare year
    day: int | None  # None: a month and year, or a year
    span: tuple[int, int]
    first_month: int | None = None  # a span of months ("2023年7-9月"): its first; `month` is its last

    @property
    def months_spanned(self) -> int | None:
        """How many months a span names ("2023年1到9月": 9; "11-1月" runs into the next year)."""
        if self.first_month is None or self.month is None:
            return None
        return (self.month - self.first_month) % 12 + 1


def month_number(word: str) -> int:
    return MONTHS[word[:3].lower()]


def _month_of(text: str) -> int:
    return int(text) if text.isdigit() else month_number(text)


def date_mentions(text: str) -> list[DateMention]:
    """Every date, month-and-year and bare year in `text`, longest reading first, none overlapping."""
    found: list[DateMention] = []
    for pattern, (y, m, d, first) in _GRAMMAR:
        for match in pattern.finditer(text):
            if any(f.span[0] < match.end() and match.start() < f.span[1] for f in found):
                continue
            month = _month_of(match.group(m))
            day = int(match.group(d)) if d is not None else None
            first_month = _month_of(match.group(first)) if first is not None else None
            if 1 <= month <= 12 and (day is None or 1 <= day <= 31):
                found.append(DateMention(match.group(0), int(match.group(y)), month, day, match.span(), first_month))
    for match in _YEAR.finditer(text):
        if not any(f.span[0] <= match.start() < f.span[1] for f in found):
            found.append(DateMention(match.group(0), int(match.group(1)), None, None, match.span()))
    return found


def year_ends(question: str) -> list[date]:
    """December 31 of each year a question names the end of ("at the end of 2022", "2022年底")."""
    return [date(int(next(g for g in match.groups() if g)), 12, 31) for match in _YEAR_END.finditer(question)]


def find_dates(text: str) -> list[date]:
    """The full dates (day, month and year) in `text`, as dates."""
    found = []
    for mention in date_mentions(text):
        if mention.month is not None and mention.day is not None:
            try:
                found.append(date(mention.year, mention.month, mention.day))
            except ValueError:
                continue
    return found
