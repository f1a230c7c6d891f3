"""Extractive answers: the table row or sentence of the sources that answers the question, quoted
exactly, with the period and unit its table header gives.

    "Cash and cash equivalents: $49,605 million at September 30, 2023 ($53,888 million at
     December 31, 2022) [1]"

This works with any model, or none: nothing in it is generated. A row is chosen by how much of
the question its label covers (in English, also for a Chinese question through the glossary), and
its column by the period the question names (the quarter, unless it asks for six or nine months or
the year; the latest date, unless it names one). A sentence is chosen by how much of the question
it covers and whether it holds what the question asks for (a figure, a name, a date).
"""

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from itertools import pairwise

from app.chain.citations import snippet_around
from app.chain.date_tables import dated_rows
from app.chain.equity_periods import with_block_period
from app.chain.facts import (
    ASKS_FOR_FIGURE,
    ASKS_ORGANISATION,
    ASKS_PLACE,
    ASKS_PRODUCT,
    OPENS_WITH_FIGURE,
    REFERENCE_NUMBER,
    answering_figures,
    asks_for_a_count,
    find_figures,
    find_names,
    organisation_aliases,
    organisation_names,
    person_names,
)
from app.chain.ranking import RankAsked, asks_rank, blocks, kind_fits, measured, set_aside
from app.chain.repurchases import repurchase_rows
from app.chain.sentences import Sentence, ends_on_dangling_word, points_elsewhere, split_sentences, stands_alone
from app.chain.signatures import signers
from app.chain.tables import DASHES, UNIT_START, Period, Row, table_rows
from app.chain.topic import HOW_ASKED, covers_the_rarest, root
from app.retrieval.changes import CHANGE_ASKED, DOWN_WORDS, UP_WORDS
from app.retrieval.commands import asks_for_code, asks_how_to
from app.retrieval.cover import (
    ASKS_DATE,
    ASKS_DAY,
    PERIOD_ENDED,
    asks_for_period_end,
    asks_for_shares_outstanding,
    says_averaged,
    states_period_end,
)
from app.retrieval.dates import MONTH_NAMES, DateMention, date_mentions, year_ends
from app.retrieval.glossary import (
    ABBREVIATIONS,
    COMPANY_NAMES,
    NOT_LINES,
    acronyms,
    as_one_term,
    english_company_names,
    excepted_segments,
    expanded_terms,
    glossed,
    named_by_phrase,
    named_segments,
    spells,
    spelt_out,
)
from app.retrieval.listings import listings, render
from app.retrieval.metadata import QueryHints, month_named
from app.retrieval.registrant import Field, fields_asked, registrant_facts
from app.retrieval.roles import ASKS_WHO
from app.retrieval.segments import LEAD_IN_REACH, breakdown_measure
from app.retrieval.statements import Statement, statements_asked, statements_named, text_statements
from app.retrieval.text import CJK_CHAR, content_terms, is_mostly_cjk, joined_cjk, word_list
from app.types import Citation, Source
from store.records import PageText, StoredChunk

PageContext = Callable[[StoredChunk], PageText]  # chunk -> the text of its pages
SentenceSimilarity = Callable[[str, Sequence[str]], Sequence[float]]  # question, sentences -> cosine

# Words that place a question in time: they choose the column, not the row.
_PERIOD_TERMS = frozenset(
    word_list(
        "quarter quarterly month end ended ending fiscal year annual period date as of first second third fourth "
        "nine six three twelve first half ytd q1 q2 q3 q4 fy today current latest"
    )
) | frozenset(content_terms("季度 年度 财年 前九个月 上半年 截至 末 时"))
_MONTH_WORDS = frozenset(name.lower() for name in MONTH_NAMES)
# "current" names a balance-sheet item here, not the period: "total current assets".
_CURRENT_ITEM = re.compile(r"\bcurrent\s+(?:assets|liabilities|portion|debt|ratio)|流动", re.I)
_GROUPS = (
    ("nine", re.compile(r"nine\s+months|first\s+nine|year[- ]to[- ]date|\bytd\b|九个月|前三个?(?:季度|财季)", re.I)),
    ("six", re.compile(r"six\s+months|first\s+half|\bh1\b|六个月|上半年", re.I)),
    (
        "twelve",
        re.compile(
            r"twelve\s+months|full\s+year|year\s+ended|fiscal\s+year\s+\d{4}\b(?!.*quarter)|十二个月|全年", re.I
        ),
    ),
    ("three", re.compile(r"quarter|three\s+months|\bq[1-4]\b|三个月|季度|财季", re.I)),
)

_NAMES_ASKED = frozenset({"name", "organisation"})
_ENDS_SENTENCE = re.compile(r"[.!?。！？:;)”\"]\s*$")
_GROUP_OF_MONTHS = {3: "three", 6: "six", 9: "nine", 12: "twelve"}
_COVER_FIELD = 1.5  # a field the question asks for by its label's own meaning: above any row or sentence


def _spanned_group(mentions: list[DateMention]) -> str:
    """The months a span names ("2023年1到9月": "nine"), which say the column over any other word."""
    spanned = next((m.months_spanned for m in mentions if m.months_spanned is not None), None)
    return _GROUP_OF_MONTHS.get(spanned, "") if spanned is not None else ""


# The kind of name asked for ("which company", "which country"): no label or sentence need hold it.
_KIND_ASKED = frozenset(
    word_list("company companies firm business entity 公司 哪家 country countrie state city citie region nation 国家")
)

_MODEL_NAME = re.compile(r"\b[A-Z][A-Za-z]*\d[\w-]*\b")  # a product's model: "A800", "M2", "H100"
# What a question for a command, file or package is answered by: a name in Latin letters or a path
_CODE_TOKEN = re.compile(r"/[\w./-]+|\b[a-z][\w.-]*[a-z0-9]\b")
_PERCENT = re.compile(r"%|percent|percentage|margin|\brate\b|share\s+of|比例|百分|率", re.I)
# A percentage asked for in so many words: an amount does not answer it ("what percentage of
# Mobileye did Intel hold": not Mobileye's revenue). "Margin" and "rate" may be amounts too.
_PERCENT_ONLY = re.compile(
    r"%|\bper\s*cent(?:age)?\b|比例|百分比|百分之|占比|几成|增长率|增幅|涨幅|降幅|跌幅|毛利率|利润率|税率", re.I
)
# "同比增长了多少": a change on the year-ago period is asked for as a rate, as filings state it
# ("AWS segment sales increased 12% year-over-year").
_YEAR_ON_YEAR = re.compile(r"同比|较上年同期|比去年同期|\byear[- ]over[- ]year\b|\byoy\b", re.I)
# "Automotive revenue was up 86% from a year ago": a sentence that says how much a business line moved,
# which answers the question's "growth", "fall" or "yoy" in its own words (the total's row has its own
# change column for the company's figure)
# "... by $396 million", "... 12%", "down $0.18 or 72%" (a decimal point is no sentence's end)
_BY_A_FIGURE = r"(?:[^.;%]|\.(?=\d)){0,40}?\d[\d.,]*\s?(?:%|(?:million|billion)\b)"
_STATES_CHANGE = re.compile(rf"(?:{DOWN_WORDS}|{UP_WORDS}|\b(?:up|down)\b){_BY_A_FIGURE}", re.I)
# "Changes in foreign exchange rates reduced fulfillment costs by $396 million": the figure a sentence
# gives is how much something moved, which answers "what were fulfillment costs" only when a change or
# an effect is asked for
_MOVE_WORDS = rf"{DOWN_WORDS}|{UP_WORDS}|\breduc|\blower(?:ed|s)?\b|\brais(?:ed|es)\b"
_STATES_A_MOVE = re.compile(rf"(?:{_MOVE_WORDS}){_BY_A_FIGURE}", re.I)
_EFFECT_ASKED = re.compile(
    r"\breduc|\blower|\brais|\bimpact|\bhurt|\baffect|\beffect|\bbenefit|\bboost|\bexchange\b"
    r"|影响|拉低|推高|让|使|导致|少了|多了|汇率",
    re.I,
)
# What a change asked for is measured against: the year-ago period (the filings' way, and so the
# default), or the quarter before ("环比", NVIDIA's "Quarter-over-Quarter Change" column).
_AGAINST_QUARTER = re.compile(
    r"环比|[比较]上一?个?季度|\bsequential|quarter[- ]over[- ]quarter|\bq/?o?q\b"
    r"|(?:previous|prior|preceding)\s+quarter",
    re.I,
)
_AGAINST_YEAR = re.compile(rf"{_YEAR_ON_YEAR.pattern}|去年同期|\by/y\b|\ba\s+year\s+(?:ago|earlier|before)", re.I)

_SIGNING = frozenset(word_list("signed sign signs signature signer signatory"))
_ROLE_WORDS = frozenset(
    word_list(
        "chief executive financial accounting operating officer president controller treasurer secretary "
        "chairman director principal counsel general vice senior ceo cfo cao coo"
    )
)
_ROLE_ABBREVIATIONS = frozenset(word_list("ceo cfo cao coo"))  # the glossary adds their spelt-out words

# A Chinese question's sentences score lower (its terms are weighed within the passage, and word
# segmentation splits names: "字处道" -> 字处, 道), and the model cannot write Chinese: below this
# share of the usual floor, a quote is still a better answer than a generated one that fails checking.
_CJK_FLOOR = 0.7
# Reranking a Chinese question's best sentences by the embedder's similarity: score + weight *
# (similarity - the best similarity). Fitted on CMRC2018 dev (185 questions answered, the gold in
# one of the 12 best sentences for 0.94): the chosen sentence holds the gold for 0.746 without it,
# 0.762 / 0.789 / 0.805 / 0.811 / 0.789 at weights 1 / 3 / 8 / 12 / 20; 10, inside the plateau.
_MEANING_WEIGHT = 10.0
_RERANKED = 12

CROSS_LANGUAGE_NOTE = {"zh": "以下为文档原文（英文），未经翻译："}


@dataclass(frozen=True)
class Extracted:
    text: str  # the answer line, ending with its [n] marker (one line per filing, asked how it moved)
    citation: Citation
    score: float  # 0..1, how well it answers
    more: tuple[Citation, ...] = ()  # the same line's citations in other filings, latest period first

    @property
    def citations(self) -> list[Citation]:
        return [self.citation, *self.more]


@dataclass(frozen=True)
class Question:
    text: str
    terms: frozenset[str]  # content terms (with English ones for Chinese words and abbreviations)
    in_order: tuple[str, ...]  # the same terms as the question says them, for matching phrases
    group: str  # "three", "six", "nine", "twelve" or "" (not said)
    dates: tuple[tuple[int, int | None, int | None], ...]  # (year, month, day) named
    wants: str  # "figure", "name", "organisation", "place", "product", "date", "code" or ""
    percent: bool  # a share, margin or rate is asked for
    shares: bool  # a number of shares is asked for (outstanding, bought back: a count, not dollars)
    period_end: bool  # when the period reported on ended ("What date did the quarter end?")
    quarter_ends: tuple[tuple[int, int], ...] = ()  # (year, month) of a calendar quarter named
    change: bool = False  # a change is asked for ("how much did ... grow", "增长")
    percent_only: bool = False  # a percentage is asked for in so many words: an amount will not do
    # A Chinese question's own Latin-script words ("iPad", "AWS", "NEX"): the item's name as the
    # filing prints it, which tells its row apart better than the glossary's "net sales"; and the
    # English of the business lines and regions it names in Chinese ("国际": "international").
    named_in_latin: frozenset[str] = frozenset()
    acronyms: frozenset[str] = frozenset()  # "DCAI", "CCG": a row's label may spell them out
    counts: bool = False  # a number of things is asked for (units sold, people): dollars do not answer
    named_figures: frozenset[Decimal] = frozenset()  # its own numbers ("Microsoft 365"): no answer
    lines: str = ""  # English names of the business lines and regions it names in Chinese ("north america")
    # The English a Chinese question gives in brackets for what it asks about ("设备（Devices）"): the
    # filing's own name for it, which the answer names too. Not a company's ("谷歌（Alphabet）"), whose
    # rows never name it, nor an acronym (`acronyms` has those; the text may spell them out).
    glossed: str = ""
    statements: frozenset[Statement] = frozenset()  # named as such: "on its balance sheet", "资产负债表"
    statement_words: frozenset[str] = frozenset()  # the words naming them, which no line's label holds
    rank: RankAsked | None = None  # "which country ... the most": the first of a table's lines
    against: str = ""  # a change asked against the "year" ago or the "quarter" before ("" not said)
    # What it names as such: an English question's words in title case past its first ("Azure",
    # "Germany"), a Chinese question's Latin-script words ("H100"); a row for the company's total
    # ("Operating income") does not answer for them.
    proper_names: frozenset[str] = frozenset()
    excepted: tuple[str, ...] = ()  # the regions it asks about all but ("outside the US": "united states")
    # the statements its figure is read off, unnamed ("net property and equipment": the balance sheet)
    read_off: frozenset[Statement] = frozenset()
    registrant: tuple[Field, ...] = ()  # the cover's fields it asks for ("which exchange": the exchange)

    @classmethod
    def parse(cls, question: str) -> "Question":
        in_order = tuple(expanded_terms(_OVER_PERIODS_PHRASE.sub(" ", question)))
        terms = frozenset(in_order)
        mentions = date_mentions(question)
        group = _spanned_group(mentions) or next((name for name, pattern in _GROUPS if pattern.search(question)), "")
        dates = tuple((d.year, d.month, d.day) for d in mentions)
        dates += tuple((d.year, d.month, d.day) for d in year_ends(question))  # "the end of 2022"
        asks_date = ASKS_DATE.search(question) and not OPENS_WITH_FIGURE.match(question)
        wants = "name" if ASKS_WHO.search(question) else "date" if asks_date else ""
        wants = wants or ("organisation" if ASKS_ORGANISATION.search(question) else "")
        wants = wants or ("place" if ASKS_PLACE.search(question) else "")
        wants = wants or ("product" if ASKS_PRODUCT.search(question) else "")
        wants = wants or ("code" if asks_for_code(question) else "")
        # a number of its own, not a form's ("on the 10-Q cover")
        numbered = any(t.isdigit() for t in content_terms(_FORM.sub(" ", question)))
        if not wants and (ASKS_FOR_FIGURE.search(question) or numbered):
            wants = "figure"
        change = bool(CHANGE_ASKED.search(question))
        percent_only = bool(_PERCENT_ONLY.search(question)) or (change and bool(_YEAR_ON_YEAR.search(question)))
        percent = percent_only or bool(_PERCENT.search(question))
        shares = asks_for_shares_outstanding(question) or bool(_HOW_MANY_SHARES.search(question))
        in_english = glossed(question)  # a Chinese question with its English gloss (once: the gloss is not free)
        hints = QueryHints.parse(in_english)  # "the second quarter of 2023": a calendar quarter, unless fiscal
        statements = statements_named(in_english)
        quarter_ends = () if hints.fiscal else tuple((year, 3 * quarter) for year, quarter in hints.quarters)
        period_end = asks_for_period_end(question)
        # and the business lines and regions it names in Chinese ("国际分部": International), which
        # tell the segment's row apart from the total's row that shares the question's other words
        lines = named_segments(question)
        latin = " ".join([*_LATIN_WORD.findall(question), lines]) if is_mostly_cjk(question) else ""
        # its names in Latin letters ("iPhone", "H100"), not the English it glosses a word with ("net")
        codes = " ".join(w for w in _CODE_WORD.findall(question) if w != w.lower()) if is_mostly_cjk(question) else ""
        # "GAAP" qualifies the figure asked for (not the non-GAAP one); it names no line of its own
        named_in_latin = frozenset(content_terms(latin)) - _PERIOD_TERMS - {"gaap"}
        spelt = acronyms(question)
        return cls(
            question, terms, in_order, group, dates, wants, percent, shares, period_end, quarter_ends, change,
            percent_only, named_in_latin, frozenset(a for a in spelt if a.lower() not in NOT_LINES),
            asks_for_a_count(question),
            frozenset(figure.value for figure in find_figures(question)), lines, _glossed(question),
            frozenset(statements), frozenset(content_terms(" ".join(statements.values()))),
            asks_rank(question),
            "quarter" if _AGAINST_QUARTER.search(question) else "year" if _AGAINST_YEAR.search(question) else "",
            _proper_names(question, set(content_terms(codes)) - set(content_terms(lines)), spelt),
            excepted_segments(question),
            frozenset(statements_asked(in_english)) - frozenset(statements),
            tuple(fields_asked(question)),
        )

    @property
    def over_periods(self) -> bool:
        """Asks how something moved across quarters or over time, naming no date."""
        return _ASKS_OVER_PERIODS.search(self.text) is not None and not self.dates

    @property
    def open(self) -> bool:
        """Asks for no one figure, name or date ("How have inventory levels changed?")."""
        names = ("name", "organisation", "place", "product", "date", "code")
        return self.wants not in names and not ASKS_FOR_FIGURE.search(self.text)

    def subject_terms(self, chunk: StoredChunk) -> frozenset[str]:
        """What a row or sentence must match: not the company or filing (the header says that),
        not the period (the column says that)."""
        title = chunk.header if len(chunk.header) <= 80 else ""  # a text file's first paragraph is no title
        identity = set(content_terms(f"{title} {chunk.file_name}"))
        other_script = CJK_CHAR.search(chunk.text) is None  # an English page: a Chinese question's English terms
        asking = frozenset() if is_mostly_cjk(self.text) else HOW_ASKED  # a Chinese question's few glossed words count
        return frozenset(
            t
            for t in self.terms
            if t not in identity
            and t not in self.statement_words
            and t not in asking
            and not (self.wants in ("organisation", "place") and t in _KIND_ASKED)  # what is asked, not about
            and (t not in _PERIOD_TERMS or (t == "current" and _CURRENT_ITEM.search(self.text) is not None))
            and t not in _MONTH_WORDS
            and not t.isdigit()
            and not _FISCAL_CODE.match(t)  # "FY23"
            and not (other_script and CJK_CHAR.search(t))
        )


