"""The LCEL answering chain: condense -> retrieve -> relevance gate -> pack -> extract -> model
-> citations -> check.

`prepare` (a runnable sequence) does everything up to the prompt; `generate` (prompt | model |
parser) streams the model's text; `stream()` yields those pieces, then the final Answer. The
streamed pieces are the model's raw text; the Answer's text is what survived checking (every
sentence's figures, dates and names are on a page it cites, and the page carries what it says),
which callers show in place of the stream at the end.

Two ways to combine quoting and generating (ChainSettings.answer_mode):
- "extractive": the row or sentence of the sources that answers the question is quoted, with its
  period and unit; the model is asked only when nothing answers well enough. For small models,
  which phrase poorly and invent figures (the bundled default).
- "generative": the model answers; its checked sentences are shown, and the quoted evidence only
  when none survives. For models that write well (Llama-2-chat).
Either way, when nothing verified is left, an open question ("how have inventories changed?") gets
the rows and sentences that say most about it, quoted (quotes.py); any other is "I could not find
a verified answer" with the most relevant passages.
"""

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable, RunnableLambda

from app.adapters.llm import EngineChatModel
from app.chain.citations import best_evidence, cite, opening, passage_citation
from app.chain.extract import Extracted, Extractor, PageContext, SentenceSimilarity, asks_over_periods
from app.chain.facts import find_figures
from app.chain.packing import pack_sources, render_sources
from app.chain.prompts import (
    ANSWER_SYSTEM,
    ANSWER_USER,
    CONDENSE_SYSTEM,
    CONDENSE_USER,
    NOT_FOUND_PHRASE,
    not_found_text,
    unverified_text,
)
from app.chain.quotes import QuoteSettings, quote_evidence
from app.chain.relevance import OverlapOrSimilarity, RelevanceCheck
from app.chain.sentences import content_words
from app.chain.topic import side_questions
from app.chain.verify import MIN_SUPPORT, AnswerChecker, kept_text
from app.errors import KBError
from app.retrieval.glossary import english_gloss
from app.retrieval.text import content_terms
from app.types import ANSWERED, NOT_FOUND, UNVERIFIED, Answer, CheckedSentence, Citation, RetrievedChunk, Source, Usage
from store.records import UserInfo

# Tokens kept free besides the answer: joining rendered pieces can tokenize a little differently.
PROMPT_MARGIN_TOKENS = 16
CONDENSED_MAX_CHARS = 400
# Asked how a line moved across quarters: this many times the usual passages are searched, so that
# more of the filings that print the line are read (each filing's is one line of the answer)
_OVER_PERIODS_READ = 2


class ChunkRetriever(Protocol):
    def retrieve(self, question: str, actor: UserInfo, k: int = 8, filters: Any = None) -> list[RetrievedChunk]: ...


class JudgedRetrieval(Protocol):
    @property
    def chunks(self) -> list[RetrievedChunk]: ...

    @property
    def relevant(self) -> bool: ...


@runtime_checkable
class JudgingRetriever(Protocol):
    """A retriever whose search also says whether what it found can answer the question, judged
    with what only it has (term rarity over the readable corpus, the filing a question names)."""

    def retrieve(self, question: str, actor: UserInfo, k: int = 8, filters: Any = None) -> list[RetrievedChunk]: ...

    def search(self, question: str, actor: UserInfo, k: int = 8, filters: Any = None) -> JudgedRetrieval: ...


@dataclass(frozen=True)
class ChainSettings:
    k: int = 6  # chunks retrieved
    answer_tokens: int = 384  # room reserved for the answer
    max_prompt_tokens: int | None = None  # cap below the context window (prefill time on CPU)
    history_messages: int = 6  # conversation messages the condenser reads
    condense_tokens: int = 64
    answer_mode: str = "generative"  # or "extractive" (see the module's docstring)
    min_support: float = MIN_SUPPORT  # share of a sentence's words its cited passage must carry
    min_extract_score: float = 0.5  # below it, a quoted row or sentence does not answer
    passages_shown: int = 3  # with "could not find a verified answer"
    quotes: QuoteSettings = field(default_factory=QuoteSettings)  # for an open question (quotes.py)


