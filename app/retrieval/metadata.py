"""Which documents a question is about, from the metadata read off each document's cover.

"Right company, wrong filing" is the largest error class on the financial sets: a company's
reports look alike and questions name the period in their own words ("Q2 2023", "FY2022", "the
latest 10-Q", "as of May 26, 2023"). A question's company, form, period and recency are matched
against each document's organisation, kind, period and file name; the match (0..1 per document)
boosts or, as an explicit MetadataFilter, restricts the search.
"""

import fnmatch
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from app.retrieval.dates import MONTH, DateMention, date_mentions, find_dates, year_ends
from app.retrieval.text import word_list
from ingestion.types import DocumentMetadata

_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
_ORDINAL |= {"一": 1, "二": 2, "三": 3, "四": 4}
_QUARTER_PATTERNS = (
    # Q2 2023, Q2'2023, Q2 of FY2024, Q2 FY24, 2Q23
    (re.compile(r"\bQ([1-4])\s*(?:of\s+)?(?:FY|fiscal(?:\s+year)?)?\s*'?\s*(\d{4}|\d{2})\b", re.IGNORECASE), 1, 2),
    (re.compile(r"(?<![0-9])(\d{4})\s*-?\s*Q([1-4])\b", re.IGNORECASE), 2, 1),  # 2023 Q2, 2024Q2, FY2023Q1
    (re.compile(r"\b([1-4])Q\s*'?(\d{2}|\d{4})\b"), 1, 2),
    (
        re.compile(
            r"\b(first|second|third|fourth|1st|2nd|3rd|4th)[- ]quarter\s+(?:of\s+)?"
            r"(?:fiscal\s+(?:year\s+)?|FY\s*)?(\d{4})\b",
            re.IGNORECASE,
        ),
        1,
        2,
    ),
    # the fiscal year first: "FY24 Q1", "FY24第一季度" (no word boundary between "FY24" and Chinese)
    (re.compile(r"(?<![a-z0-9])(?:FY|fiscal\s+(?:year\s+)?)\s*'?(\d{4}|\d{2})\s*-?\s*Q([1-4])(?![0-9])", re.I), 2, 1),
    (re.compile(r"(?<![a-z0-9])FY\s*'?(\d{4}|\d{2})\s*(?:财年)?\s*第([一二三四1-4])(?:财季|季度)", re.I), 2, 1),
    (re.compile(r"\bH([12])\s*(?:of\s+)?(?:FY|fiscal)?\s*'?(\d{4}|\d{2})\b", re.IGNORECASE), 1, 2),  # half -> Q2/Q4
)
_FISCAL_YEAR = re.compile(r"(?<![a-z0-9])(?:FY|fiscal\s+(?:year\s+)?)\s*'?(\d{4}|\d{2})(?![0-9])", re.IGNORECASE)
_YEAR = re.compile(r"(?<![0-9])(19[89]\d|20\d{2})(?![0-9])")  # also inside "FY2023Q1", "2023Q4"
# not "current liabilities"; "last quarter" as people say it, not "the last quarter of 2022"
_RECENT = re.compile(
    r"\b(?:latest|most\s+recent|newest)\b|\b(?:last|past)\s+quarter\b(?!\s+of\b)|上个?季度|最近一个?季度?|最新",
    re.IGNORECASE,
)
_THIS_PERIOD = re.compile(r"\b(?:the|this|current)\s+quarter\b|本季度|这个季度|本季|当前", re.IGNORECASE)
_HOLIDAYS = re.compile(r"\bholidays\b|\bholiday\s+(?:quarter|season)|圣诞季|假日季|节日季", re.I)
_PART_OF_YEAR = re.compile(r"(nine\s+months|前九个月|前三季度)|six\s+months|first\s+half|前六个月|上半年", re.I)
QUARTER_DAYS = 84  # a day within a quarter, not the end of the one before (91 or 98 days back)
COVER_DAYS = 60  # a 10-Q's cover dates ("shares outstanding as of ...") fall within this after its period
_KINDS = (
    ("10-Q", re.compile(r"\b10-?Q\b|\bquarterly\s+report\b", re.IGNORECASE)),
    ("10-K", re.compile(r"\b10-?K\b|\bannual\s+report\b", re.IGNORECASE)),
    ("8-K", re.compile(r"\b8-?K\b", re.IGNORECASE)),
    ("earnings release", re.compile(r"\bearnings\s+(?:release|report|call)\b|\bpress\s+release\b", re.IGNORECASE)),
)
# Parts of company names that do not tell companies apart.
_CORPORATE = frozenset(
    word_list(
        """
        inc incorporated corp corporation co company companies ltd limited plc llc lp sa ag nv group
        holdings holding the com and of
        """
    )
)
# First words of company names that are ordinary words: such a name must appear whole.
_GENERIC_FIRST = frozenset(
    word_list(
        """
        american general united first national international global new best bank great state southern
        northern eastern western pacific atlantic central standard royal public capital digital home world
        """
    )
)
# File-name words that name no company.
_FILE_WORDS = frozenset(
    word_list(
        """
        report reports annual quarterly earnings dated final draft copy version doc docs document pdf txt
        10k 10q 8k form filing release q1 q2 q3 q4 fy
        """
    )
)
_WORD = re.compile(r"[a-z0-9]+")
_SHORT_FORM = re.compile(r"\b[A-Z][a-z]?[&A-Z][A-Za-z&]*\b")  # two capitals near the start: AMEX, JnJ, AmEx