def _coverage(wanted: frozenset[str], have: set[str]) -> float:
    return len(wanted & have) / len(wanted) if wanted else 0.0


def _as_one_term(wanted: frozenset[str], have: set[str]) -> tuple[frozenset[str], set[str]]:
    """An abbreviation and its spelt-out words as one term: "AWS" with "Amazon Web Services" is one
    thing asked, which a row or sentence naming AWS does not hold three times over the question's
    other words ("unrecognized customer commitments, mostly AWS"). The words spelt out count as
    the abbreviation."""
    for short in wanted & ABBREVIATIONS.keys():
        spelt = set(_lemmas(content_terms(ABBREVIATIONS[short]))) & wanted - {short}
        if spelt and spelt <= have:
            have = have | {short}
        wanted = wanted - spelt
    return as_one_term(wanted, have)


def _under_what_is_asked(asked: Question, row: Row, wanted: frozenset[str] | set[str]) -> bool:
    """The row's heading or section holds a word asked besides the business line's name (or, for
    a change asked, is a table of growth)."""
    above = f"{row.heading} {row.section}"
    return bool(set(_lemmas(content_terms(above))) & wanted) or (asked.change and bool(_GROWTH.search(above)))


def _period_fit(question: Question, period: Period | None) -> float:
    if period is None:
        return 0.0
    score = 0.0
    group = period.span
    if question.group:
        score += 2.0 if group == question.group or (question.group == "twelve" and group == "year") else 0.0
    elif group in ("three", "quarter"):
        score += 1.0  # "in the quarter" is what a 10-Q is about
    score += 1.0 if (period.year, period.month) in question.quarter_ends else 0.0
    for year, month, day in question.dates:
        if period.year == year:
            score += 1.0 + (1.0 if month is not None and period.month == month else 0.0)
            score += 1.0 if day is not None and period.day == day else 0.0
    return score


def _span_fit(question: Question, period: Period | None) -> float:
    """A question over "the first half" or "the nine months" asks for a flow over the months (the
    cash flow statement's payments), not a balance at their end ("Property, plant and equipment, net")
    nor the same flow over other months (a twelve months' table beside the six months' statement)."""
    if question.group == "three" and period is not None and period.span in ("six", "nine"):
        return -0.3  # a 10-Q's cash flow statement has only the months to date: not the quarter asked
    if question.group not in ("six", "nine") or period is None:
        return 0.0
    if not period.group:
        return -0.1
    return 0.0 if period.span == question.group else -0.2


# A quarter named in so many words (not "quarterly report"): "the quarter ended", "Q3", "第三季度".
_NAMES_QUARTER = re.compile(
    r"three\s+months|\bq[1-4]\b|quarter\s+ended|季度(?!报)"
    r"|(?:first|second|third|fourth|latest|last)\s+(?:fiscal\s+)?quarter",
    re.I,
)


def _months_to_date_only(asked: Question, row: Row) -> bool:
    """A row of six or nine months' columns only (a 10-Q's cash flow statement) cannot answer a
    question about a quarter: its figure is of other months."""
    spans = {p.span for p in row.periods if p is not None and p.span}
    named = asked.group == "three" and bool(_NAMES_QUARTER.search(asked.text))
    return named and bool(spans) and spans <= {"six", "nine"}


def _when(period: Period | None) -> tuple[int, int, int]:
    if period is None:
        return (0, 0, 0)
    return (period.year or 0, period.month or 0, period.day or 0)


def _per_share(row: Row, cell: str) -> bool:
    """Earnings or dividends per share: dollars and cents, never "in millions"."""
    named = f"{row.heading} {row.section} {row.label}".lower()
    return "per share" in named or (row.label.lower().startswith(("basic", "diluted")) and "." in cell)


def _amount(cell: str, row: Row, label_has_shares: bool) -> str:
    amount = cell.replace("$ ", "$").replace("( ", "(").replace(" )", ")")
    if row.currency and "$" not in amount and cell not in DASHES and "%" not in cell:
        amount = f"{row.currency}{amount}"
    if row.percent or "%" in amount:
        return amount.replace(" %", "%") if "%" in amount or amount in DASHES else f"{amount}%"
    if row.unit and "%" not in cell and not _per_share(row, cell) and cell not in DASHES:
        return f"{amount} {row.unit}" + (" shares" if label_has_shares and "$" not in cell else "")
    return amount


_NAME_WORD = re.compile(r"[A-Z][\w.&'-]*|and|of|&")


def _is_name(label: str) -> bool:
    """ "AWS", "North America", "Products", "Basic": a label that says what it is only under its
    heading ("Net Sales:", "Earnings per share:")."""
    words = label.split()
    return 0 < len(words) <= 4 and all(_NAME_WORD.fullmatch(w) for w in words)


def row_name(row: Row) -> str:
    """The row's label, after its segment and, for a bare name, its heading."""
    # (not a heading the section under it says again: "Operating income (loss) by segment" over
    # "Operating Income (Loss)")
    said_again = bool(row.section) and set(content_terms(row.section)) <= set(content_terms(row.heading))
    parts = [row.heading] if row.heading and _is_name(row.label) and not said_again else []
    parts += [row.section.rstrip(":")] if row.section else []
    return " — ".join([*parts, row.label])


def render_row(row: Row, column: int) -> str:
    shares = "shares" in row.label.lower()
    period = row.periods[column]
    label = row_name(row)
    if period is not None and period.change:
        return _render_change(row, column, period, label, shares)
    line = f"{label}: {_amount(row.cells[column], row, shares)}"
    line += f" {period.text()}" if period is not None and period.text() else ""
    # the same row's comparison period: same kind of period, another date
    for other, cell in enumerate(row.cells):
        theirs = row.periods[other]
        if (theirs is not None and theirs.change) or ("%" in cell) != ("%" in row.cells[column]):
            continue  # a share of revenue is compared with a share, an amount with an amount
        if other != column and theirs is not None and period is not None and theirs.group == period.group:
            if theirs == period:  # one date over columns of kinds (gross, offset, net): no comparison
                break
            line += f" ({_amount(cell, row, shares)} {theirs.text()})".replace("  ", " ")
            break
    return line


_AGAINST_TEXT = {"year": " year over year", "quarter": " on the quarter before"}


def _render_change(row: Row, column: int, period: Period, label: str, shares: bool) -> str:
    """ "iPad: down 20% for the three months ended July 1, 2023 ($5,791 million; $7,224 million for
    the three months ended June 25, 2022)": a change column's cell, with the amounts it compares."""
    cell = row.cells[column]
    down = _negative(cell)
    unsigned = re.sub(r"[()\-−]", "", cell).strip()
    size = unsigned.replace("$", "").replace(" ", "") if "%" in cell else _amount(unsigned, row, shares)
    basis = _AGAINST_TEXT.get(period.against, "")
    line = f"{label}: {'down' if down else 'up'} {size}{basis} {period.text()}".rstrip()
    itself = replace(period, change=False, against="")  # the period's own amount: no date again
    amounts = [
        _amount(amount, row, shares) + ("" if theirs == itself else f" {theirs.text()}")
        for amount, theirs in zip(row.cells, row.periods, strict=True)
        if theirs is not None and not theirs.change and theirs.group == period.group
    ]
    return f"{line} ({'; '.join(amounts)})" if amounts else line


def _against_fit(question: Question, period: Period | None) -> int:
    """A change column measured as the question asks (against the year-ago period unless it says
    the quarter before): NVIDIA prints both, the quarter's first."""
    if period is None or not period.change or not period.against:
        return 0
    return 1 if period.against == (question.against or "year") else -1


def best_column(question: Question, row: Row) -> int:
    """The column of the period asked for; a dash (nothing to report) only when all are. A change
    column answers only a question asking for a percentage or a change ("how much did Mac sales
    drop"), which it prefers."""
    has_change = question.change and any(p is not None and p.change for p in row.periods)

    def kind_fits(i: int) -> bool:
        period = row.periods[i]
        if question.percent_only:
            return "%" in row.cells[i]
        if has_change:
            return period is not None and period.change
        return not (period is not None and period.change)

    return max(
        range(len(row.cells)),
        key=lambda i: (
            row.cells[i] not in DASHES,
            kind_fits(i),
            _against_fit(question, row.periods[i]),
            _period_fit(question, row.periods[i]),
            _when(row.periods[i]),
            -i,
        ),
    )


@dataclass(frozen=True)
class Candidate:
    score: float
    source: Source
    text: str  # the answer line, without the marker
    quote: str  # the passage's words that are quoted, for highlighting
    where: PageText  # the text the quote is in
    offset: int  # of the quote in `where.text`
    when: tuple[int, int, int] = (0, 0, 0)  # a signature's date: of two equal answers, the later holds now
    matched: frozenset[str] = frozenset()  # the question's terms it covers
    holds: bool = True  # holds the kind of thing asked for (a figure, a date): a row always does
    listed: bool = False  # a manual's listing line (a package or command with what it does)


_LABEL_WORDS = 6  # "Cost of sales:", "Operating expenses:": a row's label, the table's next
_FOOTNOTE_MARK = re.compile(r"\(\d\)\s")  # "(1) Products net sales include ...": the table's footnote


def _table_like(text: str) -> bool:
    """Several lines of figures (a table that the sentence splitter ran together), one row of
    three or more, or a row of two run into the next row's label or the table's footnote ("Total
    net sales 117,154 123,945 Cost of sales:") or under a heading: rows answer it, with the period
    and heading a bare line of figures lacks."""
    rows = table_rows(text)
    if len(rows) == 1 and len(rows[0].cells) == 2:
        rest = text.replace(rows[0].line, "", 1).strip()
        # under a heading of a few words, with no full stop ("Client Computing" / "Desktop $ 1,879 $ 2,641")
        heading = rest.endswith(":") or bool(rest and not _ENDS_SENTENCE.search(text.rstrip()))
        return (heading and len(rest.split()) <= _LABEL_WORDS) or _FOOTNOTE_MARK.match(rest) is not None
    return len(rows) >= 2 or (len(rows) == 1 and len(rows[0].cells) >= 3) or len(find_figures(text)) > 8


def _own_text(chunk: StoredChunk) -> PageText:
    """A chunk as its own page context (page breaks recorded at ingestion, when there are)."""
    starts = ((0, chunk.page_start), *((b, chunk.page_start + i + 1) for i, b in enumerate(chunk.recorded_breaks)))
    return PageText(chunk.text, 0, starts)


# A line that goes on with the sentence of the line before it (a lower-case word).
_GOES_ON = re.compile(r"\s*[a-z]")


