"""The checkable facts of a sentence: figures, dates and names, and whether a passage holds them.

A figure matches in any of its usual forms: "49,605" in a table headed "(in millions)" supports
"$49,605 million", "$49.6 billion" and "49,605"; parentheses and minus signs are the same
magnitude. A date matches in any order of its parts ("September 30, 2023", "30 September 2023",
"2023-09-30", "2023年9月30日"), also when a table prints the month and the year on different lines.
A name (a capitalised word that does not open its sentence, or a run of them) matches when the
passage has the word; an acronym also matches its spelt-out form (CEO: Chief Executive Officer).
"""

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from app.chain.citations import MARKER
from app.chain.tables import table_rows
from app.retrieval.dates import MONTH, MONTH_DAY, MONTH_NAMES, MONTHS, DateMention, date_mentions, month_number
from app.retrieval.text import word_list

_SCALES = {
    "thousand": Decimal(10) ** 3,
    "k": Decimal(10) ** 3,
    "千": Decimal(10) ** 3,
    "万": Decimal(10) ** 4,
    "million": Decimal(10) ** 6,
    "mn": Decimal(10) ** 6,
    "m": Decimal(10) ** 6,
    "百万": Decimal(10) ** 6,
    "billion": Decimal(10) ** 9,
    "bn": Decimal(10) ** 9,
    "b": Decimal(10) ** 9,
    "亿": Decimal(10) ** 8,
    "trillion": Decimal(10) ** 12,
}
# A number (optionally signed, bracketed, with a currency sign) and the scale word after it.
_FIGURE = re.compile(
    r"(?<![\w.,/-])[-−(]?\s?[$€£¥]?\s?[-−(]?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\)?"
    r"(?:\s?(?P<pct>%|percent\b|个百分点)|\s?(?P<scale>thousand|million|billion|trillion|bn|mn|[mkb](?![\w])|千|万|亿|百万))?",
    re.IGNORECASE,
)
# Numbers that are parts of codes ("Q3", "FY2024", "10-Q", "e5", "401(k)") are not figures.
_CODE = re.compile(r"\b[A-Za-z]+\d+[A-Za-z\d]*\b|\b\d+[A-Za-z]+[A-Za-z\d]*\b|\b\d+-[A-Za-z]\b")
# "fiscal year 2023", "FY 2024", "Q3 2023": a year naming a period, which states no figure
_NAMED_YEAR = re.compile(r"\b(?:fiscal(?:\s+year)?|FY|Q[1-4])\s*(?:19|20)\d\d\b", re.IGNORECASE)
# Scales tables carry in their headers: a bare "49,605" under "(in millions)" is $49.6 billion.
_TABLE_SCALES = (Decimal(1), Decimal(10) ** 3, Decimal(10) ** 6, Decimal(10) ** 9)

_NAME_WORD = re.compile(r"(?<![A-Za-z])(?:[A-Z][A-Za-z'’&.-]*[A-Za-z]|[A-Z]{2,})")  # not "Phone" in "iPhone"
_ACRONYMS = {
    "ceo": "chief executive officer",
    "cfo": "chief financial officer",
    "coo": "chief operating officer",
    "cto": "chief technology officer",
    "cao": "chief accounting officer",
    "eps": "earnings per share",
    "r&d": "research and development",
    "sg&a": "selling, general and administrative",
    "pp&e": "property, plant and equipment",
    "us": "united states",
    "u.s": "united states",
}
# Capitalised words that are not names: sentence furniture and calendar words.
_NOT_NAMES = frozenset(
    word_list(
        "i a an the this that these those it its in on at of for to and or but as by from with our we "
        "they their there yes no not also however total net source sources answer note q fy"
    )
) | frozenset(MONTHS) | frozenset(name.lower() for name in MONTH_NAMES)


@dataclass(frozen=True)
class Figure:
    text: str
    value: Decimal  # magnitude as written, without sign or scale
    scale: Decimal | None  # from a scale word after it ("million"), None when bare
    percent: bool
    decimals: int  # digits after the point as written: the answer's rounding

    def matches(self, other: "Figure") -> bool:
        """Does `other` (from a passage) hold this figure (from an answer), in any usual form?"""
        if self.percent != other.percent:
            return False
        if self.scale is None and other.scale is None:
            return self.value == other.value
        mine = self.value * (self.scale or 1)
        theirs = [other.value * other.scale] if other.scale is not None else [other.value * s for s in _TABLE_SCALES]
        unit = self.scale or Decimal(1)
        step = Decimal(1).scaleb(-self.decimals)
        return any(_same_at(t / unit, mine / unit, step) for t in theirs)