def abbreviates(short: str, words: Sequence[str]) -> bool:
    """`short` spells all of `words` (two or more) as their prefixes, in order, optionally joined
    by "n" or "&" for a dropped "and": "amex" American Express, "jnj" and "j&j" Johnson & Johnson."""
    if len(words) < 2:
        return False

    def spell(rest: str, i: int) -> bool:
        if i == len(words):
            return not rest
        if i > 0 and rest[:1] in ("n", "&") and spell(rest[1:], i):
            return True
        return any(words[i].startswith(rest[:n]) and spell(rest[n:], i + 1) for n in range(1, len(rest) + 1))

    return spell(short, 0)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _year(text: str) -> int:
    value = int(text)
    return value + 2000 if value < 100 else value


# What a question's period is compared with follows these words.
_COMPARED_WITH = re.compile(r"\bcompared\s+(?:with|to)\b|\bversus\b|\bvs\.?(?=\s)|\brelative\s+to\b", re.I)


def find_quarters(text: str) -> list[tuple[int, int]]:
    """(year, quarter) mentions; a half year counts as its last quarter (H1 -> Q2)."""
    found: list[tuple[int, int]] = []
    for pattern, q_group, y_group in _QUARTER_PATTERNS:
        for m in pattern.finditer(text):
            raw = m.group(q_group)
            quarter = _ORDINAL.get(raw.lower(), 0) or int(raw)
            if pattern is _QUARTER_PATTERNS[-1][0]:
                quarter *= 2
            found.append((_year(m.group(y_group)), quarter))
    return found


def calendar_quarter(day: date) -> tuple[int, int]:
    """The calendar quarter a period ending on `day` reports (52/53-week years end days later)."""
    shifted = day - timedelta(days=10)
    return shifted.year, (shifted.month - 1) // 3 + 1


@dataclass(frozen=True)
class DocumentFacts:
    """What a question can be matched against, for one document."""

    document_id: int
    file_name: str
    metadata: DocumentMetadata
    company_words: frozenset[str] = frozenset()  # distinctive words of the organisation
    company_phrase: tuple[str, ...] = ()  # all significant words, in order
    name_words: frozenset[str] = frozenset()  # file-name words that may name a company
    period_end: date | None = None
    is_annual: bool = False
    quarters: frozenset[tuple[int, int]] = frozenset()  # said by the file name or the period text
    years: frozenset[int] = frozenset()
    fiscal_quarter: tuple[int, int] | None = None  # (fiscal year, quarter) the document's text reports
    last_year_end: date | None = None  # the fiscal year's end before its period, as its text names it

    @classmethod
    def of(cls, document_id: int, file_name: str, metadata: DocumentMetadata) -> "DocumentFacts":
        org_words = [w for w in _words(metadata.organisation or "") if w not in _CORPORATE]
        distinctive = frozenset(org_words[:1]) if org_words and org_words[0] not in _GENERIC_FIRST else frozenset()
        stem = file_name.rsplit(".", 1)[0].replace("_", " ")  # "BESTBUY_2024Q2_10Q": words apart
        name_words = frozenset(
            w for w in re.split(r"[^a-z]+", stem.lower()) if len(w) >= 3 and w not in _FILE_WORDS | _CORPORATE
        )
        period = metadata.period or ""
        dates = find_dates(period) or find_dates(stem)
        period_end = dates[0] if dates else None
        quarters = set(find_quarters(stem)) | set(find_quarters(period))
        years = {int(y) for y in _YEAR.findall(stem)} | {y for y, _ in quarters}
        is_annual = bool(re.search(r"\byear\b", period, re.IGNORECASE)) or (metadata.kind or "") in ("10-K", "20-F")
        if period_end is not None and is_annual:
            years.add(period_end.year)
        return cls(
            document_id,
            file_name,
            metadata,
            distinctive,
            tuple(org_words),
            name_words,
            period_end,
            is_annual,
            frozenset(quarters),
            frozenset(years),
        )