def _pieces(sentence: Sentence) -> list[tuple[int, str]]:
    """A sentence (unless long), and for one over several lines (a signature block, a list without
    full stops) each line with the line after it, and the two lines before the last with the last where
    it goes on with them (a pair one line short of the full stop cuts the sentence off): (offset in
    the chunk, text)."""
    flat = " ".join(sentence.text.split())
    pieces = [(sentence.start, sentence.text)] if len(flat) <= 300 else []
    lines = sentence.text.split("\n")
    if len(lines) < 3:
        return [_after_check_boxes(*piece) for piece in pieces or [(sentence.start, sentence.text)]]
    starts = [sentence.start]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    for i in range(len(lines)):
        last = i + 2
        if last == len(lines) - 1 and (_GOES_ON.match(lines[last]) or ends_on_dangling_word(lines[last - 1])):
            last += 1  # "... excluding excise tax due under" / "the Inflation Reduction Act of 2022.": its end
        window = "\n".join(lines[i:last])
        # "... and $3.1" / "billion of ...": the figure's unit is on the next line; "$3.1" alone misquotes it
        unit = UNIT_START.match(lines[last]) if last < len(lines) and window.rstrip()[-1:].isdigit() else None
        pieces.append((starts[i], f"{window}\n{unit.group(0)}" if unit else window))
        labelled = _labelled_value(lines, i)
        if labelled:
            pieces.append((starts[labelled[0]], "\n".join(lines[slice(*labelled)])))
    pieces += _captions(sentence)
    return [_after_check_boxes(*piece) for piece in pieces]


# A chart's caption says how a figure moved since a period ("Diluted EPS / attributable to / Intel down /
# $0.18 or 72% / from Q3 2022"), over more lines than a pair, one caption after another with no full stop.
_FROM_PERIOD = re.compile(
    r"\bfrom\s+(?:Q[1-4]|YTD|FY)\s*'?\d{2,4}\b|\bfrom\s+(?:the\s+)?(?:prior|previous)\s+(?:year|quarter)\b"
    r"|\bfrom\s+a\s+year\s+ago\b",
    re.IGNORECASE,
)
_CAPTION_LINES = 6
_MOVE = re.compile(r"\b(?:up|down|increased|decreased|grew|declined|rose|fell)\b", re.IGNORECASE)


def _captions(sentence: Sentence) -> list[tuple[int, str]]:
    """Each caption of a run of them: the lines up to each "from <period>", after the one before."""
    found = []
    begin = 0
    for match in _FROM_PERIOD.finditer(sentence.text):
        lines = sentence.text[begin : match.end()].split("\n")
        caption = "\n".join(lines[-_CAPTION_LINES:])
        start = sentence.start + match.end() - len(caption)
        begin = match.end()
        if caption.count("\n") >= 2 and _MOVE.search(caption) and any(c.isdigit() for c in caption[: -len(match[0])]):
            found.append((start, caption.strip("\n")))
    return found


def _labelled_value(lines: list[str], i: int) -> tuple[int, int] | None:
    """A form's label at line i ("(Address, including zip code, ... offices)", over one or two lines)
    with the value above it that it names (up to three lines, back to the previous label): the lines
    [first, end), when the value is more than the one line that the pair of lines already holds."""
    end = i + 1 if _FORM_LABEL.fullmatch(lines[i].strip()) else 0
    if not end and i + 1 < len(lines) and _FORM_LABEL.fullmatch(f"{lines[i].strip()} {lines[i + 1].strip()}"):
        end = i + 2
    first = i
    while end and first > max(0, i - 3) and not lines[first - 1].rstrip().endswith(")"):
        first -= 1
    return (first, end) if end and first < i - 1 else None


# A form's check boxes ("Yes ☐ No ☒") run into the sentence after them: a cover page's share count.
_CHECK_BOX = re.compile(r"[☐☒☑¨]")
_FORM_LABEL = re.compile(r"\([A-Z][a-z]+[\w\s.,'’-]*\)")


def _after_check_boxes(start: int, text: str) -> tuple[int, str]:
    """The text after the last check box in it, when a sentence's worth is left."""
    boxes = list(_CHECK_BOX.finditer(text))
    if not boxes:
        return start, text
    cut = boxes[-1].end()
    cut += len(text[cut:]) - len(text[cut:].lstrip())
    return (start + cut, text[cut:]) if len(text) - cut >= 12 else (start, text)


_SHARES = re.compile(r"\bshares\b", re.IGNORECASE)
# A count of shares asked for ("how many shares did Apple buy back", "回购了多少股"), not dollars;
# not 股息 (dividends), 股东 (shareholders), 股价 (share price), 股票 (stock).
_HOW_MANY_SHARES = re.compile(r"\bhow\s+many\s+(?:\w+\s+)?shares\b|多少(?:万|亿)?股(?![息利东价票份权])", re.IGNORECASE)


def _shares_fit(asked: Question, text: str) -> float:
    """For a question about a number of shares: a count of shares, not a dollar amount."""
    if not asked.shares:
        return 0.0
    # "how many shares were outstanding on October 20": the cover's count, not the quarter's weighted average
    averaged = -0.5 if asks_for_shares_outstanding(asked.text) and says_averaged(text) else 0.0
    if _SHARES.search(text):
        return 0.15 + averaged
    return (-0.2 if "$" in text else 0.0) + averaged


_ELSEWHERE_ON_PAGE = 0.15  # a sentence beside the chunk the search found, not in it: only a clear answer wins


def candidate_citation(best: Candidate) -> Citation:
    """The citation of a quoted row or sentence: its page, and the passage around it."""
    chunk, where = best.source.chunk, best.where
    sentence = Sentence(best.offset, best.offset + len(best.quote), best.quote)
    return Citation(
        n=best.source.n,
        document=chunk.file_name,
        document_id=chunk.document_id,
        page=where.page_at(best.offset),
        snippet=snippet_around(where.text, sentence),
        sentence=" ".join(best.quote.split()),
        score=round(best.score, 3),
    )


