"""Document metadata (title, organisation, kind, period) read from the document's own text.

Reports of one company look alike ("right company, wrong filing" is the largest error class), so
the facts that tell them apart are read from the cover: for SEC filings the form type, the exact
registrant name and the period ("For the quarterly period ended April 1, 2023"); for earnings
releases the company and the quarter; for anything else a title (embedded or first heading).
"""

import re

from ingestion.types import DocumentMetadata, PageText

# The cover is on the first page or two (some filings open with a table-of-contents link page).
_COVER_PAGES = 3
_COVER_CHARS = 8000
_MAX_TITLE_CHARS = 150

_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sept?\.?|Oct\.?|Nov\.?|Dec\.?)"
)
# pypdf sometimes drops or adds spaces ("February4, 2023", "December 31 , 2022").
_DATE = rf"{_MONTH}\s*\d{{1,2}}\s*,?\s*\d{{4}}"

_SEC_FORM = re.compile(r"\bFORM\s+(10-?K|10-?Q|8-?K|20-F|40-F|6-K|S-1|S-4|DEF\s?14A|11-K)\b", re.IGNORECASE)
_REPORT_KIND = (
    (re.compile(r"QUARTERLY\s+REPORT\s+PURS\s?UANT", re.IGNORECASE), "10-Q"),
    (re.compile(r"ANNUAL\s+REPORT\s+PURS\s?UANT", re.IGNORECASE), "10-K"),
    (re.compile(r"CURRENT\s+REPORT\s+Pursuant", re.IGNORECASE), "8-K"),
)
_FILING_PERIOD = re.compile(
    rf"For\s+the\s+(quarterly\s+period|fiscal\s+year|year|quarter)\s+ended:?\s*({_DATE})", re.IGNORECASE
)
_REPORT_DATE = re.compile(
    rf"Date\s+of\s+report\s*\(Date\s+of\s+earliest\s+event\s+reported\)\s*:?\s*({_DATE})", re.IGNORECASE
)
_EXACT_NAME = re.compile(r"\(\s*Exact\s+name\s+of\s+(?:the\s+)?registrant", re.IGNORECASE)
# What may stand just before the registrant name on a cover; the name starts after the last one.
_BEFORE_NAME = re.compile(
    rf"Commission\s+File\s+(?:Number|No\.?)\s*:?\s*[\d-]+|_{{3,}}|\)|:|{_DATE}|\bFORM\s+\S+", re.IGNORECASE
)
_CORPORATE_NAME = re.compile(
    r"[A-Z0-9][\w.&,'’ -]{0,60}?\b(?:INC|Inc|INCORPORATED|Incorporated|CORPORATION|Corporation|CORP|Corp"
    r"|COMPANY|Company|CO|Co|LTD|Ltd|LIMITED|Limited|PLC|plc|N\.V|S\.A|LLC|GROUP|Group"
    r"|INTERNATIONAL|International|HOLDINGS|Holdings)\b\.?"
)
_AFTER_FILE_NUMBER = re.compile(r"Commission\s+File\s+(?:Number|No\.?)\s*:?\s*[\d-]+\s*", re.IGNORECASE)
# Embedded titles that EDGAR tools write: "Form 10-Q for Microsoft Corp filed 01/24/2023",
# "10-K - 02/08/2023 - 3M Company".
_TITLE_FORM_FOR = re.compile(r"^Form\s+\S+\s+for\s+(.+?)\s+filed\b", re.IGNORECASE)
_TITLE_FORM_DASH = re.compile(r"^\S+\s+-\s+\d{2}/\d{2}/\d{4}\s+-\s+(.+)$")

# Earnings releases: "PepsiCo, Inc. (NASDAQ: PEP) today reported results for the first quarter 2023".
_TICKER_NAME = re.compile(
    r"(?:^|[–—)]|--|\s-\s|\d{4}\s)\s*([A-Z][^()–—\n]{1,60}?)\s*\((?:NYSE|NASDAQ|Nasdaq|ASX|LSE|TSX)[^:)]*:\s*[A-Z.]+\)"
)
_HEADLINE_NAME = re.compile(
    r"^\W*([A-Z][\w.&,'’ ]{1,50}?)\s+(?i:reports|announces)\b", re.MULTILINE
)
_RESULTS = re.compile(
    r"\b(?:reports?|reported|announces?|announced)\b.{0,80}?\bresults\b", re.IGNORECASE | re.DOTALL
)
_PERIOD_ENDED = re.compile(
    rf"\b(quarter|year|period)s?(?:\s*\([^)]{{0,30}}\))?(?:\s+and\s+(?:full\s+|fiscal\s+)?year)?\s+ended\s+({_DATE})",
    re.IGNORECASE,
)
_NAMED_QUARTER = re.compile(
    r"\b(first|second|third|fourth)[- ]quarter(?:\s+(?:and\s+)?full[- ]year)?"
    r"\s+(?:of\s+)?(?:fiscal\s+)?(\d{4})\b"
    r"|\b(?:fiscal\s+)?(\d{4})\s+(first|second|third|fourth)[- ]quarter\b",
    re.IGNORECASE,
)
_FISCAL_YEAR_RESULTS = re.compile(r"\bfiscal\s+(?:year\s+)?(\d{4})\s+results\b", re.IGNORECASE)

_BOILERPLATE_LINE = re.compile(
    r"^(?:for immediate release|exhibit\s+\d|page\s+\d+\s+of\s+\d+|table\s+of\s+contents)", re.IGNORECASE
)
_PERIOD_WORDING = {
    "quarterly period": "quarter",
    "quarter": "quarter",
    "fiscal year": "fiscal year",
    "year": "year",
}