@dataclass(frozen=True)
class QueryHints:
    """What a question says about which document it wants."""

    words: frozenset[str]
    dates: tuple[date, ...] = ()
    quarters: tuple[tuple[int, int], ...] = ()
    years: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()
    recent: bool = False
    short_forms: frozenset[str] = frozenset()  # "AMEX", "JnJ", "J&J", lowercased: may abbreviate a name
    months: tuple[tuple[int, int], ...] = ()  # (year, month) named without a day: "the December 2022 quarter"
    fiscal: bool = False  # quarters and years named as fiscal ones, whose calendar months vary by company
    # spans of months named ("2023年7-9月", "July to September 2023"), as (first, last) month numbers
    # counted from year 0; their last month is also in `months`
    spans: tuple[tuple[int, int], ...] = ()

    @classmethod
    def parse(cls, question: str) -> "QueryHints":
        quarters = tuple(dict.fromkeys(find_quarters(question)))
        if (compared := _COMPARED_WITH.search(question)) and len(quarters) > 1:
            # "in Q3 2023 compared with Q3 2022": the one asked about comes first; it is put last
            asked = find_quarters(question[: compared.start()])
            quarters = tuple(dict.fromkeys([q for q in quarters if q not in asked] + asked))
        fiscal = [_year(y) for y in _FISCAL_YEAR.findall(question)]
        years = tuple(dict.fromkeys(fiscal + [int(y) for y in _YEAR.findall(question)]))
        dates = tuple(dict.fromkeys(find_dates(question) + year_ends(question)))
        mentions = [m for m in date_mentions(question) if m.day is None]
        months = tuple(dict.fromkeys((m.year, m.month) for m in mentions if m.month))
        spans = tuple(dict.fromkeys(_month_span(m) for m in mentions if m.months_spanned))
        if years and not (quarters or months) and _HOLIDAYS.search(question):
            months = ((years[-1], 12),)  # "over the 2022 holidays": the quarter that ends in December
        if not quarters and years and (part := _PART_OF_YEAR.search(question)):
            # "the first nine months of 2023": what the third quarter's filing reports
            quarters = ((max(years), 3 if part.group(1) else 2),)
        named_period = bool(dates or months or quarters or years)
        return cls(
            words=frozenset(_words(question)),
            dates=dates,
            quarters=quarters,
            years=years,
            kinds=tuple(kind for kind, pattern in _KINDS if pattern.search(question)),
            # "in the quarter", "this quarter", "本季度" with no period named: the latest filing
            recent=bool(_RECENT.search(question)) or (not named_period and bool(_THIS_PERIOD.search(question))),
            short_forms=frozenset(m.lower() for m in _SHORT_FORM.findall(question) if len(m) >= 3),
            months=months,
            fiscal=bool(fiscal) or "fiscal" in question.lower(),
            spans=spans,
        )


def _month_span(mention: DateMention) -> tuple[int, int]:
    """A span's first and last months ("2023年7-9月") counted from year 0; "11-1" runs into the next year."""
    end = mention.year * 12 + (mention.month or 0) - 1
    return end - (mention.months_spanned or 1) + 1, end


def _spans_quarter(end: date, spans: tuple[tuple[int, int], ...]) -> bool:
    """Does a span of months the question names share most of a quarter ending `end`? NVIDIA's
    quarter ended October 29, 2023 is most of "2023年7-9月" (August, September); the one ended
    July 30 only its July. Longer spans ("2023年1-6月") are reported by the filing of their last month."""
    year, month = month_named(end)
    last = year * 12 + month - 1
    return any(to - first <= 2 and min(last, to) - max(last - 2, first) + 1 >= 2 for first, to in spans)


@dataclass(frozen=True)
class MatchWeights:
    company: float = 1.0
    period: float = 1.0
    kind: float = 0.5