class Extractor:
    """`context` gives the text of a chunk's pages (the table header may sit in the chunk before);
    without it the chunk's own text is read."""

    def __init__(
        self,
        context: PageContext | None = None,
        min_score: float = 0.5,
        sources_read: int = 6,
        similarity: SentenceSimilarity | None = None,
    ) -> None:
        self.context = context
        self.min_score = min_score
        self.sources_read = sources_read
        self.similarity = similarity  # the embedder's: reranks a Chinese question's sentences

    def extract(
        self, question: str, sources: Sequence[Source], rarity: Mapping[str, float] | None = None
    ) -> Extracted | None:
        """`rarity`: the question's terms by their rarity among the readable chunks (retrieval's),
        which an open question's quote must cover at its rarest."""
        asked = Question.parse(question)
        over_time = asked.over_periods
        # asked across quarters, every source is read for the line as each filing prints it; the
        # answer's own line is still chosen among the first read
        found = self.candidates(asked, sources, len(sources) if over_time else self.sources_read)
        first_read = {s.n for s in sources[: self.sources_read]}
        candidates = [c for c in found if c.source.n in first_read]
        if not candidates:
            return None
        floor = self.min_score * (_CJK_FLOOR if is_mostly_cjk(question) else 1.0)
        if max(c.score for c in candidates) < floor:
            return None
        if self.similarity is not None and is_mostly_cjk(question):
            candidates = self._reranked(question, candidates)
        if _ASKS_HOW_IT_MOVED.search(question) and not is_mostly_cjk(question):
            candidates = [c for c in candidates if not _says_no_move(c)]
        if not candidates:
            return None
        rarest = _holds_the_rarest(asked, question, rarity or {})
        # scored alike, the one holding what the question is about, the latest, then the exact score
        best = max(candidates, key=lambda c: (round(c.score, 2), rarest(c), c.when, c.score))
        best = whole_sentence(best)
        if not _covers_open_question(asked, best, question, rarity or {}) or _misses_a_negation(asked, best):
            return None
        named = asked.wants in ("figure", "name", "organisation", "place", "product")
        if not best.holds and (named or (asked.wants == "date" and ASKS_DAY.search(question))):
            # "how many iPhones": a sentence about iPhone revenue, with no count in it; "who is
            # Intel's CEO": the CFO's title, with no one's name in it
            return None
        if is_mostly_cjk(question) and best.text.startswith("“") and is_mostly_cjk(best.quote):
            best = _with_next_sentence(best)
        text = f"{best.text} [{best.source.n}]"
        if is_mostly_cjk(question) and not CJK_CHAR.search(best.quote):  # "/etc/ssh/sshd_config 配置" is Chinese
            text = f"{CROSS_LANGUAGE_NOTE['zh']}\n{text}"
        elif over_time:
            each_filing = _same_line_in_other_filings(best, found, floor)
            if len(each_filing) > 1:
                lines = "\n".join(f"{c.text} [{c.source.n}]" for c in each_filing)
                first, *rest = map(candidate_citation, each_filing)
                return Extracted(lines, first, best.score, tuple(rest))
        return Extracted(text, candidate_citation(best), best.score)

    def candidates(self, asked: Question, sources: Sequence[Source], read: int | None = None) -> list[Candidate]:
        """Every row, sentence and signature of the sources read (the first `read`, by default
        `sources_read`) that shares a term with the question, scored by how well it answers it."""
        candidates: list[Candidate] = []
        seen_pages: set[tuple[int, int]] = set()
        for rank, source in enumerate(sources[: self.sources_read if read is None else read]):
            decay = 1.0 - 0.03 * rank  # retrieval's order breaks near-ties
            wanted = asked.subject_terms(source.chunk)
            if not wanted and not asked.period_end:  # "What date did the quarter end?" has no other word
                continue
            if _in_contents(source.chunk):  # "Item 1. Legal Proceedings 34", "31.2 Certification of ...": no answer
                continue
            where = self._page(source.chunk)
            if source.chunk.page_start == source.chunk.page_end and _lists_exhibits(where.text):
                continue  # the end of an exhibit index, whose page's other lines the chunk would read
            begin, end = where.chunk_offset, _finished_at(where, source.chunk)  # its last sentence read to its end
            found = self._sentences(asked, source, wanted, where, (where.text[begin:end], begin))
            page_key = (source.chunk.document_id, source.chunk.page_start)
            if page_key not in seen_pages:  # a page's rows and signatures once, for its best-ranked chunk
                seen_pages.add(page_key)
                found += self._rest_of_page(asked, source, wanted, where, end)
                found += self._rows(asked, source, wanted, where) + self._signers(asked, source, wanted, where)
                found += self._period_ends(asked, source, where) + self._dated_rows(asked, source, wanted, where)
                found += self._ranked(asked, source, wanted, where) + self._listed(asked, source, wanted, where)
                found += self._registrant(asked, source, where) + self._repurchases(asked, source, wanted, where)
            candidates += [replace(c, score=c.score * decay) for c in found]
        return candidates

    def _ranked(self, asked: Question, source: Source, wanted: frozenset[str], where: PageText) -> list[Candidate]:
        """The first (or last) line of a table by the column asked for: "Besides the US, which
        country brought NVIDIA the most revenue?" is the largest of the revenue-by-country lines
        after the United States."""
        if asked.rank is None:
            return []
        chunk = source.chunk
        rows = [
            with_block_period(row, where.text)
            for row in table_rows(where.text)
            if row.label and chunk.page_start <= where.page_at(row.offset) <= chunk.page_end
        ]
        measure = frozenset(_lemmas(measured(wanted)))
        found = []
        for block in blocks(rows):
            above = where.text[max(0, block[0].offset - 300) : block[0].offset]
            context = set(_lemmas(content_terms(f"{above} {block[0].heading} {block[0].section}")))
            recall = _coverage(measure, context)
            kind = kind_fits(asked.rank.kind, above)
            if recall == 0 or (asked.rank.kind and not kind):
                continue  # a table of other figures; or the revenue by market, asked which country
            lines = [row for row in block if not set_aside(asked.rank, row)]
            if any(measure & set(_lemmas(content_terms(row.label))) for row in lines):
                continue  # one segment's lines of different measures ("Net sales", "Operating expenses")
            column = best_column(asked, block[0])
            valued = [(_value(row.cells[column]), row) for row in lines]
            ranked = sorted(
                ((v, row) for v, row in valued if v is not None), key=lambda pair: pair[0], reverse=asked.rank.most
            )
            if len(ranked) < 2:
                continue
            (_, first), (_, second) = ranked[:2]
            word = "largest" if asked.rank.most else "smallest"
            aside = f" besides {', '.join(asked.rank.besides).title()}" if asked.rank.besides else ""
            # no count of the lines: a figure no page holds
            text = (
                f"{render_row(first, column)}: the {word} line of its table{aside} "
                f"(next: {second.label}, {_amount(second.cells[column], second, False)})"
            )
            score = 0.8 + 0.3 * recall + (0.2 if kind else 0.0)
            found.append(Candidate(score, source, text, first.line, where, first.offset, matched=measure & context))
        return found

    def _reranked(self, question: str, candidates: list[Candidate]) -> list[Candidate]:
        """The best-scoring Chinese sentences, rescored by meaning too: a Chinese question often
        shares none of its words with the sentence that answers it ("地理优势" / "紧邻主干道")."""
        assert self.similarity is not None
        sentences = sorted(
            (c for c in candidates if c.listed or (c.text.startswith("“") and is_mostly_cjk(c.text))),
            key=lambda c: -c.score,
        )[:_RERANKED]
        if len(sentences) < 2:
            return candidates
        similarity = list(self.similarity(question, [c.text if c.listed else c.quote for c in sentences]))
        top = max(similarity)
        rescored = {
            id(c): replace(c, score=c.score + _MEANING_WEIGHT * (s - top))
            for c, s in zip(sentences, similarity, strict=True)
        }
        return [rescored.get(id(c), c) for c in candidates]

    def _page(self, chunk: StoredChunk) -> PageText:
        return self.context(chunk) if self.context is not None else _own_text(chunk)

    def _rows(self, asked: Question, source: Source, wanted: frozenset[str], where: PageText) -> list[Candidate]:
        """Every table row on the pages of the chunk (the row asked for may be in the chunk
        before or after the one the search found)."""
        if asked.wants not in ("figure", ""):
            return []
        chunk = source.chunk
        lemmas = frozenset(_lemmas(wanted))
        asked_terms = [t for t in _lemmas(asked.in_order) if t in lemmas]
        # the business lines the question names: by acronym ("AWS", "DCAI") or in Chinese ("北美")
        lines_named = {a.lower() for a in asked.acronyms} | set(content_terms(asked.lines))
        entity = spelt_out(lines_named)
        asked_measures = _measures(lemmas)
        named_whole = _title_case_names(asked.text)
        # a Chinese question naming no business line asks for the company's own row ("Consolidated",
        # "Total") among the segments' (Amazon's growth table starts with North America)
        # (and an English question naming none by name or acronym: NVIDIA's "Total" segment row)
        lines_by_acronym = {a for a in asked.acronyms if a.lower() not in _KNOWN_COMPANIES}  # not "NVIDIA"
        whole_asked = not (asked.named_in_latin or asked.lines or asked.proper_names or lines_by_acronym)
        names_asked = asked.proper_names & lemmas  # not the company's, which the chunk's header says
        statement_pages: dict[int, set[Statement]] = {}  # page -> the statements it shows
        units_asked = _UNIT_MEASURES & lemmas
        found = []
        for row in table_rows(where.text):
            if not row.label or not chunk.page_start <= where.page_at(row.offset) <= chunk.page_end:
                continue
            row = with_block_period(row, where.text)
            if _months_to_date_only(asked, row):
                continue
            label_terms = _lemmas(content_terms(row.label))
            if any(set(_lemmas(content_terms(name))) <= set(label_terms) for name in asked.excepted):
                continue  # "outside the US": not the United States' row
            named_here = f"{row.label} {row.heading} {row.section}"
            if units_asked and not units_asked & set(_lemmas(content_terms(named_here))):
                continue  # "the average selling price of an iPhone": not the iPhone's net sales
            # "Data Center and AI" is the DCAI the question names, and a business line: a segment
            spelt = [a.lower() for a in asked.acronyms if spells(a, row.label)]
            label_terms += [*spelt, "segment"] if spelt else []
            label = set(label_terms)
            if not label:
                continue
            context = spelt_out(label | set(_lemmas(content_terms(f"{row.heading} {row.section}"))))
            # "United States" under "Revenue, classified by the major geographic areas ...": a line of revenue
            measure = breakdown_measure(where.text[max(0, row.offset - LEAD_IN_REACH) : row.offset])
            context |= set(_lemmas(content_terms(measure))) if measure else set()
            row_measures = _measures(context)
            if asked_measures and row_measures and not asked_measures & row_measures:
                continue  # another line: the segment's revenue for its operating income asked
            if (row_measures - asked_measures) & _OWN_MEASURES:
                continue  # "Unearned revenue by segment" is no segment's revenue, "Cost of sales" no sales
            # "sales" asked of a company whose rows say "revenue" (Intel, Microsoft), and the reverse:
            # the same line ("销售额" glosses as "net sales"; Intel's "Net revenue", not "Other, net")
            if "revenue" in row_measures:
                net = lemmas & {"net"} if _NET_SALES.search(asked.text) else set()
                context = context | (lemmas & _SAYS_REVENUE) | net
            if not _holds_line(asked, context, f"{row.label} {row.heading} {row.section}"):
                continue  # the company's total, or another segment's, for the business line asked
            if names_asked and not names_asked & context:
                continue  # "Azure's operating income": the company's, which is not Azure's
            # a figure is GAAP unless its label says otherwise: "GAAP gross margin" is the row
            # "Gross margin percentage", not "Non-GAAP gross margin percentage"
            as_asked = bool(_NON_GAAP.search(row.label)) == bool(_NON_GAAP.search(asked.text))
            context = context | {"gaap"} if as_asked else context - {"gaap"}
            # "how much did International sales grow": the year-over-year growth row's rate answers it,
            # and a growth table's heading says the change asked in its own words ("Year-over-year
            # Percentage Growth (Decline)"; not "Changes in operating assets and liabilities")
            growth_row = bool(_GROWTH.search(f"{row.label} {row.heading}"))
            # (or a column of changes: NVIDIA's "Quarter-over-Quarter Change")
            has_change = any(p is not None and p.change for p in row.periods)
            if asked.change and (_GROWTH_TABLE.search(row.heading) or has_change):
                context = context | {t for t in lemmas if t in _SAYS_YEAR_AGO or _ASKS_A_MOVE.match(t)}
            # "Total operating income" asks for the "Operating income" row, not "Total operating
            # expenses": "total" counts only as a tie-break (below), not as a word to cover.
            recall = _coverage(*_as_one_term(lemmas - _TOTAL or lemmas, context))
            if recall == 0:
                continue
            # of the label's head: "Accounts receivable, net of allowance for doubtful accounts of $438"
            head = set(_lemmas(content_terms(_QUALIFIER.split(row.label, maxsplit=1)[0]))) or label
            head |= label - set(_lemmas(content_terms(row.label)))  # and the acronym it spells
            precision = len(lemmas & head) / len(head)
            # A row named only by the business line the question names ("AWS" under "Operating
            # Income (Loss)") answers it only where its heading says something else asked: a
            # question about AWS's customer commitments is not answered by AWS's operating income.
            if head <= entity and not _under_what_is_asked(asked, row, lemmas - entity):
                precision = 0.0
            column = best_column(asked, row)
            period = row.periods[column]
            # of rows alike, the one whose period fits the question's ("Q3 2023", not "Q3 2022")
            dated = 0.1 + _span_fit(asked, period) + 0.01 * _period_fit(asked, period) if period is not None else 0.0
            named = 0.1 if asked.dates and _names_date(asked, row.label) else 0.0
            named += 0.1 if asked.named_in_latin & label else 0.0
            # "at June 30, 2022": a balance sheet's column of that day, not a flow over months ended another
            named += 0.1 if _on_day(asked, row.periods[column]) else 0.0
            # "the second quarter of 2023": of two filings' same row, the one for the quarter ended in June
            named += 0.05 if _ends_quarter(asked, row.periods[column]) else 0.0
            # "on its balance sheet": the balance sheet's row, not the cash flow statement's "ending balances"
            shown = _statements_at(where, row.offset, statement_pages) if asked.statements or asked.read_off else set()
            named += 0.1 if shown & asked.statements else 0.0
            # a figure read off a statement: a note's line under a part not asked about is that part's
            # ("Finance Leases: Property and equipment, net"), not the statement's
            part = set(_lemmas(content_terms(row.section))) if asked.read_off and not shown & asked.read_off else set()
            named -= 0.05 if part and not part & lemmas else 0.0
            # a share of revenue answers "what was revenue" only when a percentage is asked for, and
            # an amount does not answer a percentage asked for in so many words
            in_percent = row.percent or "%" in row.cells[column]
            growth_asked = asked.change and ((period is not None and period.change) or growth_row)
            wrong_kind = (in_percent and not (asked.percent or growth_asked)) or (asked.percent_only and not in_percent)
            if asked.counts and (row.currency == "$" or "$" in row.cells[column] or in_percent):
                continue  # "how many iPhones": the iPhone's net sales say how much, not how many
            # "同比下降了多少": an amount, however well its row matches, is not the rate asked for
            share = -0.5 if asked.percent_only and not in_percent else -0.3 if wrong_kind else 0.0
            # "Provision for income taxes", as the question says it, over "Income before provision..."
            phrase = 0.05 if len(label_terms) > 1 and _phrase_in(label_terms, asked_terms) else 0.0
            # "net income" in the question and the label's words in that order ("Net income (loss)"),
            # not the same words apart ("Other income (expense), net")
            phrase = phrase or (0.03 if _shares_a_run(label_terms, asked_terms) else 0.0)
            phrase += 0.05 if _TOTAL & lemmas & label else 0.0
            phrase += 0.03 if whole_asked and label_terms and set(label_terms) <= _WHOLE else 0.0
            # a change over the period answers "how much cash at the end" only when a change is asked
            change = -0.1 if _CHANGE_ROW.match(row.label) and not asked.change else 0.0
            # "how much did AWS sales grow": the "Year-over-year Percentage Growth" rows, not the sales mix
            change += 0.15 if asked.change and growth_row else 0.0
            # "环比": a column measured against the quarter before, as asked
            as_asked_basis = asked.against and period is not None and period.change and period.against == asked.against
            change += 0.1 if as_asked_basis else 0.0
            # and an amount alone does not say how much it changed: of two rows alike, the one that does
            change -= 0.1 if asked.change and not growth_row and not (period is not None and period.change) else 0.0
            # of rows alike, the one that moved as asked: "did microsoft's profit go down?", the net income
            # that fell 14%, not the operating income that rose 6% (a tie-break: the row asked for is
            # answered whichever way it went)
            moved = period is not None and period.change and row.cells[column] not in DASHES
            change -= 0.05 if moved and _asked_the_other_way(asked, _negative(row.cells[column])) else 0.0
            # a figure as GAAP reports it, unless the question asks for the adjusted one
            change -= 0.1 if _NON_GAAP.search(row.label) and not _NON_GAAP.search(asked.text) else 0.0
            # "Income before income taxes" is not the tax ("所得税费用") unless "before" is asked
            change -= 0.2 if _BEFORE.search(row.label) and not _BEFORE.search(asked.text) else 0.0
            # a period printed over several columns: measures the label does not tell apart (a hedging
            # note's "Long-term debt" carrying amount and its adjustment), not the line itself
            dated_columns = [p for p in row.periods if p is not None and p.year is not None and not p.change]
            change -= 0.05 if len(set(dated_columns)) < len(dated_columns) else 0.0
            # "Microsoft Cloud revenue": a row naming part of a name the question gives ("Server products
            # and cloud services") is another line's
            change -= 0.3 if any(name & context and not name <= context for name in named_whole) else 0.0
            # total revenue asked: a line's ("NEX revenue decreased 38%", a sentence's end read as a row)
            change -= 0.4 if _TOTAL & asked.terms and _names_another_line(asked, row.label) else 0.0
            rendered = render_row(row, column)
            change += _period_end_fit(row.label, asked, period) + _shares_fit(asked, f"{row.line} {rendered}")
            score = 0.7 * recall + 0.2 * precision + dated + named + share + phrase + change
            matched = frozenset(t for t in wanted if _lemmas([t])[0] in context)
            found.append(Candidate(score, source, rendered, row.line, where, row.offset, matched=matched))
        return found

    def _signers(self, asked: Question, source: Source, wanted: frozenset[str], where: PageText) -> list[Candidate]:
        """Signature blocks on the chunk's pages, for a "who" question or one about when a report
        was signed: matched by the signer's title and the words just above the block (the
        company, "signed ... this report")."""
        dated = asked.wants == "date" and bool(_SIGNING & asked.terms)
        if asked.wants != "name" and not dated:
            return []
        chunk = source.chunk
        role = [t for t in asked.in_order if t in wanted and t in _ROLE_WORDS - _ROLE_ABBREVIATIONS]
        other = wanted - _ROLE_WORDS - _ROLE_ABBREVIATIONS
        found = []
        for signer in signers(where.text):
            if not chunk.page_start <= where.page_at(signer.start) <= chunk.page_end:
                continue
            title = content_terms(signer.title)
            above = set(content_terms(where.text[max(0, signer.start - 400) : signer.start])) | _SIGNING
            # The role as the question says it, in the title as one phrase: "Executive Vice
            # President, Chief Financial Officer" holds no "chief executive officer".
            role_held = _phrase_in(role, title)
            matched = (len(role) if role_held else 0) + len(other & (set(title) | above))
            recall = matched / (len(role) + len(other)) if role or other else 0.0
            if recall == 0:
                continue
            score = 0.8 * recall + 0.2 + (0.1 * len(role) / len(title) if role_held else 0.0)
            if "signature" in where.text[max(0, signer.start - 600) : signer.start].lower():
                score += 0.05  # the report's own signature page, not a certification attached to it
            quote = where.text[signer.start : signer.end]
            date = signer.date
            if dated and date is None:
                continue
            when = (date.year, date.month or 0, date.day or 0) if date is not None else (0, 0, 0)
            text = signer.render_dated() if dated else signer.render()
            covered = wanted & (set(title) | above | (set(role) if role_held else set()))
            found.append(Candidate(score, source, text, quote, where, signer.start, when, covered))
        return found

    def _registrant(self, asked: Question, source: Source, where: PageText) -> list[Candidate]:
        """The cover's field asked for ("Name of each exchange on which registered: Nasdaq Global
        Select Market"): no sentence states it, and the form's label says what it is."""
        if not asked.registrant:
            return []
        chunk = source.chunk
        return [
            Candidate(_COVER_FIELD, source, stated.render(), where.text[stated.start : stated.end], where, stated.start)
            for stated in registrant_facts(where.text)
            if stated.field in asked.registrant and chunk.page_start <= where.page_at(stated.start) <= chunk.page_end
        ]

    def _repurchases(self, asked: Question, source: Source, wanted: frozenset[str], where: PageText) -> list[Candidate]:
        """A figure of the monthly repurchase table, for a question about repurchases over a date or
        month in one of its ranges: the cell under the column the question's words name ("average
        price paid per share"), of the range that holds the date."""
        lemmas = frozenset(_lemmas(wanted))
        if asked.wants != "figure" or not asked.dates or asked.group or not lemmas & _REPURCHASE_WORDS:
            return []  # (a group asked, "the nine months ended July 1, 2023", is longer than a range)
        chunk = source.chunk
        found = []
        for row in repurchase_rows(where.text):
            placed = chunk.page_start <= where.page_at(row.offset) <= chunk.page_end
            if not placed or not any(row.covers(*named) for named in asked.dates):
                continue
            columns = [frozenset(_lemmas(content_terms(cell.column))) for cell in row.cells]
            asked_of_columns = lemmas & frozenset().union(*columns) - _REPURCHASE_WORDS
            if not asked_of_columns:
                continue  # how much of an authorization was used: no column says
            for cell, column in zip(row.cells, columns, strict=True):
                if asked.counts and cell.dollars:
                    continue  # "how many shares": not the price paid for them
                recall = len(asked_of_columns & column) / len(asked_of_columns)
                extra = len(column - lemmas) / len(column)  # of two columns alike, the one saying less else
                score = 0.55 + 0.4 * recall - 0.05 * extra
                found.append(Candidate(score, source, row.render(cell), row.line, where, row.offset, matched=wanted))
        return found

    def _period_ends(self, asked: Question, source: Source, where: PageText) -> list[Candidate]:
        """The cover's "For the quarterly period ended July 1, 2023", for a question about when the
        period ended: its one content word ("date") is no help in finding it."""
        if not asked.period_end or not states_period_end(where.text):
            return []
        chunk = source.chunk
        years = {year for year, _, _ in asked.dates}
        found = []
        for match in PERIOD_ENDED.finditer(where.text):
            if not chunk.page_start <= where.page_at(match.start()) <= chunk.page_end:
                continue
            stated = " ".join(match.group(0).split())
            fits = not years or any(str(year) in stated for year in years)  # "the second quarter of 2023"
            found.append(Candidate(0.9 if fits else 0.6, source, stated, match.group(0), where, match.start()))
        return found

    def _dated_rows(self, asked: Question, source: Source, wanted: frozenset[str], where: PageText) -> list[Candidate]:
        """For a "when" question, rows of dates under named columns ("Declaration Date", "Payment
        Date"): the row naming a date the question names, all its dates named by their columns."""
        if asked.wants != "date":
            return []
        chunk = source.chunk
        found = []
        for row in dated_rows(where.text):
            if not chunk.page_start <= where.page_at(row.offset) <= chunk.page_end:
                continue
            # the table's words (its columns and the lines above, from its lead-in sentence on: "Our Board
            # declared the following dividends ...:", not the share repurchases told before it) and the question's
            above = where.text[max(0, row.offset - 400) : row.offset]
            above = above[max(above.rfind(". "), above.rfind(".\n")) + 1 :]
            have = set(_lemmas(content_terms(f"{above} {' '.join(row.columns)}")))
            recall = _coverage(frozenset(_lemmas(wanted)), have)
            if recall == 0:
                continue
            named = 0.3 if _names_date(asked, row.line) else 0.0
            score = 0.6 + 0.2 * recall + named
            found.append(Candidate(score, source, row.render(), row.line, where, row.offset, matched=wanted & have))
        return found

    def _rest_of_page(
        self, asked: Question, source: Source, wanted: frozenset[str], where: PageText, end: int
    ) -> list[Candidate]:
        """The sentences on the chunk's pages before and after it (the chunk read up to `end` in
        `where`), a little below its own ("Automotive revenue was up 86%" ends a page whose search
        found its Data Center paragraph)."""
        begin = where.chunk_offset
        first, last = where.span_of(source.chunk.page_start, source.chunk.page_end)
        found = []
        for start, stop in ((first, begin), (end, last)):
            if stop - start >= 12:
                found += self._sentences(asked, source, wanted, where, (where.text[start:stop], start))
        return [replace(c, score=c.score - _ELSEWHERE_ON_PAGE) for c in found]

    def _sentences(
        self,
        asked: Question,
        source: Source,
        wanted: frozenset[str],
        where: PageText,
        span: tuple[str, int],
    ) -> list[Candidate]:
        """`span`: the text read and where it starts in `where`."""
        read, read_at = span
        sentences = split_sentences(read)
        pieces = [piece for sentence in sentences for piece in _pieces(sentence)]
        leads_to_code = asked.wants == "code" or asks_how_to(asked.text)
        pieces += _lead_ins_after_their_subject(read, sentences) if leads_to_code else []
        cjk_question = is_mostly_cjk(asked.text)
        # a figure asked for, not how it moved: a sentence giving a move ranks lower (the question's part once)
        level_asked = asked.wants == "figure" and not asked.change and not _EFFECT_ASKED.search(asked.text)
        weigh = _passage_weights(asked, wanted, [text for _, text in pieces])
        asked_terms = _lemmas(asked.in_order)
        named_terms = [t for t in asked_terms if t not in _PERIOD_TERMS and not t.isdigit()]
        # a figure of something named: a sentence naming it (a date or name asked may be said of it apart)
        names_asked = asked.proper_names & frozenset(_lemmas(wanted)) if asked.wants == "figure" else frozenset()
        # "Tower Semiconductor Ltd. (Tower)" on the page: a sentence naming "Tower" names an organisation
        aliases = organisation_aliases(where.text) if asked.wants == "organisation" else set()
        units_asked = _UNIT_MEASURES & frozenset(_lemmas(wanted))
        signers_read = asked.wants == "name" or (asked.wants == "date" and bool(_SIGNING & asked.terms))
        blocks = [(s.start, s.end) for s in signers(where.text)] if signers_read else []
        found = []
        for start, text in pieces:
            text = _PAGE_NUMBER_LINE.sub("", text)  # "... our employees have\n39": page 39 ends mid-sentence
            flat = " ".join(text.split())
            if len(flat) > 500 or len(flat) < 12 or _table_like(text) or _FOOTER.search(flat):
                continue
            at = read_at + start
            if ("/s/" in flat and signers_read) or any(b < at + len(text) and at < e for b, e in blocks):
                # a signature block, which _signers reads as name and title ("Date: ... By: /s/ ..."), or its
                # title line run into what follows ("President and Chief Executive Officer A signed original ...")
                continue
            whole = joined_cjk(flat)  # "打\n开" on the page is the word 打开
            terms = content_terms(whole)
            have = spelt_out(set(terms)) | named_by_phrase(flat)
            have |= {t for t in wanted if CJK_CHAR.match(t) and t in whole}  # segmented otherwise in the sentence
            if asked.change and _STATES_CHANGE.search(flat):  # a change, in its words ("down ... or 15%")
                if asked.lines or asked.named_in_latin or asked.proper_names:  # a line's, however named
                    have |= {t for t in wanted if t == "yoy" or (CHANGE_ASKED.match(t) and not CJK_CHAR.match(t))}
                have |= {"percent", "percentage"} & wanted if "%" in flat else set()
            one_term, have_one = _as_one_term(wanted, have)
            recall = weigh(one_term & have_one) / weigh(one_term) if one_term else 0.0
            if recall == 0 or (names_asked and not names_asked & set(_lemmas(have))):
                continue  # or it is about something else than the "Azure" asked
            if units_asked and not units_asked & set(_lemmas(terms)):
                continue  # a count or price of its own ("monthly active users"), which the sentence does not give
            precision = len(wanted & have) / len(have)
            # "使用下列命令来配置所有部分安装的软件包。" then "# dpkg --configure -a": the command asked for
            # is on the lines the sentence leads into, quoted with it
            commands = _commands_after(where.text, at + len(text)) if leads_to_code else ""
            with_commands = f"{flat} {commands}"
            holds = _holds(asked.wants, with_commands, shares_do=asked.percent or asked.change)
            if asked.wants == "date" and not is_mostly_cjk(flat):
                holds = _names_another_day(asked, flat)
            elif not holds and aliases:
                holds = any(re.search(rf"\b{re.escape(alias)}\b", flat) for alias in aliases)
            elif asked.wants == "figure" and holds:
                holds = _gives_another_figure(asked, flat)
            elif asked.wants == "place" and holds and not is_mostly_cjk(flat):
                holds = _names_another(asked, flat)
            elif asked.wants == "product":
                holds = names_another_product(asked, flat)
            if asked.percent_only and asked.wants == "figure":
                holds = holds and any(figure.percent for figure in find_figures(flat))
            named = 0.1 if asked.dates and _names_date(asked, flat) else 0.0
            named += 0.1 if asked.named_in_latin & have else 0.0
            # "in the third quarter of fiscal 2023": the sentence about that quarter, not one since inception
            named += 0.1 if _names_the_quarter(asked.text, flat) else 0.0
            # "2024财年第三季度": a sentence of fiscal 2023's third quarter tells the year before
            named -= 0.3 if _another_fiscal_year(asked.text, flat) else 0.0
            # "Which company did Amazon agree to acquire for $3.9 billion?": the figure says which sentence
            named += 0.1 if asked.wants != "figure" and _names_its_figures(asked, flat) else 0.0
            # "at July 1, 2023": a sentence dated only another day ("outstanding as of July 21, 2023",
            # the cover page) gives that day's figure, not the one asked
            named -= 0.3 if asked.wants == "figure" and _dated_only_another_day(asked, flat) else 0.0
            named -= 0.3 if asked.wants == "figure" and _moved_the_other_way(asked, flat) else 0.0
            # "环比" asked: MD&A's changes are on the year-ago period unless they say otherwise
            named -= 0.3 if asked.change and _measured_otherwise(asked, flat) else 0.0
            named -= 0.1 if level_asked and _STATES_A_MOVE.search(flat) else 0.0
            # asked for Intel's revenue, "NEX revenue decreased 32%" gives one business line's
            # (and asked for its total revenue, no line's will do)
            said = f"{_cut_off_subject(read, start)} {flat}".lstrip()  # the clause the piece is part of
            another_line = asked.wants == "figure" and _names_another_line(asked, said)
            named -= (0.4 if _TOTAL & asked.terms else 0.1) if another_line else 0.0
            # asked for revenue, "Total R&D and MG&A expenses for Q2 2023 were $5.5 billion, down 12%"
            # (or "These expenses represent 39% of revenue") is about a cost
            named -= 0.4 if asked.wants == "figure" and _about_another_measure(asked, said) else 0.0
            # A row states a figure with its period; a sentence about it comes second.
            score = (0.6 if asked.wants == "figure" else 0.8) * recall + (0.2 if holds else -0.3) + named
            score += 0.1 * precision  # of two that cover the question, the one saying less else
            # the question's kind outweighs a shared word
            names_its_program = not cjk_question or bool(asked.named_in_latin & have)
            score += 0.25 if _answers_kind(asked.text, with_commands, names_its_program) else 0.0
            score += _shares_fit(asked, flat) + _sentence_span_fit(asked, flat, _heading_span(where.text, at))
            # "Microsoft Cloud revenue" as the question says it, not its words scattered in a sentence
            score += 0.05 if _shares_a_run(_lemmas(terms), asked_terms, 3) else 0.0
            # and more where the run is the thing's name, not its period ("Microsoft Cloud revenue"
            # over "Dynamics products and cloud services revenue"; the company's word is in names)
            score += 0.05 if _shares_a_run(_lemmas(terms), named_terms, 3) else 0.0
            # A form's label in brackets, "(Address of principal executive offices)", names the line
            # above it: the piece that starts with the label holds the question's words, not the answer.
            score -= 0.1 if _FORM_LABEL.match(flat) else 0.0
            # "Note 5 – Income Taxes European Commission State Aid Decision": a heading says what
            # follows is about the question's words; it states nothing
            score -= 0.2 if _is_heading(flat) or _titles_a_paragraph(where.text, at, text) else 0.0
            # "NEX Revenue $B NEX Operating Income (Loss) $B $2.1": a chart's labels, read off its bars
            score -= 0.3 if _CHART_UNIT.search(flat) else 0.0
            # "图形业务的营业利润": a sentence that names no business line the question does (segments'
            # inventory provisions) gives another figure than that line's
            score -= 0.0 if _holds_line(asked, set(_lemmas(have)), flat) else 0.3
            # Two lines of a longer sentence that stop on "for": the figure it was going to give is cut off.
            score -= 0.1 if ends_on_dangling_word(flat) else 0.0
            # a name asked: of a sentence and the pair of its lines that stops short of its end, the
            # sentence ("... to Bain" / "Capital Special Situations (Bain Capital).")
            score -= 0.03 if asked.wants in _NAMES_ASKED and not _ENDS_SENTENCE.search(flat) else 0.0
            # Two lines from the middle of a sentence ("year 2023 (“Q2 charge”), which included ... $800
            # million") lose what it is about: of two pieces alike, the one that starts it ("we recorded
            # a $1.2 billion charge in the second quarter of fiscal year 2023 ...").
            score -= 0.05 if flat[:1].islower() or _DATE_TAIL.match(flat) else 0.0  # or "25, 2020, the ..."
            shown = _BULLET.sub("", flat)  # "• Devices revenue decreased ...": the list's mark is no word of it
            if commands:
                text = where.text[at : at + len(text) + len(commands)]
                shown = f"{shown} {' '.join(commands.split())}"
            found.append(Candidate(score, source, f"“{shown}”", text, where, at, matched=wanted & have, holds=holds))
        return found

    def _listed(self, asked: Question, source: Source, wanted: frozenset[str], where: PageText) -> list[Candidate]:
        """The listing lines on the pages of the chunk, for a question asking for a package, command
        or tool: scored by how much of the question what the line says covers."""
        if asked.wants != "code":
            return []
        chunk = source.chunk
        lines = [
            listing
            for listing in listings(where.text)
            if chunk.page_start <= where.page_at(listing.offset) <= chunk.page_end
        ]
        weigh = _passage_weights(asked, wanted, [listing.line for listing in lines])
        # the names in Latin letters the question gives ("lsusb", "7z"): the line naming them
        named = {t for t in content_terms(" ".join(_CODE_WORD.findall(asked.text))) if not t.isdigit()}
        found = []
        for listing in lines:
            said = f"{listing.name} {listing.what}"
            have = spelt_out(set(content_terms(said))) | {t for t in wanted if CJK_CHAR.match(t) and t in said}
            one_term, have_one = _as_one_term(wanted, have)
            recall = weigh(one_term & have_one) / weigh(one_term) if one_term else 0.0
            if recall == 0:
                continue
            precision = len(wanted & have) / len(have)
            score = 0.8 * recall + 0.2 + 0.1 * precision
            score += 0.1 if named & have else 0.0
            # and more where it names it as the command it provides ("7z(1)"; the other line has "7zr(1)")
            score += 0.05 if any(f"{word}(" in said.lower() for word in named & have) else 0.0
            score += 0.25 if listing.package and _ASKS_PACKAGE.search(asked.text) else 0.0
            text, at = render(listing), listing.offset
            found.append(Candidate(score, source, text, listing.line, where, at, matched=wanted & have, listed=True))
        return found