StageHook = Callable[[str, int], None]  # (stage, passages): "reading" with how many, then "writing"


@dataclass(frozen=True)
class Turn:
    question: str
    actor: UserInfo
    history: tuple[tuple[str, str], ...] = ()  # (role, text), oldest first
    on_stage: StageHook | None = field(default=None, compare=False)  # a page says what is happening


@dataclass
class Prepared:
    turn: Turn
    standalone: str = ""
    retrieved: list[RetrievedChunk] = field(default_factory=list)
    relevant: bool = False
    rarity: dict[str, float] = field(default_factory=dict)  # of the question's terms, from retrieval
    sources: list[Source] = field(default_factory=list)
    # Retrieved but not in the prompt (no room): the extractor still reads them, numbered on.
    unpacked: list[Source] = field(default_factory=list)
    # Found by wider searches, never in the prompt: asked across quarters, the line in more filings
    # (for the extractor); asked of two things side by side, the passages on each (for the quotes).
    wider: list[RetrievedChunk] = field(default_factory=list)
    sides: list[RetrievedChunk] = field(default_factory=list)
    # Under the note or item headings the question names ("Acquisitions and Divestitures"): for the
    # quotes, where the passages found give none (the forward-looking statements share every word of
    # a question on acquisitions, and state nothing).
    sections: list[RetrievedChunk] = field(default_factory=list)
    messages: list[BaseMessage] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)


# Words that point back into the conversation ("its sales", "what about them", "那它呢").
_REFERRING = re.compile(
    r"\b(?:it|its|they|them|their|this|that|these|those|he|she|his|her|there|same|also|too|and|else)\b"
    r"|^\s*(?:what|how)\s+about\b|[它他她其该此这那]",
    re.IGNORECASE,
)


def refers_back(question: str) -> bool:
    """Does the question lean on the conversation? One that names what it asks about ("Who is
    Intel's CEO?") stands alone: rewriting it with a small model only adds noise."""
    return bool(_REFERRING.search(question)) or len(content_terms(question)) < 2


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


