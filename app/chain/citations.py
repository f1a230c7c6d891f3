"""Turn the model's [n] markers into checked citations: document, page, supporting sentence.

Markers ([1], [1, 2], [1][3]) to sources that were not given, or to a source that shares no word
with the sentence carrying the marker, are removed from the text. Each kept citation carries the
source sentence that best supports its claim (word overlap) and that sentence's page. When the
model wrote no usable marker at all, sentences that a source clearly supports get one appended.
"""

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from app.chain.pages import page_of
from app.chain.sentences import Sentence, content_words, split_sentences, support
from app.types import Citation, Source

MARKER = re.compile(r"(?P<lead>[ \t]*)\[\s*(?P<nums>\d+(?:\s*[,;]\s*\d+)*)\s*\]")
# Without markers we attach a source only when it carries most of the sentence's words...
FALLBACK_MIN_SUPPORT = 0.5
FALLBACK_MIN_SHARED = 3  # ...and at least this many of them, so "Revenue was low." cites nothing.
SNIPPET_CHARS = 320


@dataclass(frozen=True)
class Evidence:
    score: float
    sentence: Sentence  # of the source chunk


@dataclass(frozen=True)
class CitedText:
    text: str
    citations: list[Citation]


def marker_numbers(text: str) -> list[int]:
    """Source numbers in order of first appearance."""
    seen: dict[int, None] = {}
    for match in MARKER.finditer(text):
        for number in re.split(r"[,;]", match.group("nums")):
            seen.setdefault(int(number), None)
    return list(seen)


# A "sentence" this long over this many lines is a table as pypdf reads it: its lines are its units.
_TABLE_CHARS, _TABLE_LINES = 300, 3
_FIGURE = re.compile(r"\d")


def _units(text: str) -> Iterator[Sentence]:
    """The sentences of a text, a table's rows for a table: the row a claim or a question names is
    highlighted, not the whole table."""
    for sentence in split_sentences(text):
        if len(sentence.text) <= _TABLE_CHARS or sentence.text.count("\n") < _TABLE_LINES:
            yield sentence
            continue
        offset = sentence.start
        for line in sentence.text.split("\n"):
            if _FIGURE.search(line):  # a row; not the period header over the columns
                yield Sentence(offset, offset + len(line), line)
            offset += len(line) + 1


def best_evidence(source: Source, claim: set[str]) -> Evidence | None:
    best: Evidence | None = None
    for sentence in _units(source.chunk.text):
        score = support(claim, content_words(sentence.text))
        if score > 0 and (best is None or score > best.score):
            best = Evidence(score, sentence)
    return best


def opening(source: Source) -> Evidence:
    """A passage's first sentence, for a citation no sentence of it supports by shared words."""
    text = source.chunk.text
    return Evidence(0.0, next(iter(split_sentences(text)), Sentence(0, len(text), text)))


def _claims(text: str, sentences: list[Sentence]) -> list[set[str]]:
    """Content words of each answer sentence, markers removed; a sentence that is only a marker
    ("... rose. [2]" split oddly) claims what the sentence before it said."""
    claims: list[set[str]] = []
    for sentence in sentences:
        words = content_words(MARKER.sub(" ", sentence.text))
        claims.append(words or (claims[-1] if claims else set()))
    return claims


def cite(text: str, sources: Sequence[Source], checked: bool = False) -> CitedText:
    """`checked`: every marker was already verified (AnswerChecker): keep each one that names a
    given source, citing its best sentence, or its first when none shares a word with the claim."""
    by_n = {s.n: s for s in sources}
    sentences = split_sentences(text)
    claims = _claims(text, sentences)
    evidence: dict[int, Evidence] = {}

    def sentence_index(offset: int) -> int:
        for i, sentence in enumerate(sentences):
            if offset < sentence.end:
                return i
        return len(sentences) - 1

    def rewrite(match: re.Match[str]) -> str:
        claim = claims[sentence_index(match.start("nums"))] if sentences else set()
        kept: list[int] = []
        for number in (int(x) for x in re.split(r"[,;]", match.group("nums"))):
            found = best_evidence(by_n[number], claim) if number in by_n else None
            if found is None and checked and number in by_n:
                found = opening(by_n[number])
            if found is None or number in kept:
                continue
            kept.append(number)
            if number not in evidence or found.score > evidence[number].score:
                evidence[number] = found
        return f"{match.group('lead')}[{', '.join(map(str, kept))}]" if kept else ""

    cited = MARKER.sub(rewrite, text)
    if not evidence:  # no usable marker: offsets moved when markers went, so split again
        kept_sentences = split_sentences(cited)
        cited = _attach_unmarked(cited, kept_sentences, _claims(cited, kept_sentences), sources, evidence)
    citations = [passage_citation(by_n[n], ev) for n, ev in sorted(evidence.items())]
    return CitedText(cited.strip(), citations)


def _attach_unmarked(
    text: str,
    sentences: list[Sentence],
    claims: list[set[str]],
    sources: Sequence[Source],
    evidence: dict[int, Evidence],
) -> str:
    """Append [n] to each sentence that one source clearly supports; record that evidence."""
    inserts: list[tuple[int, int]] = []
    for sentence, claim in zip(sentences, claims, strict=True):
        scored = [(ev, s.n) for s in sources if (ev := best_evidence(s, claim)) is not None]
        if not scored:
            continue
        ev, n = max(scored, key=lambda pair: (pair[0].score, -pair[1]))
        shared = len(claim & content_words(ev.sentence.text))
        if ev.score >= FALLBACK_MIN_SUPPORT and shared >= FALLBACK_MIN_SHARED:
            inserts.append((sentence.end, n))
            if n not in evidence or ev.score > evidence[n].score:
                evidence[n] = ev
    for offset, n in reversed(inserts):
        text = f"{text[:offset]} [{n}]{text[offset:]}"
    return text


def snippet_around(text: str, sentence: Sentence) -> str:
    """The supporting sentence and what follows it, up to about SNIPPET_CHARS, whitespace collapsed."""
    end = sentence.end
    for following in split_sentences(text[sentence.end :]):
        if following.end + sentence.end - sentence.start > SNIPPET_CHARS:
            break
        end = sentence.end + following.end
    passage = " ".join(text[sentence.start : end].split())
    if len(passage) > SNIPPET_CHARS * 2:
        passage = passage[: SNIPPET_CHARS * 2].rsplit(" ", 1)[0] + " …"
    return passage


def passage_citation(source: Source, evidence: Evidence) -> Citation:
    chunk = source.chunk
    return Citation(
        n=source.n,
        document=chunk.file_name,
        document_id=chunk.document_id,
        page=page_of(chunk, evidence.sentence.start),
        snippet=snippet_around(chunk.text, evidence.sentence),
        sentence=" ".join(evidence.sentence.text.split()),
        score=round(evidence.score, 3),
    )
