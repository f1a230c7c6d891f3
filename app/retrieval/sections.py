"""The sections of a report, by their headings, and the questions that name one.

"Has Intel reported any significant business acquisitions or divestitures?" is answered under
"Note 8 : Acquisitions and Divestitures", yet the pages that rank first for it are the forward-looking
statements, whose list of topics ("expected timing and impact of acquisitions, divestitures, and other
significant transactions") holds every word of the question and states nothing. A filing names what
each part of it is about in its note and item headings ("Note 6 – Debt", "Item 1A. Risk Factors",
"NOTE 6 — INVENTORIES"): the chunks under a heading whose words the question uses are a ranked list of
their own. A chunk belongs to the section it starts in and to those whose headings it holds.

A title's words are weighed by their rarity: "Income Taxes" is named by a question on the tax rate
(the rarer word), not by one on net income. Words that head every report's parts ("Financial
Statements", "Management's Discussion and Analysis", "Other Information") name no section.
"""

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from app.retrieval.text import content_terms
from store.records import StoredChunk

# "Note 8 : Acquisitions and Divestitures", "NOTE 6 — INVENTORIES", "Note 2 - Business Combination",
# "Item 1A. Risk Factors", "ITEM 1. LEGAL PROCEEDINGS": a line of its own
_HEADING = re.compile(
    r"^[ \t]*(?:note[ \t]+\d{1,2}[ \t]*[:.—–-]|item[ \t]+\d[ab]?\.)[ \t]*(?P<title>[A-Za-z][^\n]{2,120}?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
# Intel heads its MD&A's pages with its name alone, no item number: the notes end there.
_MDA = re.compile(r"^[ \t]*Management['’]s\s+Discussion\s+and\s+Analysis[ \t]*$", re.IGNORECASE | re.MULTILINE)
# A contents line ends in its page ("Item 1A. Risk Factors 20", "Pages 4 - 22", "Not applicable")
_CONTENTS_LINE = re.compile(r"(?:\d|\bnot\s+applicable)\s*$", re.IGNORECASE)
# A heading inside a note: a short line of capitalised words between a sentence's end and the next
# sentence ("...contractual term.\nAcquisition Activity\nOn February 22, 2023, we acquired ...");
# a table's labels sit among figures.
_TITLE_WORD = r"(?:[A-Z][A-Za-z’'&-]*|of|and|the|for|in|on|to|with|&)"
_SUBHEADING = re.compile(rf"(?<=[.:]\n)(?P<title>[A-Z][A-Za-z’'&-]*(?: {_TITLE_WORD}){{0,6}})\n(?=[A-Z“(])")
# A table's column heads and the running line over every page
_NOT_A_HEADING = re.compile(r"\bMonths\s+Ended\b|\bTable\s+of\s+Contents\b|^Number\s+of\b", re.IGNORECASE)
# A chunk with this many headings is a table of contents, and belongs to no section.
_CONTENTS_HEADINGS = 4
# Words of the headings every report has, which say nothing of what a section is about.
GENERIC_TITLE_WORDS = frozenset(
    content_terms(
        """financial statements information other net summary significant condensed consolidated
        details data supplemental disclosures components management discussion analysis condition
        results operations part unaudited basis presentation notes general"""
    )
)
MIN_TITLE_SHARE = 0.5  # of a title's word weight the question must use


@dataclass(frozen=True)
class Heading:
    offset: int
    title: str
    level: int  # 1: a note or item; 2: a heading inside one ("Acquisition Activity")


def headings(text: str) -> list[Heading]:
    """The headings a chunk's text holds, in order, or none for a table of contents."""
    found = [
        Heading(m.start(), m.group("title").strip(), 1)
        for m in _HEADING.finditer(text)
        if not _CONTENTS_LINE.search(m.group(0))
    ]
    found += [Heading(m.start(), m.group(0).strip(), 1) for m in _MDA.finditer(text)]
    if len(found) >= _CONTENTS_HEADINGS:
        return []
    found += [
        Heading(m.start(), m.group("title"), 2)
        for m in _SUBHEADING.finditer(text)
        if not _NOT_A_HEADING.search(m.group("title"))
    ]
    return sorted(found, key=lambda h: h.offset)


def title_terms(title: str) -> frozenset[str]:
    return frozenset(t for t in content_terms(title) if t not in GENERIC_TITLE_WORDS)


class SectionFinder:
    """Fed every chunk once (in any order), says which chunks lie in each titled section."""

    def __init__(self) -> None:
        self._chunks: dict[int, list[tuple[int, int, list[Heading]]]] = defaultdict(list)

    def add(self, chunk: StoredChunk) -> None:
        self._chunks[chunk.document_id].append((chunk.ordinal, chunk.id, headings(chunk.text)))

    def chunks_by_title(self) -> dict[frozenset[str], list[int]]:
        """Chunk ids under each title's words (titles with no telling word left out): those a chunk
        starts in, and those it holds."""
        found: dict[frozenset[str], list[int]] = defaultdict(list)
        for chunks in self._chunks.values():
            section: frozenset[str] = frozenset()
            part: frozenset[str] = frozenset()  # the heading inside the section
            for _, chunk_id, held in sorted(chunks, key=lambda c: c[0]):
                titles = {section, part}
                for heading in held:
                    words = title_terms(heading.title)
                    titles.add(words)
                    if heading.level == 1:
                        section, part = words, frozenset()
                    else:
                        part = words
                for words in titles:
                    if words:
                        found[words].append(chunk_id)
        return dict(found)


def sections_named(
    terms: Iterable[str], titles: Iterable[frozenset[str]], weight: Callable[[str], float]
) -> list[frozenset[str]]:
    """The titles whose words the question's terms name, by `weight` (a word's rarity), best first."""
    asked = set(terms)
    named: list[tuple[float, frozenset[str]]] = []
    for title in titles:
        total = sum(weight(t) for t in title)
        share = sum(weight(t) for t in title & asked) / total if total else 0.0
        if share >= MIN_TITLE_SHARE:
            named.append((share, title))
    return [title for _, title in sorted(named, key=lambda pair: (-pair[0], sorted(pair[1])))]