# A Chinese sentence this short is often the lead-in of the one that answers ("环氧氯丙烷是通过对原料
# 烯丙基氯的两步反应制备的。" before "第一步，..."; "五羊新城于1980年代由东华实业开发。" before
# "五羊新城紧邻主干道..."): the next sentence is quoted with it. CMRC2018 dev, first 200 questions,
# gold in the answer: 0.785 without; 0.81 / 0.825 / 0.83 / 0.845 below 30 / 45 / 60 / 90 characters;
# 0.85 always (answers' median 52 -> 61 / 69 / 79 / 89 characters). 60: past it the gain is quoting
# more text, not completing a lead-in.
_LEAD_IN_CHARS = 60


# A sentence cut inside ("U.S. Treasury" / "Department, which delayed the effective date ..."): the
# words before it on its line, or a full line of text before a quote opening with a word, run on
# into it. (A heading over a paragraph, "Effective Tax Rate", is a short line; a table's lines,
# "(1,477) Lower gross margin related to the divested NAND memory business", open with figures.)
_RUNS_ON = re.compile(r"[a-z,]$")
_FULL_LINE = 60  # characters: a line of a page's running text, not a heading
_OPENS_WITH_WORD = re.compile(r"[\s“\"‘]*[A-Za-z]")


def _holds_the_rarest(asked: Question, question: str, rarity: Mapping[str, float]) -> Callable[[Candidate], bool]:
    """Does a candidate hold the question's rarest term? "What share repurchase activity did Apple
    report?": the cash flow statement's "Repurchases of common stock" and its "Share-based
    compensation expense" score the same. (It only breaks ties: a filing may put the rarest term
    otherwise, "late July", "raise", "cut", and a rarer word may be the generic one: "segment" in
    "Apple's Services segment revenue".)"""
    if is_mostly_cjk(question) or not rarity:
        return lambda c: False
    return lambda c: covers_the_rarest(asked.subject_terms(c.source.chunk), c.matched, rarity, question)


# "unrecognized", "unrealized", "noncurrent", "non-GAAP": a word the question negates; not "unit",
# "united", "under", "universal", "unique", "unless", "until", "uniform"
_NEGATED = re.compile(r"^(?:un(?!der|it|ion|iq|iv|less|til|if)|non-?)[a-z]{4,}$")