class AnswerChain:
    def __init__(
        self,
        llm: EngineChatModel,
        retriever: ChunkRetriever,
        relevance: RelevanceCheck | None = None,
        settings: ChainSettings = ChainSettings(),
        extractor: Extractor | None = None,
    ) -> None:
        """`relevance` None: a JudgingRetriever's own verdict decides (the calibrated one `kb eval`
        measures); a retriever that only retrieves is judged by OverlapOrSimilarity."""
        self.llm = llm
        self.retriever = retriever
        self.relevance = relevance
        self.settings = settings
        context: PageContext | None = getattr(retriever, "page_context", None)
        similarity: SentenceSimilarity | None = getattr(retriever, "sentence_similarity", None)
        self.extractor = extractor or Extractor(context, min_score=settings.min_extract_score, similarity=similarity)
        self.answer_prompt = ChatPromptTemplate.from_messages([("system", ANSWER_SYSTEM), ("human", ANSWER_USER)])
        condense_prompt = ChatPromptTemplate.from_messages([("system", CONDENSE_SYSTEM), ("human", CONDENSE_USER)])
        self.condense: Runnable[dict[str, str], str] = (
            condense_prompt | llm.bind(max_tokens=settings.condense_tokens) | StrOutputParser()
        )
        self.prepare: Runnable[Turn, Prepared] = (
            RunnableLambda(self._condensed) | RunnableLambda(self._retrieved) | RunnableLambda(self._packed)
        )
        # Message chunks, not strings: the last one carries token counts and the finish reason.
        self.generate: Runnable[Prepared, BaseMessage] = RunnableLambda(lambda p: p.messages) | llm.bind(
            max_tokens=settings.answer_tokens
        )

    # ---- steps --------------------------------------------------------------------------

    def _condensed(self, turn: Turn) -> Prepared:
        prepared = Prepared(turn, standalone=turn.question)
        if not turn.history or not refers_back(turn.question):  # already standalone
            return prepared
        start = time.perf_counter()
        recent = turn.history[-self.settings.history_messages :]
        history = "\n".join(f"{role}: {text}" for role, text in recent)
        rewritten = self.condense.invoke({"history": history, "question": turn.question})
        line = next((x.strip().strip('"') for x in rewritten.splitlines() if x.strip()), "")
        # The small model sometimes rambles, says nothing, or swaps the question for an earlier
        # one ("Who is Intel's CEO?" after Apple's sales became a question about Apple): a rewrite
        # must keep every content word the question has, adding only what the history supplies.
        own = set(content_terms(turn.question))
        if line and len(line) <= CONDENSED_MAX_CHARS and own <= set(content_terms(line)):
            prepared.standalone = line
        prepared.timings_ms["condense_ms"] = _ms(start)
        return prepared

    def _retrieved(self, prepared: Prepared) -> Prepared:
        start = time.perf_counter()
        question, actor, k = prepared.standalone, prepared.turn.actor, self.settings.k
        if self.relevance is None and isinstance(self.retriever, JudgingRetriever):
            found = self.retriever.search(question, actor, k=k)
            prepared.retrieved = list(found.chunks)
            prepared.relevant = bool(prepared.retrieved) and found.relevant
            prepared.rarity = dict(getattr(found, "rarity", {}))
            sections = list(getattr(found, "sections", []))
        else:
            sections = []
            prepared.retrieved = self.retriever.retrieve(question, actor, k=k)
            check = self.relevance or OverlapOrSimilarity()
            prepared.relevant = bool(prepared.retrieved) and check(question, prepared.retrieved)
        if prepared.relevant:
            have = {r.chunk.id for r in prepared.retrieved}
            if asks_over_periods(question):
                # the line asked about, as more of the filings print it, read after the passages found
                prepared.wider = self._more(question, actor, k * _OVER_PERIODS_READ, have)
            for side in side_questions(question):
                # a search for two things at once brings up the pages on the one the index weighs
                # more ("operating expenses" against "earnings" finds no income statement)
                prepared.sides += self._more(side, actor, k, have)
            prepared.sections = [r for r in sections if r.chunk.id not in have]
        prepared.timings_ms["retrieve_ms"] = _ms(start)
        return prepared

    def _more(self, query: str, actor: UserInfo, k: int, have: set[int]) -> list[RetrievedChunk]:
        """What a search finds besides the passages in `have` (which it joins)."""
        found = [r for r in self.retriever.retrieve(query, actor, k=k) if r.chunk.id not in have]
        have.update(r.chunk.id for r in found)
        return found

    def _packed(self, prepared: Prepared) -> Prepared:
        if not prepared.relevant:
            return prepared
        start = time.perf_counter()
        window = self.llm.context_window
        if self.settings.max_prompt_tokens:
            window = min(window, self.settings.max_prompt_tokens + self.settings.answer_tokens)
        limit = window - self.settings.answer_tokens - PROMPT_MARGIN_TOKENS
        base = self.llm.prompt_tokens(self._messages(prepared.standalone, []))
        if base > limit:
            raise KBError("The question is too long for the model's context window; please shorten it.")
        sources = pack_sources(prepared.retrieved, limit - base, self._count, self.llm.specials)
        messages = self._messages(prepared.standalone, sources)
        while sources and self.llm.prompt_tokens(messages) > limit:  # the exact count decides
            sources = sources[:-1]
            messages = self._messages(prepared.standalone, sources)
        prepared.sources, prepared.messages = sources, messages
        prepared.unpacked = [
            Source(len(sources) + i + 1, item)
            for i, item in enumerate(
                prepared.retrieved[len(sources) :] + prepared.wider + prepared.sides + prepared.sections
            )
        ]
        prepared.relevant = bool(sources)
        prepared.timings_ms["pack_ms"] = _ms(start)
        return prepared

    def _messages(self, question: str, sources: Sequence[Source]) -> list[BaseMessage]:
        return self.answer_prompt.format_messages(
            sources=render_sources(sources, self.llm.specials) or "(none)", question=question
        )

    def _count(self, text: str) -> int:
        """Tokens `text` adds to the prompt (the template's own tokens are counted in `base`)."""
        return max(self.llm.prompt_tokens([HumanMessage(text)]) - self._empty_message_tokens, 0)

    @cached_property
    def _empty_message_tokens(self) -> int:
        return self.llm.prompt_tokens([HumanMessage("")])

    # ---- running ------------------------------------------------------------------------

    def stream(self, turn: Turn) -> Iterator[str | Answer]:
        """Text pieces as the model writes them (or the quoted evidence), then one Answer."""
        start = time.perf_counter()
        prepared = self.prepare.invoke(turn)
        if not prepared.relevant:
            yield not_found_text(turn.question)
            yield _not_found(turn.question, {**prepared.timings_ms, "total_ms": _ms(start)})
            return
        if turn.on_stage is not None:
            turn.on_stage("reading", len(prepared.sources))
        extract_start = time.perf_counter()
        extracted = self.extractor.extract(prepared.standalone, prepared.sources + prepared.unpacked, prepared.rarity)
        prepared.timings_ms["extract_ms"] = _ms(extract_start)
        if extracted is not None and self.settings.answer_mode == "extractive":
            prepared.timings_ms["ttft_ms"] = _ms(start)
            yield extracted.text
            answer = _extractive(extracted, prepared, [])
            answer.timings_ms["total_ms"] = _ms(start)
            yield answer
            return
        if turn.on_stage is not None:
            turn.on_stage("writing", len(prepared.sources))
        generate_start = time.perf_counter()
        pieces: list[str] = []
        info: dict[str, Any] = {}
        for chunk in self.generate.stream(prepared):
            info = chunk.response_metadata or info
            piece = chunk.text
            if not piece:
                continue
            if not pieces:
                prepared.timings_ms["ttft_ms"] = _ms(start)
            pieces.append(piece)
            yield piece
        prepared.timings_ms["generate_ms"] = _ms(generate_start)
        cut_off = info.get("finish_reason") == "length"
        answer = self.finish("".join(pieces), prepared, extracted, cut_off=cut_off)
        answer.timings_ms["total_ms"] = _ms(start)
        answer.usage = Usage(int(info.get("prompt_tokens", 0)), int(info.get("completion_tokens", 0)))
        answer.finish_reason = str(info.get("finish_reason", "stop"))
        yield answer

    def invoke(self, turn: Turn) -> Answer:
        final = None
        for item in self.stream(turn):
            final = item
        assert isinstance(final, Answer)
        return final

    def finish(
        self, text: str, prepared: Prepared, extracted: Extracted | None = None, cut_off: bool = False
    ) -> Answer:
        """Keep the model's sentences that its cited sources hold; else the quoted evidence; else
        say that nothing could be verified and show the passages."""
        check_start = time.perf_counter()
        cited = cite(text.strip(), prepared.sources)
        refused = NOT_FOUND_PHRASE in cited.text.lower() and not cited.citations
        checked = (
            []
            if refused
            else AnswerChecker(prepared.sources, self.settings.min_support).check(
                cited.text, prepared.standalone, cut_off, prepared.rarity
            )
        )
        if extracted is not None:
            checked = _agreeing(checked, extracted)
        prepared.timings_ms["check_ms"] = _ms(check_start)
        kept = kept_text(checked)
        if kept:
            final = cite(kept, prepared.sources, checked=True)
            text, citations = final.text, final.citations
            if extracted is not None and not _mentions(text, extracted):
                # The model's words, and the figure from the quoted row: it is not trusted for figures.
                text = f"{extracted.text}\n{text}"
                citations = sorted({c.n: c for c in [*extracted.citations, *citations]}.values(), key=lambda c: c.n)
            return _answer(prepared, text, citations, checked)
        if refused:  # the model read the sources and found nothing: a quote would answer another question
            return _not_found(prepared.turn.question, dict(prepared.timings_ms))
        if extracted is not None:
            return _extractive(extracted, prepared, checked)
        sides = {r.chunk.id for r in prepared.sides}
        read = prepared.sources[: self.extractor.sources_read] + [s for s in prepared.unpacked if s.chunk.id in sides]
        quoted = quote_evidence(self.extractor, prepared.standalone, read, prepared.rarity, self.settings.quotes)
        if quoted is None and prepared.sections:
            under = {r.chunk.id for r in prepared.sections}
            read += [s for s in prepared.unpacked if s.chunk.id in under]
            quoted = quote_evidence(self.extractor, prepared.standalone, read, prepared.rarity, self.settings.quotes)
        if quoted is not None:
            return _answer(prepared, quoted.text, quoted.citations, checked, method="extractive")
        return self._unverified(prepared, checked)

    def _unverified(self, prepared: Prepared, checked: list[CheckedSentence]) -> Answer:
        """The passages most likely to hold the answer, each with its best sentence highlighted."""
        # A Chinese question's words are matched in English too (an English page shares none).
        asked = content_words(f"{prepared.standalone} {english_gloss(prepared.standalone)}")
        asked = {w for w in asked if not w.isdigit()} or asked  # its years are in every table's header
        passages = []
        for source in prepared.sources[: self.settings.passages_shown]:
            # the page's running header ("Apple Inc. | Q3 2023 Form 10-Q | 1") holds the company and
            # quarter asked about, and says nothing: the words naming the document do not count
            naming = content_words(f"{source.chunk.header} {source.chunk.file_name}")
            evidence = best_evidence(source, (asked - naming) or asked) or opening(source)
            passages.append(passage_citation(source, evidence))
        text = unverified_text(prepared.turn.question)
        return _answer(prepared, text, passages, checked, found=False, outcome=UNVERIFIED, method="")


