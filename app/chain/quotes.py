"""Quoted evidence for an open question: the few rows and sentences of the sources that say most
about what it asks, quoted exactly.

"How have Amazon's inventory levels changed, and what does this say about its supply chain?" has
no one row or sentence that answers it, and a small model's sentences about it rarely survive
checking. The filings do state the inventories: shown as written, with its period and citation,
the row is an answer a reader can check, and a better one than "could not verify" over the same
passages. The lead line says that no single passage answers the whole question.

Only for open questions: one asking for a figure ("how much"), a name or a date that no row or
sentence gave is not answered by quoting something near it. A quote states a fact (a row with its
period; a whole sentence with a figure or a year, not hedged like a risk factor unless risks are
asked about, not a pointer elsewhere, quoted from where it starts on its page) and shares one of
the question's words. Quotes are ranked by meaning (the embedder's
similarity to the question); together they must cover a share of the question's words weighed by
their rarity among the documents the user may read (`min_coverage`: "inventory" says more than
"changed"; a word no document holds weighs as the rarest).
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from app.chain.extract import (
    CROSS_LANGUAGE_NOTE,
    Candidate,
    Extractor,
    Question,
    candidate_citation,
    requoted,
    starts_inside_sentence,
    whole_sentence,
)
from app.chain.facts import Passage, facts_of, find_figures, unsupported
from app.chain.sentences import points_elsewhere
from app.chain.topic import rarest_terms, root
from app.retrieval.text import CJK_CHAR, content_terms, is_mostly_cjk
from app.types import Citation, Source

LEAD = {
    "en": "No single passage answers this; here is what the documents say, quoted as written:",
    "zh": "没有一段原文能直接回答这个问题；以下是文档中的相关原文：",
}

# A sentence cut off where its chunk ends ("... both of which were attributable to the"), a
# heading ("Note 6 — STOCKHOLDERS' EQUITY Stock Repurchase Activity") or a line of the table of
# contents ("Item 2. Management's Discussion ...: 22") says nothing by itself.
_COMPLETE = re.compile(r"[.!?。！？；;:：][”’\")）]*\s*”$")
_CONTENTS_ROW = re.compile(r"^(?:item|part|note)\s+\d", re.I)
# "... Results of Operations 15 Item 3.": a contents line run together with the next one.
_CONTENTS_LINE = re.compile(r"\b\d{1,3}\s+(?:item|part)\s+\d+[a-z]?\.?\s*$", re.I)
# ... nor does one that starts mid-sentence ("inventory management, variability in demand, ...").
# (A figure opens no sentence of a filing: "$13.1 billion during Q1 2022 and Q1 2023, which ..." is the
# end of one cut where a chunk begins, and says the second figure is of both quarters.)
_STARTS_SENTENCE = re.compile(r"“[\s•▪■●◦*-]*[A-Z0-9(\"“‘]")
# "e) Condensed Consolidated Statements of Cash Flows ...: 7": a line of the contents, read as a row
_ENUMERATED = re.compile(r"^\(?[a-z]\)\s")
# A fact is stated with a figure or a date, and without the hedges of a risk factor ("we may be
# unable to complete acquisitions"), which talks about the topic in every filing and reports nothing.
_HEDGED = re.compile(r"\b(?:may|might|could|would|can)\b", re.I)
# Asked about risks, a risk factor is the answer: it hedges ("could adversely affect") and states
# no figure, and says what the filing warns of
_RISKS_ASKED = re.compile(r"\b(?:risks?|uncertaint(?:y|ies)|threats?)\b", re.I)
# ... when it names something the question asks of besides risks: "Additional risks and
# uncertainties not presently known to us ... may also impair our business" names nothing
_RISK_WORDS = frozenset(content_terms("risk risks uncertainty uncertainties threat threats"))
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_WORD = re.compile(r"[A-Za-z]{2,}")
_DATED_ROW = re.compile(r"\b(?:at|ended)\s+[A-Z][a-z]+\s+\d{1,2},\s+\d{4}")
_MIN_WORDS = 8
_SAME_WORDS = 0.6  # a quote whose words are mostly in one chosen already repeats it


@dataclass(frozen=True)
class QuoteSettings:
    limit: int = 3  # quotes at most
    # Fitted on sec-10-q's development questions: the lowest coverage among the quotes that
    # answered in part or in whole (18 questions read). It keeps out quotes that share only a
    # common word with the question. The embedder's similarity ranks quotes but sets no floor: on
    # those questions it told useful quotes from useless ones no better than chance (0.80-0.88
    # for both), and its scale is the embedder's own.
    min_coverage: float = 0.08  # of the question's word weight, by all quotes together


@dataclass(frozen=True)
class Quoted:
    text: str  # the lead line, then one quote a line, each ending with its [n] marker
    citations: list[Citation]
    coverage: float  # share of the question's word weight the quotes cover


def quote_evidence(
    extractor: Extractor,
    question: str,
    sources: Sequence[Source],
    rarity: Mapping[str, float],
    settings: QuoteSettings = QuoteSettings(),
) -> Quoted | None:
    """The quotes that say most about an open question, or None when they say too little of it."""
    asked = Question.parse(question)
    if not sources or not asked.open:
        return None
    topic = asked.subject_terms(sources[0].chunk)
    # the caller chose what to read
    found = [whole_sentence(_without_row_before(c)) for c in extractor.candidates(asked, sources, read=len(sources))]
    pages: dict[str, Passage] = {}  # a page's checkable contents, read once for all its candidates
    held = {id(c): _held(c, topic) for c in found}
    risks = bool(_RISKS_ASKED.search(question))

    def speaks(c: Candidate) -> bool:  # a warning must speak of what is asked besides risks
        return bool(held[id(c)] - _RISK_WORDS if risks and _HEDGED.search(c.quote) else held[id(c)])

    candidates = _distinct(c for c in found if speaks(c) and _says_something(c, risks) and _checks_out(c, pages))
    if not topic or not candidates:
        return None
    if extractor.similarity is not None:
        closeness = list(extractor.similarity(question, [c.quote for c in candidates]))
    else:  # no embedder: the extractor's own score ranks
        closeness = [c.score for c in candidates]
    ranked = [c for _, c in sorted(zip(closeness, candidates, strict=True), key=lambda pair: -pair[0])]
    chosen = _varied(ranked, settings.limit)
    chinese = is_mostly_cjk(question)  # its words are few and jieba's: meaning chose the quotes
    rarest = rarest_terms(topic, rarity, question, each_side=True)  # once: it parses the question

    def speaks_of_it(quotes: Iterable[Candidate]) -> bool:
        return chinese or not rarest or any(rarest & held[id(c)] for c in quotes)

    if not speaks_of_it(chosen):
        # the closest quotes in meaning miss what the question is about: the closest that speaks of it
        # takes the last place ("operating expenses" asked beside segment reporting)
        speaking = next((c for c in ranked if speaks_of_it([c])), None)
        if speaking is not None:
            chosen = _varied([speaking, *chosen[:-1]], settings.limit)
    default = max(rarity.values(), default=1.0)
    weight = {t: rarity.get(t, default) for t in topic}
    covered = set().union(*(held[id(c)] for c in chosen))
    coverage = sum(weight[t] for t in covered) / sum(weight.values())
    if coverage < settings.min_coverage or not speaks_of_it(chosen):
        return None  # "the capital city of Australia": quotes on capital expenditures
    chosen.sort(key=lambda c: c.source.n)  # in the order of the sources
    lead = LEAD["zh"] if chinese else LEAD["en"]
    if chinese and not any(CJK_CHAR.search(c.quote) for c in chosen):
        lead = f"{lead}\n{CROSS_LANGUAGE_NOTE['zh']}"
    lines = [f"- {c.text} [{c.source.n}]" for c in chosen]
    citations = {c.source.n: candidate_citation(c) for c in reversed(chosen)}  # a source's first quote
    return Quoted("\n".join([lead, *lines]), [citations[n] for n in sorted(citations)], round(coverage, 3))


# The last row of a table run into the sentence after it ("Balances, July 30, 2023 46 $ 219.47 As of
# July 30, 2023, there was $9.69 billion of ...", "Total $ 39,626 If our customers ..."): figures,
# one of them an amount (not a date's "March 17, 2022 Amazon acquired ..."), then a capitalised word
_ROW_BEFORE = re.compile(r"^.{0,120}?(?:[$(]?\s?\d[\d,.]*\)?%?\s+)+(?=[A-Z][a-z]+\s)", re.S)
_AMOUNT = re.compile(r"\$|\d\.\d")


def _without_row_before(candidate: Candidate) -> Candidate:
    """The sentence without a table's row run into its start."""
    row = _ROW_BEFORE.match(candidate.quote)
    if not candidate.text.startswith("“") or row is None or not _AMOUNT.search(row.group(0)):
        return candidate
    return requoted(candidate, candidate.quote[row.end() :], candidate.offset + row.end())