def _misses_a_negation(asked: Question, best: Candidate) -> bool:
    """Does the answer lack a negated word the question asks of? "How much unrecognized stock-based
    compensation cost did Microsoft report?" is not answered by the "Stock-based compensation
    expense" it recognised: without the word, the line is the opposite of what was asked."""
    negated = {t for t in asked.in_order if _NEGATED.match(t)}
    if not negated or is_mostly_cjk(asked.text):
        return False
    said = {root(t) for t in content_terms(f"{best.text} {best.quote}")}
    return not all(t in best.matched or root(t) in said for t in negated)


# "How did X change / trend / evolve?" (not the "chang" of "foreign exchange", which asked.change holds)
_ASKS_HOW_IT_MOVED = re.compile(rf"\bchang|{DOWN_WORDS}|{UP_WORDS}|\btrend|\bevolv|\bfluctuat", re.I)
# a sentence saying something moved or stayed: "increased", "fell", "lower", "no material changes"
_SAYS_A_MOVE = re.compile(rf"{_MOVE_WORDS}|\bchang|\bconsistent\b|\bunchanged\b|\bflat\b", re.I)


def _says_no_move(candidate: Candidate) -> bool:
    """Asked how something changed, is the candidate a sentence with neither a figure nor a move
    ("Metrics related to our Intelligent Cloud segments assess the health of our core businesses")?"""
    quote = candidate.quote
    return candidate.text.startswith("“") and not find_figures(quote) and not _SAYS_A_MOVE.search(quote)


# A table of contents: lines ending in a page number, mostly ascending ("Consolidated Statements of
# Cash Flows 3", "Consolidated Balance Sheets 6"); read as rows, they are titles with page numbers.
_PAGE_NUMBERED_LINE = re.compile(r"^.*[A-Za-z’'),]\s+(\d{1,3})\s*$", re.M)
_MIN_CONTENTS_LINES = 4


# An exhibit index: lines that open with an exhibit's number ("31.2 Certification of the Chief Financial
# Officer pursuant to Rule 13a-14(a) of the Exchange Act", "10.2† Offer Letter between ..."), titles of
# documents filed with the report; a manual's numbered headings name no exhibit.
_EXHIBIT_LINE = re.compile(r"^\s*\d{1,3}\.\d{1,2}[*†]*\s+\S", re.M)
_EXHIBITS_NAMED = re.compile(r"Exhibit|XBRL|Certification")
_MIN_EXHIBIT_LINES = 3


def _lists_exhibits(text: str) -> bool:
    return len(_EXHIBIT_LINE.findall(text)) >= _MIN_EXHIBIT_LINES and _EXHIBITS_NAMED.search(text) is not None


def _in_contents(chunk: StoredChunk) -> bool:
    """Is the chunk a table of contents or an exhibit index? Its rows and sentences answer nothing,
    nor are they quoted."""
    if _lists_exhibits(chunk.text):
        return True
    numbers = [int(n) for n in _PAGE_NUMBERED_LINE.findall(chunk.text)]
    ascending = sum(later >= earlier for earlier, later in pairwise(numbers))
    return len(numbers) >= _MIN_CONTENTS_LINES and ascending >= 0.8 * (len(numbers) - 1)


def starts_inside_sentence(candidate: Candidate) -> bool:
    """The quote starts inside a sentence of its page: the text before it runs on into it."""
    *earlier, line = candidate.where.text[: candidate.offset].split("\n")
    line = line.rstrip(" ")
    if not line and earlier:
        line = earlier[-1].rstrip(" ")
        if len(line) < _FULL_LINE or not _OPENS_WITH_WORD.match(candidate.quote):
            return False
    return _RUNS_ON.search(line) is not None


def requoted(candidate: Candidate, quote: str, offset: int) -> Candidate:
    """The quoted sentence candidate with another quote of its page (at `offset` in it), shown on one line."""
    return replace(candidate, text=f"“{' '.join(quote.split())}”", quote=quote, offset=offset)


_WHOLE_REACH = 400  # characters back to where a cut sentence starts: past it, a long list or block


def whole_sentence(candidate: Candidate) -> Candidate:
    """The quoted sentence from where it starts on its page, when its chunk's edge (or a line of a
    long one) cut it: "Brookfield own 51% and 49%, respectively, ..." is "Intel and Brookfield own
    51% and 49%, respectively, ...". As it was when it is whole, or when no start is near."""
    if not candidate.text.startswith("“") or not starts_inside_sentence(candidate):
        return candidate
    begin = max(0, candidate.offset - _WHOLE_REACH)
    at = candidate.offset - begin
    window = candidate.where.text[begin : candidate.offset + len(candidate.quote)]
    started = next((s.start for s in split_sentences(window) if s.start < at < s.end), None)
    if started is None or (started == 0 and begin > 0):
        return candidate  # no sentence starts within reach
    joined = window[started:at] + candidate.quote
    return requoted(candidate, joined, begin + started)


# An English question that asks for no figure, name or date ("What is Apple's policy on reimbursing
# home office equipment?") is answered by a sentence holding at least this share of its words; one
# that shares "employee" and "home" (a stock plan's "the Participant's name, home address") is not.
_OPEN_MIN_COVERAGE = 0.5


def _covers_open_question(asked: Question, best: Candidate, question: str, rarity: Mapping[str, float]) -> bool:
    """A quoted sentence answers an open English question only if it holds half its terms and its
    rarest one. (A question for a figure, name or date has its own tests; its rarest term is often
    a word the filing puts otherwise: "late July", "raise", "cut".)"""
    quoted = best.text.startswith("“")
    if asked.open and quoted and not is_mostly_cjk(question) and _is_title(best.quote):
        return False  # "Legal Proceedings 51": a line of the contents names the topic, says nothing
    if asked.open and not asked.wants and quoted and not is_mostly_cjk(best.quote) and not stands_alone(best.text):
        # "... were as follows (dollars in millions):" says nothing by itself (a sentence cut off
        # after the figure asked for still gives it: "Customer A, represented 12% of ... to the")
        return False
    if asked.open and not asked.wants and quoted and points_elsewhere(best.quote):
        return False  # "Refer to Note 12 – Unearned Revenue ... for further discussion."
    if quoted and not is_mostly_cjk(best.quote) and starts_inside_sentence(best):
        return False  # "Wearables, which includes AirPods, ...": what the sentence says is of something else
    if asked.wants or is_mostly_cjk(question) or not quoted:
        return True  # a Chinese question shares few words with an English page: meaning decides there
    wanted = asked.subject_terms(best.source.chunk)
    if not wanted:
        return True
    covered = len(best.matched) >= _OPEN_MIN_COVERAGE * len(wanted)
    return covered and covers_the_rarest(wanted, best.matched, rarity, question)


# "How has Apple's revenue from iPhone sales fluctuated across quarters?": the line asked for, as each
# filing the search found prints it
_OVER_PERIODS = (
    r"\b(?:across|over|throughout|between)\s+(?:the\s+|these\s+|its\s+|their\s+|recent\s+|reported\s+|past\s+)*"
    r"(?:quarters|periods|time|filings|reports)\b"
)
# "over time", "across the past quarters": how the question asks, not what about ("at the time of the
# transaction", "past" were matched)
_OVER_PERIODS_PHRASE = re.compile(_OVER_PERIODS, re.I)
_ASKS_OVER_PERIODS = re.compile(
    _OVER_PERIODS + r"|\btrend(?:s|ed|ing)?\b|\bfluctuat|\bevolv|"
    r"\bquarter[- ](?:over|to)[- ]quarter\b|\beach\s+(?:reported\s+)?(?:quarter|period)\b",
    re.I,
)
_ROW_LABEL = re.compile(r"^([^“:]+):\s")  # "iPhone: $51,334 million for ...": a row's label


def asks_over_periods(question: str) -> bool:
    """Does the question ask how something moved across quarters or over time, naming no date?"""
    return _ASKS_OVER_PERIODS.search(question) is not None and Question.parse(question).over_periods


def _same_line_in_other_filings(best: Candidate, candidates: Sequence[Candidate], floor: float) -> list[Candidate]:
    """The chosen row and the row of the same label in each other document read (its best-scored,
    over the floor), latest period first; only the chosen one when it is no row."""
    label = _ROW_LABEL.match(best.text)
    if label is None:
        return [best]
    by_document = {best.source.chunk.document_id: best}
    for c in sorted(candidates, key=lambda c: -c.score):
        same = _ROW_LABEL.match(c.text)
        if c.score >= floor and same is not None and same.group(1) == label.group(1):
            by_document.setdefault(c.source.chunk.document_id, c)
    return sorted(by_document.values(), key=_latest_date, reverse=True)


def _latest_date(candidate: Candidate) -> tuple[int, int, int]:
    dates = [(d.year, d.month, d.day or 0) for d in date_mentions(candidate.text) if d.month]
    return max(dates, default=(0, 0, 0))


def _with_next_sentence(best: Candidate) -> Candidate:
    """The chosen Chinese sentence with the one after it on the page, when it is a short lead-in."""
    quote = " ".join(best.quote.split())
    if len(quote) >= _LEAD_IN_CHARS:
        return best
    end = best.offset + len(best.quote)
    following = split_sentences(best.where.text[end:])
    if not following or following[0].start > 2 or not is_mostly_cjk(following[0].text):
        return best
    stop = end + following[0].end
    joined = best.where.text[best.offset : stop]
    return requoted(best, joined, best.offset)


def _passage_weights(asked: Question, wanted: frozenset[str], texts: list[str]) -> Callable[[Iterable[str]], float]:
    """How much each question term tells the passage's sentences apart. In a Chinese article every
    sentence names its subject ("徐晓飞"); the words of the question's predicate ("退役") pick
    the sentence. English questions weigh every term the same (their subject is the filing's,
    left out already)."""
    if not is_mostly_cjk(asked.text) or len(texts) < 3:
        return lambda terms: float(len(list(terms)))
    term_sets = [set(content_terms(" ".join(t.split()))) for t in texts]
    n = len(term_sets)
    weight = {t: math.log(1 + n / (1 + sum(t in terms for terms in term_sets))) for t in wanted}
    return lambda terms: sum(weight.get(t, 0.0) for t in terms)


_ASKS_PACKAGE = re.compile(r"(?:哪个|什么|哪些|哪一个)\s*(?:软件)?包|\bwhich\s+package", re.I)
# "用什么命令": a command line ("# dpkg-reconfigure tzdata") or a command quoted with its option
# ("使用”screen -r” 启动 screen"), not a sentence that names a program in passing
_COMMAND_KIND = (
    re.compile(r"(?:哪个|什么|哪条|哪一条|啥)\s*命令|命令\s*(?:该|要|应该)?怎么写|\bwhich\s+command", re.I),
    re.compile(r"(?:^|\s)[$#]\s+[a-z][\w.-]*|[“”\"][a-z][\w.-]*\s+-{1,2}[a-z][\w-]*"),
)
# Chinese questions that ask for a kind of answer, and the words of a sentence that gives it.
_KINDS = (
    (re.compile(r"为什么|为何|原因|缘故"), re.compile(r"因为|由于|因此|所以|原因|导致|因[^此]")),
    (
        re.compile(r"又叫|又称|别称|别名|叫什么|称为|简称|俗称"),
        re.compile(r"又称|又名|别称|别名|简称|俗称|也称|亦称|原名|称为|称作|名为|又叫"),
    ),
    (re.compile(r"在哪|哪里|位于|何处|什么地方"), re.compile(r"位于|地处|坐落")),
    # "要装哪个软件包": "安装 smartmontools 软件包", a package named as one
    (
        _ASKS_PACKAGE,
        re.compile(r"[a-z0-9][\w.+-]*[a-z0-9]\s*(?:软件包|包)|(?:安装|软件包)\s*[“”\"]?[a-z0-9][\w.+-]*[a-z0-9]"),
    ),
    # "写到哪个文件里": "“/etc/modules” 文件", a file named by its path
    (
        re.compile(r"(?:哪个|什么|哪些|哪一个)\s*(?:配置)?(?:文件|目录)|\bwhich\s+(?:file|directory)", re.I),
        re.compile(r"/[\w.-]+/[\w./-]*[”\"]?\s*(?:文\s?件|目\s?录)|(?:文\s?件|目\s?录)\s*[“”\"]?/[\w.-]+/"),
    ),
    (
        re.compile(r"职业|身份|做什么的"),
        re.compile(r"是.{0,12}(?:运动员|演员|歌手|作家|政治家|画家|学者|商人|导演|主持人|教练|官员)"),
    ),
)


def _answers_kind(question: str, sentence: str, names_its_program: bool = True) -> bool:
    """Whether the sentence gives the kind of thing asked for. A command counts only where the
    sentence names what a Chinese question names in Latin letters ("screen", "locale"): any prompt
    line on a manual's page gives "a command", and one about something else is no answer."""
    kinds = (*_KINDS, _COMMAND_KIND) if names_its_program else _KINDS
    return any(asks.search(question) and gives.search(sentence) for asks, gives in kinds)


# Forms a statement's labels and a question's words differ in ("paid" / "pay", "repayment" / "repay").
_LEMMAS = {
    "paid": "pay",
    "payment": "pay",
    "payments": "pay",
    "repaid": "repay",
    "repayment": "repay",
    "repayments": "repay",
    "spent": "spend",
    "spending": "spend",
    "sold": "sell",
    "bought": "buy",
    "held": "hold",
    "borrowed": "borrow",
    "borrowings": "borrow",
    "operation": "operating",  # "Income from operations" is operating income
    "repurchased": "repurchase",
    "repurchasing": "repurchase",
    "paying": "pay",
    "grow": "growth",  # "how much did AWS sales grow": the "Percentage Growth" table
    "grew": "growth",
}
_TOTAL = frozenset({"total"})
# What a figure measures, by the words that name it ("net sales" is revenue): a row whose label and
# heading name only other measures than the question does is another line ("Revenue by Reportable
# Segments" for a segment's operating income asked). "profit" names none: Apple's "Gross margin" is
# the gross profit a question may ask for.
_MEASURES = {"revenue": "revenue", "sales": "revenue", "sale": "revenue", "margin": "margin"}
_MEASURES |= dict.fromkeys(("income", "earnings", "loss"), "income")
# revenue not yet earned is a balance of its own, not the revenue of a period
_MEASURES |= dict.fromkeys(("unearned", "deferred"), "unearned")
# and a cost is no revenue, whatever word of sales its line says ("Cost of sales", "Sales and marketing",
# "Sales, general and administrative")
_MEASURES |= dict.fromkeys(("cost", "costs", "marketing", "administrative"), "cost")
_OWN_MEASURES = frozenset({"unearned", "cost"})
_SAYS_REVENUE = frozenset({"revenue", "sales", "sale"})  # as said and as lemmatised
# "total net sales" asked of a company whose line is "Total revenue": the "net" is the sales' own
_NET_SALES = re.compile(r"\bnet\s+(?:sales|revenues?)\b", re.I)
_QUALIFIER = re.compile(r",?\s+net\s+of\b|\s+[–—]\s+", re.I)  # what follows qualifies the item named before
_CHANGE_ROW = re.compile(r"\s*(?:net\s+)?(?:change|increase|decrease)", re.I)
# Which way a question asks a figure to have moved, in any of its verbs ("decline", "go up", "掉了")
_ASKED_DOWN = re.compile(DOWN_WORDS, re.I)
_ASKED_UP = re.compile(UP_WORDS, re.I)
# Two or more capitalised words in a row after the question's first: a thing's name ("Microsoft Cloud",
# "Intel Foundry Services"), not a month's ("June 2023" is one word)
_TITLE_CASE_RUN = re.compile(r"(?<=\s)[A-Z][A-Za-z]+(?:\s+[A-Z][A-Za-z]+)+\b")
# what a statement's line is, not whose: "Apple Net Sales" names no line (content terms: "sale")
_STATEMENT_WORDS = frozenset(
    word_list("revenue sale net income earnings loss margin total gross operating expense cost profit")
)


