"""Hybrid retrieval: dense (FAISS) + keyword (BM25), fused by weighted reciprocal rank, boosted
by document metadata named in the question, near-duplicates suppressed.

Both searches are restricted to the chunks the asking user may read before anything is ranked:
the allowed ids go into the FAISS search itself and mask the BM25 statistics and scores.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import zip_longest

import numpy as np
import numpy.typing as npt

from app.retrieval.acronym_defs import spelt_out_terms
from app.retrieval.bm25 import BM25Params, IdArray, idf
from app.retrieval.brands import brands_company
from app.retrieval.changes import asks_for_change
from app.retrieval.commands import asks_for_code
from app.retrieval.corpus import Corpus, CorpusCache
from app.retrieval.cover import asks_for_period_end, asks_for_shares_outstanding
from app.retrieval.dedupe import suppress_near_duplicates
from app.retrieval.fusion import RankedList, reciprocal_rank_fusion
from app.retrieval.glossary import acronyms, english_gloss, expanded_terms, glossed
from app.retrieval.metadata import (
    DocumentFacts,
    MatchWeights,
    MetadataFilter,
    QueryHints,
    company_named,
    match_documents,
    names_fit,
)
from app.retrieval.registrant import asks_for_registrant_fact
from app.retrieval.relevance import (
    BARE_RELEVANCE_MODEL,
    CJK_RELEVANCE_MODEL,
    RELEVANCE_MODEL,
    RelevanceFeatures,
    RelevanceModel,
    features,
    judged_sentences,
    owner_absent,
    unknown_latin_words,
    unknown_names,
)
from app.retrieval.roles import asks_for_signer
from app.retrieval.sections import sections_named
from app.retrieval.segments import NOT_AN_ITEM, asks_for_revenue, asks_for_segment_results, names_a_branded_line
from app.retrieval.statements import statements_asked
from app.retrieval.text import CJK_CHAR, content_terms, is_mostly_cjk, split_guess
from app.settings import Settings
from app.types import RetrievedChunk
from ingestion.index import VectorIndex
from ingestion.service import KnowledgeBase
from store.records import PageText, StoredChunk, UserInfo, embedding_text


@dataclass(frozen=True)
class RetrievalConfig:
    """Defaults tuned on the eval sets (2026-11-23, doc recall@5 / page recall@5):
    - CMRC2018, e5, 88 of 848 contexts ingested, 315 questions: dense 0.987, BM25 0.997, RRF 1:1
      0.994, RRF 1:0.5 0.994, RRF 1:1 + metadata 0.997 (recall@10 1.000).
    - sec-10-q, all 20 filings on a HashingEmbedder store (e5 ingest unfinished), 195 questions:
      dense 0.569, BM25 0.631, RRF 1:1 0.682, RRF 1:0.5 0.626, + metadata boost only 0.995,
      + boost + scope 1.000 (recall@1 0.297 -> 1.000).
    - FinanceBench, 15 of 40 PDFs (31 questions), HashingEmbedder: RRF 1:1 0.774 / 0.419,
      + metadata 0.936 / 0.484 (doc recall@10 0.968 -> 1.000), BM25 + metadata 0.936 / 0.645.
    - FinanceBench, 15 of 40 PDFs (31 questions), e5: dense 0.903 / 0.548, BM25 0.871 / 0.516,
      RRF 1:1 0.968 / 0.516, RRF 1:1 + metadata (the default) 0.968 / 0.613, RRF 0.5:1 + metadata
      the same, BM25 + metadata 0.903 / 0.613.
    - FinanceBench, all 40 PDFs (92 questions), e5, RRF 1:1 + metadata: 0.946 / 0.413; + the
      statement list (statements.py) at weight 1 / 3 / 5 / 8: page recall@5 0.446 / 0.565 / 0.652 /
      0.652 (one chunk per page, two pages per statement; one page 0.576, three 0.663); + company
      short forms (AMEX, JnJ) 0.957 / 0.674. sec-10-q and refusal figures unchanged.
    Equal weights never lost to 1:0.5; metadata helped on every set."""

    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    rrf_k: float = 60.0
    candidates_factor: int = 4  # each search fetches k * this for fusion
    metadata_boost: float = 0.02  # added to the fused score times the document's match (0..1); > 1/(rrf_k+1)
    scope_weight: float = 1.0  # extra dense + keyword lists inside the best-matching documents
    statement_weight: float = 5.0  # a list of the statement pages a question asks about (statements.py)
    statement_pages: int = 2  # pages per statement in that list
    # The chunks under the note or item headings a question names (sections.py), fused at this weight:
    # 0, as sec-10-q dev answered 0.923 without, 0.912 at 3 and 0.901 at 5 (notes' headings and
    # cross-references displaced rows and sentences that answered). They are handed to the quotes
    # instead (RetrievalResult.sections), which read them only where the passages found gave none.
    section_weight: float = 0.0
    section_reads: int = 6  # of those chunks, handed on
    bm25: BM25Params = field(default_factory=BM25Params)
    match: MatchWeights = field(default_factory=MatchWeights)
    relevance: RelevanceModel = RELEVANCE_MODEL
    relevance_cjk: RelevanceModel = CJK_RELEVANCE_MODEL  # for questions written in Chinese

    def relevance_for(self, question: str) -> RelevanceModel:
        return self.relevance_cjk if is_mostly_cjk(question) else self.relevance


@dataclass(frozen=True)
class Query:
    """The question as every stage reads it."""

    question: str
    actor: UserInfo
    k: int
    terms: tuple[str, ...]  # content terms, with English for Chinese words and abbreviations
    hints: QueryHints  # the company, period and kind of document it names
    gloss: str  # a Chinese question's vocabulary in English ("" otherwise)

    @classmethod
    def parse(cls, question: str, actor: UserInfo, k: int) -> "Query":
        gloss = english_gloss(question) if is_mostly_cjk(question) else ""
        hints = QueryHints.parse(glossed(question, gloss))
        return cls(question, actor, k, tuple(expanded_terms(question)), hints, gloss)


@dataclass(frozen=True)
class Scope:
    """What the asking user may read, narrowed by filters, and which documents the question names."""

    corpus: Corpus
    allowed: IdArray  # readable chunk ids
    mask: npt.NDArray[np.bool_]  # the same, over the keyword index
    match: dict[int, float]  # document id -> metadata match with the question (0..1)
    scoped: IdArray  # chunks of the best-matching documents (allowed, when none is named)
    hints: QueryHints  # the query's, with the company that a brand it names belongs to
    documents: frozenset[int] = frozenset()  # ids of the documents `allowed` holds chunks of


def _with_acronyms_spelt_out(query: Query, scope: Scope) -> Query:
    """The query with the long form of each acronym it uses as a readable document defines it
    ("NEX": "network and edge"), which the table answering it may alone print."""
    if not acronyms(query.question):  # most questions: nothing to look up
        return query
    definitions = [scope.corpus.acronyms[d] for d in scope.documents if d in scope.corpus.acronyms]
    extra = spelt_out_terms(query.question, definitions)
    return replace(query, terms=tuple(dict.fromkeys([*query.terms, *extra]))) if extra else query


@dataclass(frozen=True)
class Candidates:
    lists: list[RankedList]  # to fuse
    dense: dict[int, float]  # chunk id -> cosine similarity
    keyword: dict[int, float]  # chunk id -> BM25 score
    index: VectorIndex  # the vector index as this search read it
    sections: list[tuple[int, float]] = field(default_factory=list)  # under the headings the question names


@dataclass(frozen=True)
class RetrievalResult:
    question: str
    chunks: list[RetrievedChunk]
    terms: tuple[str, ...]  # the question's content terms, as searched
    document_match: dict[int, float]  # document id -> metadata match with the question (0..1)
    features: RelevanceFeatures
    probability: float  # that the knowledge base holds the answer
    relevant: bool
    timings_ms: dict[str, float]
    # How rare each term is among the chunks the user may read (BM25's IDF); a term none holds
    # weighs as one only a single chunk holds: a question about it is about something absent.
    rarity: dict[str, float] = field(default_factory=dict)
    # Not among `chunks`: those under the note or item headings the question names, best first
    sections: list[RetrievedChunk] = field(default_factory=list)


class Retriever:
    """One per knowledge base; thread-safe; caches the keyword index and recent query vectors."""

    def __init__(self, kb: KnowledgeBase, config: RetrievalConfig = RetrievalConfig()) -> None:
        self.kb = kb
        self.config = config
        self.corpus = CorpusCache(kb, config.bm25)
        self._vectors: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._vectors_lock = threading.Lock()

    def retrieve(
        self, question: str, actor: UserInfo, k: int = 8, filters: MetadataFilter | None = None
    ) -> list[RetrievedChunk]:
        return self._search(question, actor, k, filters, sections=False).chunks

    def search(
        self, question: str, actor: UserInfo, k: int = 8, filters: MetadataFilter | None = None
    ) -> RetrievalResult:
        """The stages, each a method with one job: query -> scope -> candidates -> fusion ->
        selection -> gate. A stage can be swapped or added (a reranker between selection and the
        gate) without touching the others."""
        return self._search(question, actor, k, filters, sections=True)

    def _search(
        self, question: str, actor: UserInfo, k: int, filters: MetadataFilter | None, sections: bool
    ) -> RetrievalResult:
        """sections: find the chunks under the headings the question names too (for the quotes of
        a chain's search; the wider searches that only take chunks have no use for them)."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        query = Query.parse(question, actor, k)
        scope = self._scope(query, filters)
        query = _without_guessed_words(replace(query, hints=scope.hints), scope)
        query = _with_acronyms_spelt_out(query, scope)
        timings["prepare_ms"] = _ms(started)
        if scope.allowed.size == 0:
            return self._result(query, [], scope, timings)
        t = time.perf_counter()
        vector = self._embed(question) if self.config.dense_weight > 0 else None
        timings["embed_ms"] = _ms(t)
        t = time.perf_counter()
        candidates = self._candidates(query, scope, vector, sections)
        timings["search_ms"] = _ms(t)
        t = time.perf_counter()
        fused = self._fused(candidates, scope)
        chunks = self._with_similarity(self._selected(fused, candidates, k), vector, candidates.index)
        timings["fuse_ms"] = _ms(t)
        timings["total_ms"] = _ms(started)
        result = self._result(query, chunks, scope, timings)
        return replace(result, sections=self._sections(candidates, chunks)) if sections else result

    # ---- stages -------------------------------------------------------------------------

    def _chunk_texts(self, chunk_ids: list[int]) -> list[str]:
        return [chunk.text for chunk in self.kb.reads.get_chunks(chunk_ids).values()]

    def _with_brands_company(
        self, query: Query, corpus: Corpus, mask: npt.NDArray[np.bool_], visible: dict[int, DocumentFacts]
    ) -> QueryHints:
        """The query's hints with the company whose brand it names, if any; none beside a name no
        readable chunk holds ("the Eiffel Tower" is not Intel's, for all Tower Semiconductor)."""
        frequency = partial(corpus.bm25.document_frequency, mask=mask)
        cjk = is_mostly_cjk(query.question)
        if any(cjk or w != w.lower() for w in unknown_latin_words(query.question, frequency)):
            return query.hints
        brand = brands_company(query.question, query.terms, corpus, mask, visible, self._chunk_texts)
        return replace(query.hints, words=query.hints.words | frozenset(brand))

    def _scope(self, query: Query, filters: MetadataFilter | None) -> Scope:
        """What the asking user may read (one SQL snapshot for every search), narrowed by filters,
        and how well each visible document matches what the question names."""
        allowed = self.kb.reads.readable_chunk_ids(query.actor)
        corpus = self.corpus.get(allowed)
        if filters is not None:
            accepted = {i for i, facts in corpus.documents.items() if filters.accepts(facts)}
            allowed = allowed[np.isin(allowed, corpus.chunks_of(accepted))]
        mask = corpus.bm25.allowed_mask(allowed)
        match: dict[int, float] = {}
        hints = query.hints
        visible: dict[int, DocumentFacts] = {}
        if allowed.size:
            visible = {d: corpus.documents[d] for d in corpus.documents_of(allowed)}
            if not company_named(hints, visible.values()):  # "Xbox": Microsoft
                hints = self._with_brands_company(query, corpus, mask, visible)
            match = match_documents(hints, list(visible.values()), self.config.match)
        best = max(match.values(), default=0.0)
        # The chunks of the documents the question names best (all readable ones where it names none).
        named = {d for d, s in match.items() if s == best} if best > 0 else set()
        scoped = allowed[np.isin(allowed, corpus.chunks_of(named))] if named else allowed
        return Scope(corpus, allowed, mask, match, scoped, hints, frozenset(visible))

    def _candidates(
        self, query: Query, scope: Scope, vector: npt.NDArray[np.float32] | None, sections: bool = True
    ) -> Candidates:
        """Ranked lists to fuse: dense and keyword over everything readable, again inside the
        named documents, the pages of the financial statements the question asks about, and the
        signed pages for a question about who holds a role (roles.py), the cover pages for one about
        the shares outstanding or the end of the period reported on (cover.py) or a fact of the
        registrant's it states (its exchange, state of incorporation: registrant.py), the tables of segment
        results for one that names a segment (segments.py)."""
        cfg, corpus, allowed, mask = self.config, scope.corpus, scope.allowed, scope.mask
        n = max(query.k * cfg.candidates_factor, query.k)
        index = self.kb.reads.index_for(allowed)  # as search_vector: the ids SQL allows are in the index
        dense = index.search(vector, n, allowed) if vector is not None else []
        keyword = corpus.bm25.search(query.terms, mask, n)
        lists = [RankedList(dense, cfg.dense_weight), RankedList(keyword, cfg.keyword_weight)]
        scoped = scope.scoped
        if cfg.scope_weight > 0 and 0 < scoped.size < allowed.size:
            scoped_dense = index.search(vector, n, scoped) if vector is not None else []
            scoped_keyword = corpus.bm25.search(query.terms, mask & corpus.bm25.allowed_mask(scoped), n)
            dense += scoped_dense
            keyword += scoped_keyword
            lists += [
                RankedList(scoped_dense, cfg.dense_weight * cfg.scope_weight),
                RankedList(scoped_keyword, cfg.keyword_weight * cfg.scope_weight),
            ]
        if cfg.statement_weight > 0:
            asked = f"{query.question} {query.gloss}" if query.gloss else query.question
            statement_hits = self._statement_hits(asked, query.terms, corpus, scoped, mask)
            lists.append(RankedList(statement_hits, cfg.statement_weight))
            marked_lists = (
                (corpus.signed_chunks, asks_for_signer),
                (corpus.cover_chunks, asks_for_shares_outstanding),
                (corpus.period_chunks, asks_for_period_end),
                (corpus.registrant_chunks, asks_for_registrant_fact),
                (corpus.segment_chunks, asks_for_segment_results),
            )
            for marked, asks in marked_lists:
                if asks(asked):
                    readable = marked[np.isin(marked, scoped)]
                    hits = corpus.bm25.search(query.terms, mask & corpus.bm25.allowed_mask(readable), readable.size)
                    lists.append(RankedList(_one_per_page(hits, self.kb, cfg.statement_pages), cfg.statement_weight))
            if asks_for_revenue(asked):
                # a line's revenue is a row of a breakdown, or of the segments' results ("客户端计算（CCG）
                # 收入" asks for Intel's segment table without saying "segment")
                tables = (
                    corpus.breakdown_change_chunks
                    if asks_for_change(asked)
                    else np.union1d(corpus.breakdown_chunks, corpus.segment_chunks)
                )
                hits = self._breakdown_hits(query.question, query.terms, corpus, tables, scoped, mask)
                lists.append(RankedList(hits, cfg.statement_weight))
        under: list[tuple[int, float]] = []
        if sections or cfg.section_weight > 0:
            under = self._section_hits(query.terms, corpus, scoped, mask)
        if cfg.section_weight > 0:
            lists.append(RankedList(under, cfg.section_weight))
        return Candidates(lists, dict(dense), dict(keyword), index, under)

    def _sections(self, candidates: Candidates, chunks: list[RetrievedChunk]) -> list[RetrievedChunk]:
        have = {c.chunk.id for c in chunks}
        wanted = [chunk_id for chunk_id, _ in candidates.sections if chunk_id not in have][: self.config.section_reads]
        stored = self.kb.reads.get_chunks(wanted)
        return [
            RetrievedChunk(stored[i], 0.0, candidates.dense.get(i), candidates.keyword.get(i))
            for i in wanted
            if i in stored
        ]

    def _section_hits(
        self, terms: tuple[str, ...], corpus: Corpus, scoped: IdArray, mask: npt.NDArray[np.bool_]
    ) -> list[tuple[int, float]]:
        """The best keyword-matching chunks under the headings the question names, the best-named
        title's first."""
        words = tuple(set().union(*corpus.section_chunks))  # titles share their words: each counted once
        rarity = _rarity(_document_frequencies(words, corpus, mask))
        titles = sections_named(terms, corpus.section_chunks, rarity.__getitem__)
        hits: list[tuple[int, float]] = []
        seen: set[int] = set()
        for title in titles:
            under = corpus.section_chunks[title]
            under = under[np.isin(under, scoped)]
            found = corpus.bm25.search(terms, mask & corpus.bm25.allowed_mask(under), under.size)
            hits += [hit for hit in found if hit[0] not in seen]
            seen.update(chunk_id for chunk_id, _ in found)
        return hits

    def _breakdown_hits(
        self,
        question: str,
        terms: tuple[str, ...],
        corpus: Corpus,
        tables: IdArray,
        scoped: IdArray,
        mask: npt.NDArray[np.bool_],
    ) -> list[tuple[int, float]]:
        """The tables breaking revenue down whose rows hold what the question names besides revenue,
        its company and its period ("gaming", "advertising"): none for a question about the total."""
        companies = corpus.company_words
        items = [t for t in terms if t not in NOT_AN_ITEM and t not in companies and not t.isdigit()]
        readable = tables[np.isin(tables, scoped)]
        if not items or readable.size == 0 or names_a_branded_line(question, companies, items):
            return []
        hits = corpus.bm25.search(items, mask & corpus.bm25.allowed_mask(readable), readable.size)
        return _one_per_page(hits, self.kb, self.config.statement_pages)

    def _fused(self, candidates: Candidates, scope: Scope) -> dict[int, float]:
        """Weighted reciprocal rank fusion, plus a bonus for the documents the question names."""
        cfg = self.config
        fused = reciprocal_rank_fusion(candidates.lists, cfg.rrf_k)
        if scope.match and cfg.metadata_boost:
            for chunk_id in fused:
                document = scope.corpus.document_of(chunk_id)
                if document is not None:
                    fused[chunk_id] += cfg.metadata_boost * scope.match.get(document, 0.0)
        return fused

    def _selected(self, fused: dict[int, float], candidates: Candidates, k: int) -> list[RetrievedChunk]:
        """The best `k`, near-duplicates suppressed."""
        order = sorted(fused, key=lambda i: (-fused[i], i))[: max(2 * k, k + 8)]  # room for duplicates
        stored = self.kb.reads.get_chunks(order)
        ranked = [
            RetrievedChunk(stored[i], fused[i], candidates.dense.get(i), candidates.keyword.get(i))
            for i in order
            if i in stored
        ]
        return suppress_near_duplicates(ranked, k)

    def _with_similarity(
        self, chunks: list[RetrievedChunk], vector: npt.NDArray[np.float32] | None, index: VectorIndex
    ) -> list[RetrievedChunk]:
        """Chunks that only the keyword or marked-page lists found, with their similarity to the
        question too: the gate reads the best similarity among what was found, and read a missing
        one as none (a signature page found for "who signed" had none, and the question was refused)."""
        missing = np.array([c.chunk.id for c in chunks if c.dense_score is None], dtype=np.int64)
        if vector is None or missing.size == 0:
            return chunks
        similarity = dict(index.search(vector, int(missing.size), missing))
        return [replace(c, dense_score=similarity.get(c.chunk.id)) if c.dense_score is None else c for c in chunks]

    def page_context(self, chunk: StoredChunk) -> PageText:
        """The text of the pages a found chunk lies on, and the chunk's offset in it."""
        return self.kb.reads.page_context(chunk)

    def sentence_similarity(self, question: str, sentences: Sequence[str]) -> list[float]:
        """Cosine similarity of each sentence to the question, by the knowledge base's embedder."""
        embedder = self.kb.embedder
        return [float(s) for s in embedder.embed_documents(list(sentences)) @ embedder.embed_query(question)]

    def _statement_hits(
        self, question: str, terms: tuple[str, ...], corpus: Corpus, scoped: IdArray, mask: npt.NDArray[np.bool_]
    ) -> list[tuple[int, float]]:
        """The best keyword-matching chunk of each page of the statements the question asks
        about, among the `scoped` readable chunks; statements take turns, so asking for two puts
        both near the top, the named one first."""
        per_statement: list[list[tuple[int, float]]] = []
        for statement in statements_asked(question):
            on_pages = corpus.on_statement(statement)
            on_pages = on_pages[np.isin(on_pages, scoped)]
            hits = corpus.bm25.search(terms, mask & corpus.bm25.allowed_mask(on_pages), on_pages.size)
            per_statement.append(_one_per_page(hits, self.kb, self.config.statement_pages))
        return [hit for turn in zip_longest(*per_statement) for hit in turn if hit is not None]

    def _result(
        self, query: Query, chunks: list[RetrievedChunk], scope: Scope, timings: dict[str, float]
    ) -> RetrievalResult:
        """The gate: does what was found hold the answer? (relevance.py's calibrated model)."""
        question, hints, corpus, mask = query.question, query.hints, scope.corpus, scope.mask
        counts = _document_frequencies(query.terms, corpus, mask)
        found = _judged(query.terms, question, hints, chunks, corpus, counts)
        model, judged = self.config.relevance_for(question), found
        if not model.fits(getattr(self.kb.embedder, "name", None)):
            # Similarities of another embedder live on another scale: judge as the bare model does
            # (the features reported stay the full ones).
            model, judged = BARE_RELEVANCE_MODEL, features(query.terms, chunks)
        probability = model.probability(judged)
        relevant = bool(chunks) and probability >= model.threshold
        # A Chinese question about English documents shares no word with them: judge it also as the
        # English question its glossary terms make, when it names a company we hold (glossary words
        # alone, "员工" and "年", would pass questions about leave policies).
        if (
            chunks
            and not relevant
            and query.gloss
            and model is self.config.relevance_cjk
            and company_named(hints, corpus.documents.values())
        ):
            gloss_terms = tuple(content_terms(query.gloss))
            english_counts = _document_frequencies(gloss_terms, corpus, mask)
            english = _judged(gloss_terms, query.gloss, hints, chunks, corpus, english_counts)
            relevant = self.config.relevance.probability(english) >= self.config.relevance.threshold
        # Then, the costlier test (an embedding of up to 40 sentences): a sentence that means what is asked.
        if chunks and not relevant:
            floor = _sentence_floor(model, question, lambda term: corpus.bm25.document_frequency(term, mask))
            if floor is not None:
                sentences = judged_sentences(chunks)
                similar = self.sentence_similarity(question, sentences) if sentences else []
                relevant = max(similar, default=0.0) >= floor
        rarity = _rarity(counts)
        return RetrievalResult(
            question, chunks, query.terms, scope.match, found, probability, relevant, timings, rarity
        )

    def _embed(self, question: str) -> npt.NDArray[np.float32]:
        """Query vectors of recent questions are kept: follow-ups and evals repeat them."""
        with self._vectors_lock:
            cached = self._vectors.get(question)
            if cached is not None:
                self._vectors.move_to_end(question)
                return cached
        vector = self.kb.embedder.embed_query(question)
        with self._vectors_lock:
            self._vectors[question] = vector
            while len(self._vectors) > 1024:
                self._vectors.popitem(last=False)
        return vector


def _sentence_floor(model: RelevanceModel, question: str, frequency: Callable[[str], int]) -> float | None:
    """How similar one sentence of the top chunks must be to the question to answer it: less for
    a how-to asking for a command, file or package that names nothing the knowledge base lacks."""
    if model.code_floor is None or not asks_for_code(question) or unknown_latin_words(question, frequency):
        return model.sentence_floor
    return model.code_floor if model.sentence_floor is None else min(model.code_floor, model.sentence_floor)


def _without_guessed_words(query: Query, scope: Scope) -> Query:
    """Everyday Chinese runs words together where jieba's dictionary has no entry ("要装", "某台"):
    a token found in no readable chunk would count as a name we hold nothing about, and weigh as
    much as the rarest term. Such a guess is searched and judged as the dictionary words in it."""
    if not any(CJK_CHAR.search(term) for term in query.terms):
        return query
    terms: list[str] = []
    for term in query.terms:
        parts = split_guess(term)
        if parts is not None and scope.corpus.bm25.document_frequency(term, scope.mask) == 0:
            terms += parts
        else:
            terms.append(term)
    return replace(query, terms=tuple(dict.fromkeys(terms)))


def _document_frequencies(
    terms: tuple[str, ...], corpus: Corpus, mask: npt.NDArray[np.bool_]
) -> tuple[int, dict[str, int]]:
    """How many chunks the user may read, and how many of them hold each term."""
    return int(mask.sum()), {term: corpus.bm25.document_frequency(term, mask) for term in terms}


def _judged(
    terms: tuple[str, ...],
    question: str,
    hints: QueryHints,
    chunks: list[RetrievedChunk],
    corpus: Corpus,
    counts: tuple[int, dict[str, int]],
) -> RelevanceFeatures:
    """The gate's features of what was found for these terms, IDF-weighted over the readable chunks."""
    n, frequency = counts
    weights = {term: idf(n, frequency[term]) for term in terms}
    named_elsewhere = unknown_names(question, weights) or _owner_absent(question, chunks, corpus)
    fit = 0.0 if named_elsewhere else _names_fit(hints, chunks, corpus)
    return replace(features(terms, chunks, weights), fit=fit)


def _rarity(counts: tuple[int, dict[str, int]]) -> dict[str, float]:
    """IDF as the quotes weigh it: a term no readable chunk holds counts as held by one."""
    n, frequency = counts
    if n == 0:
        return {}
    return {term: idf(n, max(df, 1)) for term, df in frequency.items()}


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000.0


def config_from_settings(settings: Settings) -> RetrievalConfig:
    return RetrievalConfig(
        dense_weight=settings.retrieval_dense_weight,
        keyword_weight=settings.retrieval_keyword_weight,
        rrf_k=settings.retrieval_rrf_k,
        candidates_factor=settings.retrieval_candidates_factor,
        metadata_boost=settings.retrieval_metadata_boost,
        scope_weight=settings.retrieval_scope_weight,
        statement_weight=settings.retrieval_statement_weight,
    )


def _one_per_page(hits: list[tuple[int, float]], kb: KnowledgeBase, pages: int) -> list[tuple[int, float]]:
    """The first hit on each page, for the first `pages` pages."""
    stored = kb.reads.get_chunks([i for i, _ in hits])
    seen: set[tuple[int, int]] = set()
    kept: list[tuple[int, float]] = []
    for chunk_id, score in hits:
        chunk = stored.get(chunk_id)
        if chunk is None or (chunk.document_id, chunk.page_start) in seen:
            continue
        seen.add((chunk.document_id, chunk.page_start))
        kept.append((chunk_id, score))
        if len(kept) == pages:
            break
    return kept


def _owner_absent(question: str, chunks: list[RetrievedChunk], corpus: Corpus, top: int = 3) -> bool:
    """Whose figure the question asks for is named neither in the top chunks nor by their filers."""
    documents = [corpus.documents.get(c.chunk.document_id) for c in chunks[:top]]
    organisations = [d.metadata.organisation or "" if d is not None else "" for d in documents]
    texts = [embedding_text(c.chunk.header, c.chunk.text) for c in chunks[:top]]
    return owner_absent(question, texts, organisations)


def _names_fit(hints: QueryHints, chunks: list[RetrievedChunk], corpus: Corpus, top: int = 3) -> float:
    """1.0 when one of the top chunks comes from a document that fits the company and period the
    question names (judged against every readable document, not only those a filter kept)."""
    named = company_named(hints, corpus.documents.values())
    for retrieved in chunks[:top]:
        facts = corpus.documents.get(retrieved.chunk.document_id)
        if facts is None or names_fit(hints, facts, named):
            return 1.0
    return 0.0