def extract_metadata(pages: tuple[PageText, ...], embedded_title: str | None) -> DocumentMetadata:
    cover_lines = "\n".join(page.text for page in pages[:_COVER_PAGES])[:_COVER_CHARS]
    cover = " ".join(cover_lines.split())  # one line: covers break phrases over lines arbitrarily
    title = meaningful_title(embedded_title)
    kind = _sec_form(cover)
    if kind is not None:
        # The cover's own words first; EDGAR-style embedded titles abbreviate ("Microsoft Corp").
        organisation = _registrant(cover) or _name_after_file_number(cover) or _organisation_from_title(title)
        # No title: organisation, form and period say it all, and the header costs tokens per chunk.
        return DocumentMetadata(organisation=organisation, kind=kind, period=_filing_period(cover))
    if _RESULTS.search(cover[:1500]):
        return DocumentMetadata(
            title=title,  # the header already says whose release and which quarter
            organisation=_release_organisation(cover, cover_lines),
            kind="earnings release",
            period=_release_period(cover),
        )
    return DocumentMetadata(title=title or _first_line(pages))


def meaningful_title(title: str | None) -> str | None:
    """The embedded title unless it is an accession number, a file name or other filler."""
    if not title:
        return None
    title = " ".join(title.split())
    title = re.sub(r"^Microsoft (?:Word|PowerPoint) - ", "", title)
    letters = sum(ch.isalpha() for ch in title)
    if letters < 3 or re.fullmatch(r"[\w-]+\.(?:docx?|pdf|html?|txt|md)", title, re.IGNORECASE):
        return None
    if title.upper() in ("UNITED STATES SECURITIES AND EXCHANGE COMMISSION", "UNTITLED", "DOCUMENT"):
        return None
    return title[:_MAX_TITLE_CHARS]


def _sec_form(cover: str) -> str | None:
    """The form named on an SEC cover page (not a form merely mentioned in the text)."""
    head = cover[:1500]
    if "SECURITIES AND EXCHANGE COMMISSION" not in head.upper():
        return None
    match = _SEC_FORM.search(head)
    if match:
        form = match.group(1).upper().replace(" ", "")
        return re.sub(r"^(10|8)([KQ])$", r"\1-\2", form)
    for pattern, form in _REPORT_KIND:
        if pattern.search(head):
            return form
    return None


def _registrant(cover: str) -> str | None:
    """The name printed just above "(Exact name of registrant as specified in its charter)"."""
    match = _EXACT_NAME.search(cover)
    if match is None:
        return None
    before = cover[max(0, match.start() - 200) : match.start()]
    anchors = list(_BEFORE_NAME.finditer(before))
    name = before[anchors[-1].end() :] if anchors else before
    name = name.strip(" _:–—-")
    return name if 2 <= len(name) <= 100 and any(ch.isalpha() for ch in name) else None


def _organisation_from_title(title: str | None) -> str | None:
    if not title:
        return None
    for pattern in (_TITLE_FORM_FOR, _TITLE_FORM_DASH):
        match = pattern.match(title)
        if match:
            return match.group(1).strip()
    return None


def _name_after_file_number(cover: str) -> str | None:
    match = _AFTER_FILE_NUMBER.search(cover)
    if match is None:
        return None
    name = _CORPORATE_NAME.match(cover, match.end())
    return name.group(0).strip() if name else None


def _filing_period(cover: str) -> str | None:
    match = _FILING_PERIOD.search(cover)
    if match:
        wording = _PERIOD_WORDING[" ".join(match.group(1).lower().split())]
        return f"{wording} ended {_tidy_date(match.group(2))}"
    match = _REPORT_DATE.search(cover)
    if match:
        return f"report dated {_tidy_date(match.group(1))}"
    return None


def _release_organisation(cover: str, cover_lines: str) -> str | None:
    match = _TICKER_NAME.search(cover[:3000])
    if match:
        # "PURCHASE, N.Y. - April 25, 2023 - PepsiCo, Inc.": the name follows the last dateline dash.
        return re.split(r"\s[-–—]\s|--|\d{4}\s", match.group(1))[-1].strip(" ,-–—")
    match = _HEADLINE_NAME.search(cover_lines[:1000])
    return match.group(1).strip() if match else None


def _release_period(cover: str) -> str | None:
    """Both the quarter's name and its end date when the release gives them: questions use either."""
    head = cover[:3000]
    parts = []
    match = _NAMED_QUARTER.search(head)
    if match:
        ordinal = (match.group(1) or match.group(4)).lower()
        parts.append(f"{ordinal} quarter {match.group(2) or match.group(3)}")
    elif match := _FISCAL_YEAR_RESULTS.search(head):
        parts.append(f"fiscal year {match.group(1)}")
    match = _PERIOD_ENDED.search(head)
    if match:
        parts.append(f"{match.group(1).lower()} ended {_tidy_date(match.group(2))}")
    return ", ".join(parts) or None


def _tidy_date(date: str) -> str:
    """"December 31 , 2022" / "February4, 2023" -> "December 31, 2022"."""
    match = re.match(r"([A-Za-z]+\.?)\s*(\d{1,2})\s*,?\s*(\d{4})", date)
    return f"{match.group(1)} {match.group(2)}, {match.group(3)}" if match else date


def _first_line(pages: tuple[PageText, ...]) -> str | None:
    """The first line with words: a Markdown heading, an HTML page's first text, a PDF's title line."""
    for page in pages:
        for line in page.text.splitlines():
            line = line.strip().lstrip("#").strip()
            if sum(ch.isalpha() for ch in line) >= 3 and not _BOILERPLATE_LINE.match(line):
                return line[:_MAX_TITLE_CHARS]
    return None