# title-case words past a sentence's first: "Azure", "LinkedIn"; not "GAAP" (acronyms are spelt out apart)
_TITLE_CASE_WORD = re.compile(r"(?<![.?!:]\s)(?<=\s)(?:[A-Z][a-z]+[A-Za-z]*|[A-Z]{1,3}\d{2,4}[A-Za-z]*)\b")
# words a question capitalises that name no line
_NOT_A_NAME = frozenset(
    word_list(
        "company corporation corp inc form report filing quarter quarterly fiscal year q fy sec statement "
        "jan feb mar apr jun jul aug sep sept oct nov dec"
    )
)


_CHART_UNIT = re.compile(r"\$\s?[BM]\b(?!\w)")  # a chart axis's "$B", "$M"
_FORM = re.compile(r"\b(?:10-[QK]|8-K)\b", re.I)  # "on the 10-Q cover": no figure asked
_KNOWN_COMPANIES = frozenset(english_company_names())
_FISCAL_CODE = re.compile(r"fy\d{2,4}$|q[1-4]$|h[12]$")


def _proper_names(question: str, latin: Iterable[str], spelt: frozenset[str]) -> frozenset[str]:
    """The lemmas of what a question names as such (see `Question.proper_names`); `spelt`: its acronyms."""
    titled = " ".join(_TITLE_CASE_WORD.findall(question))
    words = set(latin) if is_mostly_cjk(question) else set(content_terms(titled))
    # "CCG": a row may spell it out ("Client Computing Group"); "SG&A", "PP&E" are words of the glossary's
    words -= {a.lower() for a in spelt} | set(content_terms(" ".join(spelt)))
    # not a code that opens with its number ("10b5-1"), which a page may write otherwise
    words = {w for w in words if len(w) > 1 and not w[0].isdigit() and not _FISCAL_CODE.match(w)}
    # nor a company the glossary knows: whose filing it is, retrieval's to tell
    words -= _KNOWN_COMPANIES
    return frozenset(_lemmas(words)) - _NOT_A_NAME - _PERIOD_TERMS - _MONTH_WORDS - _STATEMENT_WORDS - {"gaap"}


def _title_case_names(question: str) -> list[frozenset[str]]:
    """The content terms of each name in title case an English question gives."""
    names = (frozenset(_lemmas(spelt_out(set(content_terms(run))))) for run in _TITLE_CASE_RUN.findall(question))
    return [name for name in names if len(name - _STATEMENT_WORDS) >= 2 and not name & _MONTH_WORDS]


_GROWTH = re.compile(r"growth|change|increase|decrease|decline", re.I)
_GROWTH_TABLE = re.compile(r"\bgrowth\b|\bpercent(?:age)?\s+change\b|%\s*change\b", re.I)
_SAYS_YEAR_AGO = frozenset({"yoy", "ago"})  # "同比" glossed, "yoy" asked
_ASKS_A_MOVE = re.compile(rf"(?:{DOWN_WORDS}|{UP_WORDS})", re.I)  # the change words asked, in English
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z&.\-]*")
_CODE_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]*")
_NON_GAAP = re.compile(r"non-?\s?gaap|adjusted|非公认|非GAAP", re.I)
_BEFORE = re.compile(r"\bbefore\b|\bpre-?tax\b|税前", re.I)


def _holds_line(asked: Question, words: set[str], text: str) -> bool:
    """Whether a row or sentence names the business line a Chinese question names ("客户端计算"), by
    its words ("Client Computing") or its acronym ("CCG Operating Income"), and a word of the
    English it glosses its subject with ("设备（Devices）"); true when it names neither."""
    named, glossed = asked.lines, asked.glossed
    if glossed and not set(_lemmas(content_terms(glossed))) & words:
        return False
    if not named:
        return True
    return bool(set(_lemmas(content_terms(named))) & words) or any(spells(a, named) for a in acronyms(text))


# "设备（Devices）": Chinese words, then their English in brackets (full or half width)
_GLOSS = re.compile(r"([\u4e00-\u9fff]+)\s*[（(]\s*([A-Za-z][A-Za-z&.\- ]*[A-Za-z.])\s*[）)]")


def _glossed(question: str) -> str:
    """The English glosses of a Chinese question's words, but a company's or an acronym."""
    return " ".join(
        english
        for chinese, english in _GLOSS.findall(question)
        if not english.isupper() and not any(chinese.endswith(company) for company in COMPANY_NAMES)
    )


# Figures counted in units of their own: a question for a price, active users or subscribers is
# answered only by a text naming them, never by an amount of revenue that shares its other words.
# Not "user" alone: a manual's user account is no count ("删除用户账号" is answered by "deluser").
_UNIT_MEASURES = frozenset(word_list("price prices active subscriber subscribers"))


def _measures(terms: Iterable[str], measures: Mapping[str, str] = _MEASURES) -> set[str]:
    return {measures[t] for t in terms if t in measures}


_DATE_TAIL = re.compile(r"\d{1,2},\s*(?:19|20)\d\d\b")  # a date's day and year, its month cut off before
_SINCE_INCEPTION = re.compile(r"\bsince\s+(?:the\s+|its\s+|our\s+)?inception\b|\bcumulative\b|自.{0,6}以来|累计", re.I)


# MD&A's headings say which months the sentences under them compare: "Nine Months Ended March 31, 2023
# Compared with Nine Months Ended March 31, 2022", "Highlights from the third quarter of fiscal year
# 2023 compared with the third quarter of fiscal year 2022 included:"
_COMPARED_HEADING = re.compile(
    r"\b(three|six|nine)\s+months\s+ended[^\n]{0,60}?compared\s+(?:with|to)\b"
    r"|\b(?:first|second|third|fourth)\s+(quarter)\s+(?:of\s+)?(?:fiscal\s+(?:year\s+)?)?\d{4}\s+compared\s+(?:with|to)\b"
    r"|\bfirst\s+(half|nine\s+months)\s+(?:of\s+)?(?:fiscal\s+(?:year\s+)?)?\d{4}\s+compared\s+(?:with|to)\b",
    re.IGNORECASE,
)
_HEADING_REACH = 3000  # characters before a sentence in which its section's heading is looked for


def _heading_span(text: str, at: int) -> str:
    """"three" or "many" (months to date) by the last comparison heading before `at`; "" for none."""
    headings = list(_COMPARED_HEADING.finditer(text, max(0, at - _HEADING_REACH), at))
    if not headings:
        return ""
    word = next(g for g in headings[-1].groups() if g).lower()
    return "three" if word in ("three", "quarter") else "many"


def _measured_otherwise(asked: Question, sentence: str) -> bool:
    """A sentence stating a change on another basis than the one asked (the year ago, the quarter before)."""
    if not asked.against or not _STATES_CHANGE.search(sentence):
        return False
    if asked.against == "quarter":
        return not _AGAINST_QUARTER.search(sentence)
    # "down 65% from a year ago and down 60% sequentially" says both
    return bool(_AGAINST_QUARTER.search(sentence)) and not _AGAINST_YEAR.search(sentence)


def _sentence_span_fit(asked: Question, sentence: str, heading: str = "") -> float:
    """-0.15 for a sentence that names only another span than the one asked (the year to date for a
    quarter, or the reverse); +0.05 for one naming the months to date asked (MD&A says the quarter's
    change first, often without naming it; a quarter's sentence gets nothing over a row). A sentence
    naming none is of the span its section's `heading` names."""
    if not asked.group or asked.group == "twelve":
        return 0.0
    # "Since the inception of our share repurchase program ...": a running total, not the span asked
    if _SINCE_INCEPTION.search(sentence) and not _SINCE_INCEPTION.search(asked.text):
        return -0.15
    # Intel's "NEX revenue decreased 32% from Q3 2022" beside "... 34% from YTD 2022"
    named = {
        "three" if span == "three" else "many"
        for span, pattern in _GROUPS
        if span != "twelve" and pattern.search(sentence)
    }
    named = named or ({heading} if heading else set())
    wanted = "three" if asked.group == "three" else "many"
    if wanted in named:
        return 0.05 if wanted == "many" else 0.0
    return -0.15 if named else 0.0


_BEGINNING = re.compile(r"beginning\s+of\s+(?:the\s+)?(?:period|year|quarter)|\bbeginning\b|\bstart\b|期初", re.I)
_ENDING = re.compile(r"\bend\s+of\s+(?:the\s+)?(?:period|year|quarter)|\bend\b|期末|底|末", re.I)


def _period_end_fit(label: str, asked: Question, period: Period | None = None) -> float:
    """A cash flow statement's "...at beginning of period" and "...at end of period" rows differ
    in the one word the question's period gives ("at the end of October"), or in its date: a
    balance "at July 1, 2023" is the period's end (the columns are periods ended July 1). So is a
    balance sheet's column: asked how much cash Amazon had "at the end of the quarter", its "Cash
    and cash equivalents" at September 30 is as much the end as the cash flow statement's "cash,
    cash equivalents, and restricted cash, end of period", and says what was asked."""
    question = asked.text
    asks_start = bool(_BEGINNING.search(question))
    asks_end = bool(_ENDING.search(question)) or any(day is not None for _, _, day in asked.dates)
    if _BEGINNING.search(label):
        return -0.1 if asks_end and not asks_start else 0.0
    if _ENDING.search(label):
        return 0.05 if asks_end else 0.0
    balance = period is not None and not period.group and period.day is not None and not period.change
    return 0.05 if asks_end and not asks_start and balance else 0.0


def _lemmas(terms: Iterable[str]) -> list[str]:
    return [_LEMMAS.get(t, _singular(t)) for t in terms]


def _singular(term: str) -> str:
    """The terms' plurals in "-ches" and "-shes" lost only their "s" ("matche", "wishe"); the
    index's stemming folds the rest."""
    return term[:-1] if len(term) > 3 and term.endswith(("she", "che")) else term


# a question about the repurchase table, in any of its words (they name no column)
_REPURCHASE_WORDS = frozenset(_lemmas(content_terms("repurchase repurchased purchased buyback bought buy")))


def _shares_a_run(words: list[str], terms: list[str], length: int = 2) -> bool:
    """Do `length` words follow one another in both?"""
    runs = {tuple(terms[i : i + length]) for i in range(len(terms) - length + 1)}
    return any(tuple(words[i : i + length]) in runs for i in range(len(words) - length + 1))


def _phrase_in(words: list[str], terms: list[str]) -> bool:
    """Do `words` occur in `terms` one after another (and is there a phrase at all)?"""
    n = len(words)
    return n > 0 and any(terms[i : i + n] == words for i in range(len(terms) - n + 1))


_CHINESE_COUNT = re.compile(  # "五位", "两个部份", "28亿元"
    r"[一二两三四五六七八九十百千万亿\d]+(?:多|余)?\s*[个位项座名次条种家所年岁万亿元米人层号届部本]"
)


# A filing's running footer: "Apple Inc. | Q3 2023 Form 10-Q | 7"
_FOOTER = re.compile(r"\bForm\s+10-[QK]\s*\|\s*\d{1,3}\s*$", re.IGNORECASE)
# A page's number on its own last line: furniture, not a figure of the sentence it interrupts.
_PAGE_NUMBER_LINE = re.compile(r"\n[ \t]*\d{1,3}[ \t]*$")


_ORDINALS = ("first", "second", "third", "fourth")
_QUARTER_NAMED = re.compile(
    r"\b(first|second|third|fourth)\s+(?:fiscal\s+)?quarter\b|\bq([1-4])\b|第([一二三四1-4])(?:季度|财季)", re.I
)
_QUESTION_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")


def _names_the_quarter(question: str, sentence: str) -> bool:
    """The sentence names the quarter the question names, by its ordinal ("the third quarter")
    and, where the question gives one, its year ("... of fiscal year 2023")."""
    asked = _QUARTER_NAMED.search(question)
    if asked is None:
        return False
    number = asked.group(2) or asked.group(3)
    if asked.group(1):
        ordinal = asked.group(1).lower()
    else:
        ordinal = _ORDINALS["一二三四".find(number) if number in "一二三四" else int(number) - 1]
    years = set(_QUESTION_YEAR.findall(question))
    said = re.search(rf"\b{ordinal}\s+(?:fiscal\s+)?quarter\b", sentence, re.I) is not None
    return said and (not years or bool(years & set(_QUESTION_YEAR.findall(sentence))))


# "fiscal 2024", "fiscal year 2024", "FY24", "2024财年", "2024 财年"
_ASKED_FISCAL_YEAR = re.compile(r"\b(?:fiscal\s+(?:year\s+)?|FY\s?)((?:19|20)?\d\d)\b|((?:19|20)\d\d)\s*财年", re.I)
# "fiscal year 2023", "fiscal years 2024 and 2023"
_STATED_FISCAL_YEARS = re.compile(r"\bfiscal\s+(?:years?\s+)?((?:19|20)\d\d)(?:\s*(?:and|,)\s*((?:19|20)\d\d))?", re.I)


def _another_fiscal_year(question: str, sentence: str) -> bool:
    """The question names a fiscal year and the sentence names fiscal years, none of them it."""
    named = [y for m in _ASKED_FISCAL_YEAR.finditer(question) for y in m.groups() if y]
    asked = {int(y) if len(y) == 4 else 2000 + int(y) for y in named}
    stated = {int(y) for m in _STATED_FISCAL_YEARS.finditer(sentence) for y in m.groups() if y}
    return bool(asked) and bool(stated) and not asked & stated