def _held(candidate: Candidate, topic: frozenset[str]) -> frozenset[str]:
    """The question's terms the quote holds, in any form of the word ("operating" for "operational")."""
    said = {root(t) for t in content_terms(candidate.quote)}
    return frozenset(t for t in topic if t in candidate.matched or root(t) in said)


def _says_something(candidate: Candidate, risks: bool = False) -> bool:
    """A row with its period, or a whole sentence that states a fact (or, asked about risks, one
    that warns of one)."""
    text, quote = candidate.text, candidate.quote
    if not text.startswith("“"):  # a table row: one with its period, not a heading or contents line
        label = text.split(":", 1)[0]
        dated = bool(_DATED_ROW.search(text))
        contents = _CONTENTS_ROW.match(quote.strip()) is not None or _ENUMERATED.match(label) is not None
        return dated and not contents and "|" not in label
    if _CONTENTS_ROW.match(quote.strip().lstrip("“")) or starts_inside_sentence(candidate):
        return False
    if is_mostly_cjk(quote):
        return len(quote) >= 2 * _MIN_WORDS
    # a sentence ending in a colon leads into a list or table ("... Cash flow hedges:"): not a fact
    ends = _COMPLETE.search(text) is not None and not quote.rstrip().endswith((":", "："))
    complete = ends and _STARTS_SENTENCE.match(text) is not None and not _CONTENTS_LINE.search(quote.rstrip())
    dated = bool(_YEAR.search(quote))
    if points_elsewhere(quote):
        return False
    # "Our global business exposes us to operational and economic risks." names one without hedging
    warns = risks and bool(_HEDGED.search(quote) or _RISKS_ASKED.search(quote))
    factual = warns or (bool(find_figures(quote) or dated) and not _HEDGED.search(quote))
    return len(_WORD.findall(quote)) >= _MIN_WORDS and complete and factual