def _agreeing(checked: list[CheckedSentence], extracted: Extracted) -> list[CheckedSentence]:
    """A generated sentence whose figures all differ from the quoted row's is dropped: the row is
    printed in the document; the model's figure may be of another line (foreign cash, say)."""
    quoted = find_figures(extracted.citation.sentence) + find_figures(extracted.text)
    if not quoted:
        return checked
    kept = []
    for sentence in checked:
        figures = find_figures(sentence.text)
        if sentence.verified and figures and not any(f.matches(q) or q.matches(f) for f in figures for q in quoted):
            reason = f"its figure differs from the quoted row ({extracted.citation.sentence})"
            sentence = replace(sentence, verified=False, reason=reason)
        kept.append(sentence)
    return kept


def _mentions(text: str, extracted: Extracted) -> bool:
    """Does the text already state the quoted row's figure?"""
    quoted = find_figures(extracted.text)[:1]
    return any(q.matches(f) or f.matches(q) for q in quoted for f in find_figures(text)) if quoted else True


def _not_found(question: str, timings_ms: dict[str, float]) -> Answer:
    return Answer(not_found_text(question), found=False, timings_ms=timings_ms, outcome=NOT_FOUND, method="")


def _extractive(extracted: Extracted, prepared: Prepared, checked: list[CheckedSentence]) -> Answer:
    return _answer(prepared, extracted.text, extracted.citations, checked, method="extractive")


def _answer(
    prepared: Prepared,
    text: str,
    citations: list[Citation],
    checked: list[CheckedSentence],
    *,
    found: bool = True,
    outcome: str = ANSWERED,
    method: str = "generated",
) -> Answer:
    return Answer(
        text,
        found=found,
        citations=citations,
        sources=_shown_sources(prepared, citations),
        timings_ms=dict(prepared.timings_ms),
        outcome=outcome,
        method=method,
        checked=checked,
    )


def _shown_sources(prepared: Prepared, citations: list[Citation]) -> list[Source]:
    """The prompt's sources, and any source the extractor quoted from beyond them."""
    cited = {c.n for c in citations}
    return list(prepared.sources) + [s for s in prepared.unpacked if s.n in cited]