def _company(facts: DocumentFacts, hints: QueryHints) -> bool:
    if facts.company_words and facts.company_words <= hints.words:
        return True
    if len(facts.company_phrase) >= 1 and set(facts.company_phrase) <= hints.words:
        return True
    if any(abbreviates(short, facts.company_phrase) for short in hints.short_forms):
        return True
    return bool(facts.name_words & hints.words)


def _on_date(facts: DocumentFacts, hints: QueryHints) -> float:
    """1 for a date at the document's period end (or a month it ends in), 0.5 for a date soon after
    it (the cover page's "as of" date), at the fiscal year's end before it (a quarterly balance
    sheet's other column: "December 31, 2022" in each 2023 10-Q) or a year before it (the statements'
    prior-year column: "Three Months Ended April 1, 2023 and March 26, 2022"), 0.25 for a day within
    its quarter."""
    end = facts.period_end
    if end is None:
        return 0.0
    if any(abs((d - end).days) <= 7 for d in hints.dates) or month_named(end) in hints.months:
        return 1.0
    if not facts.is_annual and _spans_quarter(end, hints.spans):
        return 1.0
    soon = [d for d in hints.dates] + [date(y, m, 15) for y, m in hints.months]  # an event that month
    year_end = _last_year_end(facts)
    shown = year_end is not None and any(abs((d - year_end).days) <= 10 for d in hints.dates)
    # 52/53-week years: Apple's year-ago quarter ended 371 days before, NVIDIA's 364
    year_ago = any(abs((end - d).days - 365) <= 10 for d in hints.dates)
    if shown or year_ago or any(0 < (d - end).days <= COVER_DAYS for d in soon):
        return 0.5
    # An event during the quarter ("the dividend declared September 19, 2023", "agreed in August
    # 2022"): its report tells of it.
    return 0.25 * float(any(0 < (end - d).days < QUARTER_DAYS for d in soon))


def month_named(end: date) -> tuple[int, int]:
    """The month a period ending on `end` is named by: a 52/53-week quarter ended April 1, 2023 is
    Apple's "March quarter"."""
    named = end - timedelta(days=7) if end.day <= 7 else end
    return named.year, named.month