def _negative(cell: str) -> bool:
    """ "(1,577)", "$ (95)", "-3": a table's negative amount."""
    return cell.lstrip("$ ").startswith(("(", "-", "−"))


def _value(cell: str) -> Decimal | None:
    """A cell's amount, negative in brackets; None for a dash or a percentage."""
    figures = find_figures(cell)
    if not figures or figures[0].percent:
        return None
    return -figures[0].value if _negative(cell) else figures[0].value


def _names_another(asked: Question, text: str) -> bool:
    """A name the question does not say: "Ireland", asked which country gave Apple state aid."""
    return any(not set(content_terms(name)) <= asked.terms for name in find_names(text))


def names_another_product(asked: Question, text: str) -> bool:
    """A model the question does not name ("A800", asked what NVIDIA sold instead of the A100), or
    another name."""
    asked_words = {word.lower() for word in word_list(asked.text)}
    models = [m.group(0).lower() for m in _MODEL_NAME.finditer(text)]
    return any(model not in asked_words for model in models) or _names_another(asked, text)


_HEADING_JOINS = frozenset(word_list("and of the for to in on a an – - — &"))


_BULLET = re.compile(r"^[•●▪]\s*")


def _is_title(text: str) -> bool:
    """Every word capitalised (or a joining word or a number), and no full stop: a title or a line of
    the contents, however short."""
    words = text.strip("“”\"'").split()
    return bool(words) and not is_mostly_cjk(text) and not _ENDS_SENTENCE.search(text) and _capitalised(words)


def _is_heading(text: str) -> bool:
    """Four or more words, each capitalised (or a joining word or a number): a title, not a sentence."""
    words = text.strip("“”\"'. ").split()
    return len(words) >= 4 and not is_mostly_cjk(text) and _capitalised(words)


def _capitalised(words: Sequence[str]) -> bool:
    return all(w[0].isupper() or w[0].isdigit() or w.lower() in _HEADING_JOINS for w in words)


_BLANK_LINE_BEFORE = re.compile(r"\n[^\S\n]*\n[^\S\n]*\Z")  # pypdf's blank lines may hold (no-break) spaces
_BLANK_LINE_AFTER = re.compile(r"[^\S\n]*(?:\n[^\S\n]*\n|\Z|\n[^\S\n]*[A-Z])")  # or a paragraph right under it


def _titles_a_paragraph(page: str, at: int, text: str) -> bool:
    """A short line after a blank one, with no full stop and no figure, titles the paragraph under
    it ("Office Commercial products and cloud services revenue growth", then "Revenue from ...")."""
    if is_mostly_cjk(text) or _ENDS_SENTENCE.search(text) or find_figures(text) or len(text.split()) > 12:
        return False
    before, after = page[max(0, at - 12) : at], page[at + len(text) : at + len(text) + 12]
    return (at == 0 or _BLANK_LINE_BEFORE.search(before) is not None) and _BLANK_LINE_AFTER.match(after) is not None


def _names_its_figures(asked: Question, text: str) -> bool:
    return bool(asked.named_figures) and bool(asked.named_figures & {f.value for f in find_figures(text)})


def _statements_at(where: PageText, offset: int, seen: dict[int, set[Statement]]) -> set[Statement]:
    """The statements the page at `offset` shows (worked out once a page)."""
    page = where.page_at(offset)
    if page not in seen:
        seen[page] = text_statements(where.of_page(page))
    return seen[page]


_CHANGE_AMOUNT = re.compile(
    r"\b(?:increased|decreased|grew|declined|rose|fell|dropped|up|down)\s+(?:by\s+)?\$?\s?[\d,.]+"
    r"(?:\s?(?:million|billion|thousand))?",
    re.IGNORECASE,
)


# Which way a sentence's amounts moved.
_MOVED_DOWN = re.compile(r"^(?:decreased|declined|fell|dropped|down)", re.I)


def _asked_the_other_way(asked: Question, went_down: bool) -> bool:
    """Asked whether or how much something fell (or rose, not both), a change the other way."""
    down, up = bool(_ASKED_DOWN.search(asked.text)), bool(_ASKED_UP.search(asked.text))
    return down != up and went_down != down


def _moved_the_other_way(asked: Question, text: str) -> bool:
    """Asked how much Devices revenue declined, "Cost of revenue increased $850 million ..., offset in
    part by a decline in Devices" gives a rise: every amount the sentence says moved, moved the
    other way than the question asks."""
    if not asked.change:
        return False
    moves = [bool(_MOVED_DOWN.match(m.group())) for m in _CHANGE_AMOUNT.finditer(text)]
    return bool(moves) and all(_asked_the_other_way(asked, moved_down) for moved_down in moves)


# "NEX revenue", "Microsoft Cloud revenue", "iPhone net sales": revenue qualified by a name
_NAMED_REVENUE = re.compile(r"((?:\b(?:[A-Z]|i[A-Z])[\w&.-]*(?:['’]s)?\s+)+)(?:net\s+)?(?i:revenue|sales)\b")
_REVENUE = re.compile(r"\b(?:revenue|sales)\b", re.I)
# words that qualify revenue without naming a part of it
_WHOLE = frozenset(word_list("total net our the its their consolidated company worldwide overall gaap segment"))


def _names_another_line(asked: Question, text: str) -> bool:
    """Whether the revenue a sentence is about (the first it names) is a business line's the
    question does not name: asked for Intel's revenue, "NEX revenue decreased 32%" (not "Total
    revenue of $14.2 billion was down 8%, as CCG revenue decreased 3%")."""
    if "revenue" not in _measures(_lemmas(asked.terms)):
        return False
    first = _REVENUE.search(text)
    named = next((m for m in _NAMED_REVENUE.finditer(text) if first and m.end() == first.end()), None)
    if named is None:
        return False
    asked_words = set(_lemmas(asked.terms)) | set(content_terms(asked.lines)) | {a.lower() for a in asked.acronyms}
    return bool(set(_lemmas(content_terms(named.group(1)))) - _WHOLE - asked_words)


# A sentence's subject: what comes before its first verb ("Total revenue of $14.2 billion" / "was down")
_FIRST_VERB = re.compile(
    r"\b(?:was|were|is|are|represent(?:s|ed)?|accounted|increased|decreased|grew|declined|rose|fell)\b", re.I
)
_SUBJECT_MEASURES = _MEASURES | dict.fromkeys(("expense", "expenses", "opex"), "cost")
_COST_NAMED = re.compile(r"\b(?:R&D|MG&A|SG&A)(?!\w)|research\s+and\s+development", re.I)  # no content terms
_MID_SENTENCE = re.compile(r"[a-z]+ ")  # a word, not a command ("help2man", "apt-mark")
_CLAUSE_END = re.compile(r"[.;:!?]\s+")


def _cut_off_subject(read: str, start: int) -> str:
    """For a pair of lines from inside a sentence, the start of their clause on the line before:
    "... existing inventories. CCG" before "revenue decreased 12% from Q2 2022 ..."."""
    if start == 0 or read[start - 1] != "\n" or not _MID_SENTENCE.match(read, start):
        return ""
    previous = read[read.rfind("\n", 0, start - 1) + 1 : start - 1]
    return _CLAUSE_END.split(previous)[-1]


# Units and prices, not money earned: "Server volume", "Desktop unit sales", "Notebook ASPs" (whose
# "sales" says no revenue)
_UNITS_NAMED = re.compile(
    r"\b(?:volumes?|units?(?:\s+sales)?|ASPs?|average\s+selling\s+prices?|shipments?)\b|销量|出货量|售价", re.I
)


def _about_another_measure(asked: Question, text: str) -> bool:
    """The sentence's subject names measures, none of those the question asks for."""
    verb = _FIRST_VERB.search(text)
    if verb is None:
        return False
    asked_measures = _measures(_lemmas(asked.terms), _SUBJECT_MEASURES)
    asked_measures |= {"units"} if _UNITS_NAMED.search(asked.text) else set()
    said = text[: verb.start()]
    subject = _measures(_lemmas(content_terms(_UNITS_NAMED.sub(" ", said))), _SUBJECT_MEASURES)
    subject |= {"cost"} if _COST_NAMED.search(said) else set()
    subject |= {"units"} if _UNITS_NAMED.search(said) else set()
    return bool(asked_measures) and bool(subject) and not asked_measures & subject


# A sentence that leads into what follows ("使用下列命令", "如下所示", "as follows:"), and the shell
# prompt lines after it ("$ sudo update-alternatives --config editor", "# dpkg --configure -a")
_LEADS_IN = re.compile(r"(?:下列|下面|以下|如下|这样|follow\w*)[^\n]{0,30}[。：:]\s*$", re.I)
_PROMPT_LINES = re.compile(r"(?:\s*\n[ \t]*[$#][ \t]+\S[^\n]*){1,3}")


def _lead_ins_after_their_subject(text: str, sentences: Sequence[Sentence]) -> list[tuple[int, str]]:
    """A short sentence that leads into commands ("你需要按下面的方法配置：") says what follows, not what
    it is about: it is quoted with the sentence before it ("locales 软件包没有包含预先编译的语言环境数据。")."""
    found = []
    for before, lead_in in pairwise(sentences):
        first_line = lead_in.text.split("\n", 1)[0]
        if len(first_line) <= 30 and _LEADS_IN.search(first_line):
            found.append((before.start, text[before.start : lead_in.start + len(first_line)]))
    return found


def _commands_after(text: str, end: int) -> str:
    """The shell prompt lines right after a sentence that leads into them (with the whitespace
    before them, so the quote stays the page's text); "" when there are none."""
    if not _LEADS_IN.search(text[max(0, end - 40) : end]):
        return ""
    lines = _PROMPT_LINES.match(text, end)
    return lines.group(0) if lines else ""


def _holds(wants: str, text: str, shares_do: bool = True) -> bool:
    """Does the text hold the kind of thing the question asks for (only that test is run)? A
    percentage answers for a figure only where `shares_do`: "DCAI revenue decreased 39%" does not
    say what DCAI's revenue was, but it says how much it fell."""
    if wants == "figure":  # an amount, not the number of a note or item ("Note 2 – Revenue ...")
        # nor, where no change is asked, the amount of a change ("Gaming revenue decreased $684 million")
        stated = REFERENCE_NUMBER.sub(" ", text if shares_do else _CHANGE_AMOUNT.sub(" ", text))
        amounts = [a for a in find_figures(stated) if shares_do or not a.percent]
        return bool(amounts) or bool(is_mostly_cjk(text) and _CHINESE_COUNT.search(text))
    if wants == "name":  # a person, or an auditor or agent ("Ernst & Young LLP")
        return bool(person_names(text)) or bool(organisation_names(text)) or is_mostly_cjk(text)
    if wants == "organisation":
        return bool(organisation_names(text)) or is_mostly_cjk(text)
    if wants == "place":
        return bool(find_names(text)) or is_mostly_cjk(text)
    if wants == "date":
        return any(d.month for d in date_mentions(text)) or (is_mostly_cjk(text) and "年" in text)
    if wants == "code":
        return bool(_CODE_TOKEN.search(text))
    return True


def _names_another_day(asked: Question, text: str) -> bool:
    """A day other than those the question names: asked when Nadella adopted a trading plan "in the
    quarter ended September 30, 2023", the sentence naming only September 30, 2023 ("During the
    quarter ended September 30, 2023, the following officers ... adopted ...") does not say."""
    return any(d.month and (d.year, d.month, d.day) not in asked.dates for d in date_mentions(text))


def _dated_only_another_day(asked: Question, text: str) -> bool:
    days = [d for d in date_mentions(text) if d.day is not None]
    asks_a_day = any(d[2] is not None for d in asked.dates)
    return asks_a_day and bool(days) and all((d.year, d.month, d.day) not in asked.dates for d in days)


def _gives_another_figure(asked: Question, text: str) -> bool:
    """A figure besides those the question names ("How many Microsoft 365 Consumer subscribers ..."
    is not answered by "The number of Microsoft 365 Consumer subscribers at end of period"), and
    for a count, one that is no dollar amount or percentage."""
    if is_mostly_cjk(text):
        return True  # its own counting words (_holds) have said
    return bool(answering_figures(text, asked.named_figures, asked.counts))


def _on_day(asked: Question, period: Period | None) -> bool:
    """Is the period's date a day the question names, or in a month it names ("the end of July
    2023": July 30, 2023; "March 2023": Apple's April 1, 2023, the last day of its March quarter)?"""
    if period is None or period.year is None or period.month is None or period.day is None:
        return False
    if (period.year, period.month, period.day) in asked.dates:
        return True
    if (period.span == "") != (asked.group == ""):  # "the October 2022 quarter" is no balance at October 30
        return False
    day = date(period.year, period.month, period.day)
    months = {(day.year, day.month), month_named(day)}
    return any(d[2] is None and d[:2] in months for d in asked.dates)


def _ends_quarter(asked: Question, period: Period | None) -> bool:
    """Is the period three months ending in a calendar quarter the question names?"""
    if period is None or period.span not in ("three", "quarter"):
        return False
    return (period.year, period.month) in asked.quarter_ends


def _names_date(asked: Question, text: str) -> bool:
    """Does the text name a date the question names ("as of October 19, 2022"), or a day of the
    month it names ("at the end of Sept 2023": "As of September 30, 2023")?"""
    named = {(d.year, d.month, d.day) for d in date_mentions(text) if d.month}
    months = {(year, month) for year, month, _ in named}
    return any(d in named if d[2] is not None else d[:2] in months for d in asked.dates if d[1] is not None)


_CARRIED_OVER = 300  # characters after a chunk that its last sentence may run on for
_ENDS_SENTENCE = re.compile(r"[.!?。！？][”’\")）]*$")


def _finished_at(where: PageText, chunk: StoredChunk) -> int:
    """Where the chunk's text ends in `where`, its last sentence run on to its full stop when the
    chunk cut it ("... for $56.1 billion, excluding excise tax due under" goes on "the Inflation
    Reduction Act of 2022." in the next chunk): a quote of it is then whole. Not past a blank line
    (the chunk ended on a heading or a table row) nor when no full stop comes soon."""
    end = where.chunk_offset + len(chunk.text)
    if where.text[where.chunk_offset : end] != chunk.text or _ENDS_SENTENCE.search(chunk.text.rstrip()):
        return end
    after = where.text[end : end + _CARRIED_OVER]
    rest = split_sentences(after)
    if not rest or "\n\n" in after[: rest[0].start] or rest[0].end == len(after):
        return end
    return end + rest[0].end if _ENDS_SENTENCE.search(rest[0].text) else end