def _checks_out(candidate: Candidate, pages: dict[str, Passage]) -> bool:
    """Every figure, date and name of the quote as shown is on its pages, as the answer checker
    reads them: a row shows its cells with the table's unit ("12%" where the page prints "12"
    under a first row of percentages), which the page must bear out."""
    text = f"{candidate.source.chunk.header}\n{candidate.where.text}"
    page = pages.get(text)
    if page is None:
        page = pages[text] = Passage(text)
    return not unsupported(facts_of(candidate.text), [page])


def _distinct(candidates: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per quoted text (a row found from two chunks of its page), the best scored;
    none that is part of another's (a sentence cut where a chunk begins, found whole in the chunk
    before)."""
    best: dict[str, Candidate] = {}
    for c in candidates:
        if c.text not in best or c.score > best[c.text].score:
            best[c.text] = c
    quotes = [c.quote.strip("“” ") for c in best.values()]
    return [c for c in best.values() if not any(len(q) > len(c.quote) and c.quote.strip("“” ") in q for q in quotes)]


def _varied(ranked: list[Candidate], limit: int) -> list[Candidate]:
    """The best-ranked quotes, skipping one whose words are mostly in a quote chosen already (the
    same sentence cut at another chunk's edge, or said again)."""
    chosen: list[Candidate] = []
    chosen_words: list[set[str]] = []
    for candidate in ranked:
        words = set(content_terms(candidate.quote))
        if any(len(words & other) > _SAME_WORDS * len(words) for other in chosen_words):
            continue
        chosen.append(candidate)
        chosen_words.append(words)
        if len(chosen) == limit:
            break
    return chosen