def _same_at(a: Decimal, b: Decimal, step: Decimal) -> bool:
    try:
        return a.quantize(step) == b.quantize(step)
    except InvalidOperation:  # more digits than a Decimal holds ("365.000000000000001" against billions)
        return False


@dataclass(frozen=True)
class Facts:
    figures: tuple[Figure, ...]
    dates: tuple[DateMention, ...]
    names: tuple[str, ...]
    quoted: tuple[str, ...] = ()  # words in quotation marks claim to be the document's own

    @property
    def empty(self) -> bool:
        return not (self.figures or self.dates or self.names or self.quoted)


def _blank(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


# "How much", "how many", "多少": a figure is asked for; an answer without one answers something else.
# 几 asks "how many" ("几个", "几年"), except where it says "several" or "almost": "好几个小时"
# (hours), "几十 G 的大文件" (tens of), "几乎" (almost).
_ASKS_HOW_MANY_ZH = r"(?<!好)几(?![十百千万乎])"
ASKS_FOR_FIGURE = re.compile(
    r"how\s+(?:much|many|big|large)\b|what\s+(?:was|were|is|are)\s+.*\b(?:total|amount)"
    r"|\bwhat\s+(?:percentage|percent)\b|多少|" + _ASKS_HOW_MANY_ZH,  # "By what percentage did Gaming revenue fall?"
    re.I,
)

# "Which company did Amazon agree to acquire?": the answer is an organisation's name.
ASKS_ORGANISATION = re.compile(
    r"\b(?:which|what)\s+(?:company|companies|firm|business|entity|bank|buyer|acquirer|partner|counterparty)\b"
    r"|哪家|哪一家|哪个公司|什么公司|哪些公司",
    re.I,
)

# "Which country did the European Commission say gave Apple state aid?": the answer is a place's name.
ASKS_PLACE = re.compile(
    r"\b(?:which|what)\s+(?:country|countries|state|city|cities|region|nation|jurisdiction)\b"
    r"|\b(?:street|office|mailing|postal|headquarters?)\s+address\b|\baddress\s+of\s+(?:its|the)\b"
    r"|哪个国家|哪国|哪些国家|哪个州|哪个城市|哪个地区",  # not 地址: an IP address is no place
    re.I,
)

# "what chip did nvidia sell chinese customers instead?", "哪款芯片": the answer is a product's name
# ("A800", "M2 Ultra"), whatever figures the question names ("A100", "2022").
ASKS_PRODUCT = re.compile(
    r"\b(?:which|what)\s+(?:new\s+)?(?:chips?|products?|processors?|gpus?|models?|devices?|offerings?)\b"
    r"|什么芯片|哪款|哪种芯片|哪个产品|什么产品",
    re.I,
)

# "苹果发布的空间计算设备叫什么名字？", "What is the name of Apple's headset?": the answer is a name.
ASKS_NAME = re.compile(
    r"\bname\s+of\b|\bwhat\s+(?:is|was|are|were)\s+(?:it|they)\s+called\b"
    r"|叫什么|什么名字|名字是什么|名称是什么|叫啥",
    re.I,
)

# "How big was the write-down Intel took when it wound down Optane?": a figure, whatever the clause after
OPENS_WITH_FIGURE = re.compile(r"\s*how\s+(?:much|many|big|large)\b", re.I)

# "How many iPhones", "卖出了多少部", "员工总数": a count of things, which no dollar amount gives
_COUNT_ASKED = re.compile(
    r"\bhow\s+many\b(?!\s+(?:dollars|usd)\b)"
    # "多少块H100" counts chips; "多少块钱" asks a price
    r"|(?:多少|" + _ASKS_HOW_MANY_ZH + r")(?:部|台|人|名|个|家|位|辆|件|款|套|片|颗|张|枚|块(?!钱))"
    r"|销量|台数|人数|员工总数",
    re.IGNORECASE,
)

# "Note 10", "Item 1A", "Rule 10b5-1", "Rule 10b-18": the number of a note or rule, not an amount
REFERENCE_NUMBER = re.compile(
    r"\b(?:note|item|part|section|rule|form|exhibit|schedule)\s+\d+[a-z]?(?:[\d-]*\d)?\b", re.I
)

# "iPhone 14 Pro", "Microsoft 365 Consumer": a number in a product's name, not a figure it states
PRODUCT_NUMBER = re.compile(
    r"\b([a-z]+[A-Z][A-Za-z]*\s)\d{1,4}(?![,.]?\d)"  # "iPhone 14", "GeForce 40"
    r"|\b([A-Z][A-Za-z]*\s)\d{1,4}(?=\s+[A-Z][a-z])"  # "Microsoft 365 Consumer", "Xbox 360 Series"
    # "Dynamics 365, and other commercial cloud" (not "October 30, 2022")
    rf"|\b((?!{MONTH}\s)[A-Z][a-z]+[A-Za-z]*\s)\d{{1,3}}(?=,\s|\s+(?:and|or)\s)"
)


def stated_figures(text: str) -> list[Figure]:
    """The figures a sentence states: not the number of a note or item, nor of a product's name."""
    unnamed = PRODUCT_NUMBER.sub(lambda m: m.group(1) or m.group(2), REFERENCE_NUMBER.sub(" ", text))
    return find_figures(unnamed)


def answering_figures(text: str, named: Collection[Decimal], counts: bool) -> list[Figure]:
    """The figures a sentence states that may answer a question: none it names itself ("How many
    Microsoft 365 Consumer subscribers"), and for a count, no dollar amount or percentage."""
    figures = [figure for figure in stated_figures(text) if figure.value not in named]
    return [figure for figure in figures if not (counts and (figure.percent or "$" in figure.text))]


def asks_for_a_count(question: str) -> bool:
    return _COUNT_ASKED.search(question) is not None


def find_figures(text: str) -> list[Figure]:
    """Figures outside dates (with or without their year: "ended June 25, 2022 and June 26,"),
    codes and citation markers."""
    spans = [m.span for m in date_mentions(text)] + [m.span() for m in MONTH_DAY.finditer(text)]
    spans += [m.span() for m in MARKER.finditer(text)] + [m.span() for m in _CODE.finditer(text)]
    spans += [m.span() for m in _NAMED_YEAR.finditer(text)]
    figures = []
    for match in _FIGURE.finditer(_blank(text, spans)):
        number = match.group("num").replace(",", "")
        try:
            value = Decimal(number)
        except InvalidOperation:
            continue
        scale_word = (match.group("scale") or "").lower()
        decimals = len(number.split(".")[1]) if "." in number else 0
        figures.append(
            Figure(match.group(0).strip(), value, _SCALES.get(scale_word), bool(match.group("pct")), decimals)
        )
    return figures


def find_names(sentence: str) -> list[str]:
    """Capitalised words that name something: not the sentence's first word unless the next word
    is capitalised too ("Elon Musk is ..."), never sentence furniture."""
    text = MARKER.sub(" ", sentence)
    words = list(_NAME_WORD.finditer(text))
    names = []
    for i, match in enumerate(words):
        word = match.group(0).strip(".")
        if word.lower() in _NOT_NAMES or len(word) < 2:
            continue
        opening = not text[: match.start()].strip(" \"'“(")
        if opening:
            follows = words[i + 1] if i + 1 < len(words) else None
            joined = follows is not None and not text[match.end() : follows.start()].strip()
            if not joined:
                continue
        names.append(word)
    return names


_PERSON = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z]\.)?(?:\s+[A-Z][a-z'’-]+){1,2}\b")
# Capitalised words of job titles, organisations and documents: not a person's name.
_NOT_PERSON = frozenset(
    word_list(
        "executive vice president chief financial officer operating accounting principal director senior "
        "general counsel corporate controller treasurer secretary chairman board company corporation inc "
        "chair member committee officers directors the and of for form report quarterly annual item part "
        "exhibit table contents notes note statements statement consolidated condensed total net united "
        "states america street avenue road washington securities exchange commission act exhibits incorporated "
        "reference description filing date period end number rule section certification certifications"
    )
)


def person_names(text: str) -> list[str]:
    """Runs of capitalised words that look like a person's name ("Patrick P. Gelsinger"), not a
    title ("Chief Executive Officer") or a heading."""
    names = []
    for match in _PERSON.finditer(text):
        words = [w.strip(".") for w in match.group(0).split()]
        if not any(w.lower() in _NOT_PERSON or w.lower() in MONTHS for w in words):
            names.append(" ".join(match.group(0).split()))
    return names


# An organisation named with its legal form ("iRobot Corporation", "SoftBank Group Corp.", "1Life
# Healthcare, Inc.", "Anthropic, PBC"): capitalised words (or one like "iRobot") ending in a corporate word.
_ORGANISATION = re.compile(
    r"\b(?:[A-Z]|[a-z0-9][A-Z])[\w&'’.-]*(?:\s+(?:[A-Z][\w&'’.-]*|&|of|and))*?(?:,?\s+"
    r"(?:Corporation|Corp|Inc|Incorporated|Ltd|Limited|LLC|LP|L\.P|PBC|Company|Co|Group|Holdings|plc|PLC|AG|SE|"
    r"N\.V|S\.A|Management|Partners|Capital)\b)+"
)
_NOT_A_NAME = frozenset({"the", "our", "this", "that", "each", "any", "such"})  # "The Company" is the filer


def organisation_names(text: str) -> list[str]:
    """Organisations named with their legal form, as written (not the filer's "the Company")."""
    found = [m.group(0).split() for m in _ORGANISATION.finditer(text)]
    return [" ".join(words) for words in found if not {w.lower() for w in words[:-1]} <= _NOT_A_NAME]


_ALIAS = re.compile(r"\s*\((?:the\s+)?[“\"]?([A-Z][\w&-]+(?:\s+[A-Z][\w&-]+)?)[”\"]?\)")


def organisation_aliases(text: str) -> set[str]:
    """The short names a text gives organisations it names in full: "Tower Semiconductor Ltd.
    (Tower)", whose later sentences ("each ordinary share of Tower ...") name it by them."""
    found = set()
    for match in _ORGANISATION.finditer(text):
        alias = _ALIAS.match(text, match.end() + (text[match.end() : match.end() + 1] == "."))
        if alias is not None:
            found.add(alias.group(1))
    return found


# A short quotation ('a new product called "Mac 2023"'); a long one is a quoted sentence, checked by its words.
_QUOTED = re.compile(r"[\"“]([^\"“”\n]{2,60})[\"”]")


def facts_of(sentence: str) -> Facts:
    dates = tuple(date_mentions(sentence))
    quoted = tuple(dict.fromkeys(" ".join(q.split()) for q in _QUOTED.findall(sentence)))
    return Facts(tuple(find_figures(sentence)), dates, tuple(dict.fromkeys(find_names(sentence))), quoted)


class Passage:
    """A passage's checkable contents, computed once for all the sentences checked against it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.flat = " ".join(text.split()).lower()
        self.words = set(re.findall(r"[\w&'’.-]+", self.flat)) | set(re.findall(r"\w+", self.flat))
        self.figures = find_figures(text) + _percent_table_figures(text)
        self.dates = date_mentions(text)
        self.years = {d.year for d in self.dates}
        self.month_days = {(month_number(m.group(1)), int(m.group(2))) for m in MONTH_DAY.finditer(text)}
        self.months = {month for month, _ in self.month_days} | {d.month for d in self.dates if d.month}

    def has_figure(self, figure: Figure) -> bool:
        if any(figure.matches(theirs) for theirs in self.figures):
            return True
        # a year the page names a period by ("fiscal year 2024") is no figure it states, but it is there
        bare = figure.scale is None and not figure.percent and "$" not in figure.text and figure.decimals == 0
        year = rf"(?<![\d,.]){figure.value}(?![\d]|[,.]\d)"
        return bare and 1900 <= figure.value < 2100 and re.search(year, self.flat) is not None

    def has_date(self, fact: DateMention) -> bool:
        if fact.year not in self.years:
            return False
        if fact.month is None:
            return True
        for d in self.dates:
            if d.year == fact.year and d.month == fact.month and (fact.day is None or d.day in (None, fact.day)):
                return True
        # A table prints "September 30," over its columns and the years on the next line.
        if fact.day is None:
            return fact.month in self.months
        return (fact.month, fact.day) in self.month_days

    def has_name(self, name: str) -> bool:
        word = name.lower().strip(".")
        if word in self.words or word.rstrip("’'s") in self.words:
            return True
        if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", self.flat):  # "Table" in "Table1"
            return True
        expansion = _ACRONYMS.get(word)
        return expansion is not None and expansion in self.flat


def _percent_table_figures(text: str) -> list[Figure]:
    """A table of percentages prints "%" on its first row only (Amazon's "AWS 28 12" under "North
    America 20 % 11 %"): its other cells are percentages too, as its rows are read and shown."""
    cells = [cell for row in table_rows(text) if row.percent for cell in row.cells if "%" not in cell]
    return [replace(figure, percent=True) for cell in cells for figure in find_figures(cell)]


def unsupported(facts: Facts, passages: Iterable[Passage]) -> list[str]:
    """The facts that none of `passages` holds, as written."""
    held = list(passages)
    missing = [f.text for f in facts.figures if not any(p.has_figure(f) for p in held)]
    missing += [d.text for d in facts.dates if not any(p.has_date(d) for p in held)]
    missing += [n for n in facts.names if not any(p.has_name(n) for p in held)]
    missing += [f"“{q}”" for q in facts.quoted if not any(q.lower() in p.flat for p in held)]
    return missing