def _last_year_end(facts: DocumentFacts) -> date | None:
    """The end of the fiscal year before a quarterly report's period: as its text names it (the
    annual report "for the fiscal year ended September 24, 2022"), else 3, 6 or 9 months before
    its period by the fiscal quarter its text reports. Not by the calendar: Apple's quarter ended
    April 1, 2023 shows September 24, 2022, not December 31."""
    end = facts.period_end
    if end is None or facts.is_annual:
        return None
    if facts.last_year_end is not None:
        return facts.last_year_end
    if facts.fiscal_quarter is None or facts.fiscal_quarter[1] == 4:
        return None
    quarter = facts.fiscal_quarter[1]
    months = end.year * 12 + end.month - 1 - 3 * quarter
    return date(months // 12, months % 12 + 1, min(end.day, 28))


def _in_fiscal_year(facts: DocumentFacts, hints: QueryHints) -> bool:
    """A fiscal year Y ends between January and December of Y, whatever the company: a period
    ending from March of Y-1 to December of Y may belong to it."""
    end = facts.period_end
    years = hints.years or tuple(y for y, _ in hints.quarters)
    return end is not None and any(date(y - 1, 3, 1) <= end <= date(y, 12, 31) for y in years)


def _period(facts: DocumentFacts, hints: QueryHints) -> float:
    """1 for the period the question names last (usually the one asked about), 0.5 for another; a
    quarter is also held, less well, by the report of the same quarter a year later."""
    best = 0.0
    mentions = len(hints.quarters)
    for i, quarter in enumerate(hints.quarters):
        value = 1.0 if i == mentions - 1 else 0.5
        if quarter in facts.quarters:
            best = max(best, value)
        elif facts.period_end is not None and not facts.is_annual and calendar_quarter(facts.period_end) == quarter:
            best = max(best, 0.5 * value)
        elif _compares(facts, quarter):
            best = max(best, 0.25 * value)
    if hints.fiscal and facts.fiscal_quarter is not None and hints.quarters:
        if facts.fiscal_quarter in hints.quarters:
            return 1.0  # "the third quarter of fiscal 2024" is NVIDIA's quarter ended October 29, 2023
        # Its text says which fiscal quarter it reports, and it is another: its file name's
        # calendar quarter ("2023 Q3 MSFT") is not Microsoft's fiscal one.
        best *= 0.5
    if not hints.quarters:
        latest = max(hints.years, default=None)
        for year in hints.years:
            value = 1.0 if year == latest else 0.5
            if year in facts.years:
                best = max(best, value)
            elif facts.period_end is not None and facts.period_end.year == year:
                best = max(best, 0.5 * value)
    return best


def _kind(facts: DocumentFacts, hints: QueryHints) -> float:
    kind = (facts.metadata.kind or "").lower()
    name = facts.file_name.lower().replace("-", "")
    for wanted in hints.kinds:
        if kind == wanted.lower() or wanted.lower().replace("-", "") in name:
            return 1.0
    return 0.0


def match_documents(
    hints: QueryHints, documents: Iterable[DocumentFacts], weights: MatchWeights = MatchWeights()
) -> dict[int, float]:
    """Document id -> how well it fits the question (0..1); empty when the question says nothing
    that tells the documents apart. A facet matching every document is ignored; a named company
    that a document is not gets that document 0 whatever else matches."""
    docs = list(documents)
    if not docs:
        return {}
    company = {d.document_id: _company(d, hints) for d in docs}
    period = {d.document_id: _on_date(d, hints) for d in docs}
    if not any(period.values()):  # an exact date outranks quarters and years named beside it
        period = {d.document_id: _period(d, hints) for d in docs}
    kind = {d.document_id: _kind(d, hints) for d in docs}

    def telling(values: Mapping[int, float]) -> bool:
        return any(values.values()) and not all(values.values())

    use_company, use_period, use_kind = telling(company), telling(period), telling(kind)
    if not any(company.values()) and not (hints.dates or hints.months):
        # A year or a form alone fits too many filings of unrelated companies (measured on
        # FinanceBench: "FY2023" with an unrecognised company name boosted other companies' 10-Ks).
        use_period = use_kind = False
    if hints.recent and not use_period:
        pool = [d for d in docs if d.period_end is not None and (company[d.document_id] or not use_company)]
        if pool:
            newest = max(d.period_end for d in pool if d.period_end is not None)
            period = {d.document_id: float(d in pool and d.period_end == newest) for d in docs}
            use_period = telling(period)
    total = weights.company * use_company + weights.period * use_period + weights.kind * use_kind
    if total == 0:
        return {}
    scores: dict[int, float] = {}
    for d in docs:
        i = d.document_id
        if use_company and not company[i]:
            scores[i] = 0.0
            continue
        scores[i] = (
            weights.company * use_company * company[i]
            + weights.period * use_period * period[i]
            + weights.kind * use_kind * kind[i]
        ) / total
    return scores


@dataclass(frozen=True)
class MetadataFilter:
    """A hard restriction, applied to the allowed chunk ids before any ranking. Text fields match
    case-insensitively as substrings; document names are globs over file names."""

    organisation: str | None = None
    kind: str | None = None
    period: str | None = None
    documents: tuple[str, ...] = ()  # keep only these file-name globs (any)
    exclude_documents: tuple[str, ...] = field(default_factory=tuple)  # drop these globs

    def accepts(self, facts: DocumentFacts) -> bool:
        meta = facts.metadata
        for wanted, have in (
            (self.organisation, meta.organisation),
            (self.kind, meta.kind),
            (self.period, meta.period),
        ):
            if wanted and wanted.lower() not in (have or "").lower():
                return False
        name = facts.file_name.lower()
        if self.documents and not any(fnmatch.fnmatchcase(name, g.lower()) for g in self.documents):
            return False
        return not any(fnmatch.fnmatchcase(name, g.lower()) for g in self.exclude_documents)


def names_fit(hints: QueryHints, document: DocumentFacts, company_named: bool) -> bool:
    """Does `document` fit what the question says about which document it wants (its company, its
    period), as far as the document's own metadata can tell? Unlike match_documents this is not
    relative to the other documents: it answers "is the filing the question names here at all"."""
    if company_named and document.metadata.organisation and not _company(document, hints):
        return False
    if not (hints.dates or hints.months or hints.quarters or hints.years):
        return True
    if document.period_end is None and not document.years and not document.quarters:
        return True  # a document without a period (a handbook) cannot be ruled out by one
    if (hints.dates or hints.months) and document.period_end is not None:
        return _on_date(document, hints) > 0  # an exact date outranks the year written in it
    # A fiscal quarter read from the text is a hint, not a verdict: filings also name other
    # quarters (Microsoft's outlook for "the first quarter of fiscal year 2025").
    return _period(document, hints) > 0 or (hints.fiscal and _in_fiscal_year(document, hints))


def _compares(facts: DocumentFacts, quarter: tuple[int, int]) -> bool:
    """A quarterly report prints the same quarter a year before beside its own: Intel's revenue in
    Q2 2022 is in its Q2 2023 report, with no Q2 2022 report held."""
    if facts.is_annual:
        return False
    own = set(facts.quarters)
    if facts.period_end is not None:
        own.add(calendar_quarter(facts.period_end))
    return (quarter[0] + 1, quarter[1]) in own


_FISCAL_QUARTER = re.compile(
    r"\b(first|second|third|fourth)\s+quarter\s+(?:of\s+)?fiscal\s+(?:year\s+)?(\d{4})\b", re.IGNORECASE
)


class FiscalQuarterFinder:
    """Fed every chunk, says which fiscal quarter each document reports: the quarter its text
    names most ("Third Quarter Fiscal Year 2023 Compared with Third Quarter Fiscal Year 2022"),
    in the latest year named with it. Fiscal years differ by company, so only the text can say;
    it can also be wrong (an outlook names next year's quarter), so a match counts for a document
    and a mismatch does not count against it."""

    def __init__(self) -> None:
        self._mentions: dict[int, Counter[tuple[int, int]]] = defaultdict(Counter)

    def add(self, document_id: int, text: str) -> None:
        for match in _FISCAL_QUARTER.finditer(text):
            self._mentions[document_id][(int(match.group(2)), _ORDINAL[match.group(1).lower()])] += 1

    def of(self, document_id: int, period_end: date | None = None) -> tuple[int, int] | None:
        """The quarter named most; with the period the document ends (its cover date), only a
        quarter that can end then: a filing also names last year's quarters and next year's
        outlook ("the first quarter of fiscal year 2022" nine times in Microsoft's third quarter
        of fiscal 2023, for a tax event)."""
        mentions = self._mentions.get(document_id)
        if not mentions:
            return None
        if period_end is not None:
            mentions = Counter({key: n for key, n in mentions.items() if _can_end(key, period_end)})
            if not mentions:
                return None
        by_quarter: Counter[int] = Counter()
        for (_, quarter), n in mentions.items():
            by_quarter[quarter] += n
        quarter = by_quarter.most_common(1)[0][0]
        return max(year for year, q in mentions if q == quarter), quarter


_YEAR_ENDED = re.compile(r"\byear\s+ended\s+(" + MONTH + r"\s*\d{1,2}\s*,?\s*(?:19|20)\d{2})", re.IGNORECASE)


class YearEndFinder:
    """Fed every chunk, says when each document's last fiscal year ended: the latest "year ended
    <date>" its text names within a year before its period (a 10-Q cites "our Annual Report on
    Form 10-K for the fiscal year ended September 24, 2022"), which is its balance sheet's other
    column. Fiscal years end when the company's do, so only the text can say."""

    def __init__(self) -> None:
        self._dates: dict[int, set[date]] = defaultdict(set)

    def add(self, document_id: int, text: str) -> None:
        for match in _YEAR_ENDED.finditer(text):
            self._dates[document_id].update(find_dates(match.group(1)))

    def of(self, document_id: int, period_end: date | None) -> date | None:
        if period_end is None:
            return None
        before = [d for d in self._dates.get(document_id, ()) if 0 < (period_end - d).days < 366]
        return max(before, default=None)


def _can_end(fiscal: tuple[int, int], period_end: date) -> bool:
    """Can quarter q of fiscal year Y end on `period_end`? The year then ends 3 * (4 - q) months
    later, somewhere in calendar year Y (a 52/53-week year may end days into January)."""
    year, quarter = fiscal
    months = period_end.year * 12 + period_end.month - 1 + 3 * (4 - quarter)
    year_end = date(months // 12, months % 12 + 1, 1)
    return date(year, 1, 1) <= year_end <= date(year + 1, 1, 31)


def company_named(hints: QueryHints, documents: Iterable[DocumentFacts]) -> bool:
    """The question names the organisation of some readable document (one with metadata)."""
    return any(d.metadata.organisation and _company(d, hints) for d in documents)
