"""The keyword side of the knowledge base, cached: BM25 over every ready chunk, and each
document's metadata facts. Rebuilt when readable chunk ids appear that it has not seen (new
documents or versions); token counts of unchanged chunks are reused, so a rebuild after one new
document costs one SQL scan, not a re-tokenisation of everything."""

import threading
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from app.retrieval.acronym_defs import defined_acronyms
from app.retrieval.bm25 import BM25Index, BM25Params, IdArray
from app.retrieval.cover import states_period_end, states_shares_outstanding
from app.retrieval.metadata import DocumentFacts, FiscalQuarterFinder, YearEndFinder
from app.retrieval.registrant import states_registrant_facts
from app.retrieval.roles import is_signed
from app.retrieval.sections import SectionFinder
from app.retrieval.segments import BreakdownPageFinder, states_segment_results
from app.retrieval.statements import Statement, StatementPageFinder
from app.retrieval.text import tokenize
from ingestion.service import KnowledgeBase
from ingestion.types import DocumentMetadata
from store.records import embedding_text


@dataclass(frozen=True)
class Corpus:
    bm25: BM25Index
    chunk_documents: IdArray  # document id of each chunk, aligned with bm25.ids
    documents: dict[int, DocumentFacts]
    statement_chunks: dict[Statement, IdArray]  # sorted ids of the chunks on each statement's pages
    signed_chunks: IdArray  # sorted ids of chunks with a signature block
    cover_chunks: IdArray  # sorted ids of chunks of a cover page that states the shares outstanding
    period_chunks: IdArray  # sorted ids of chunks of a cover page that states the period reported on
    registrant_chunks: IdArray  # sorted ids of chunks of a cover page's labelled fields (registrant.py)
    segment_chunks: IdArray  # sorted ids of chunks with a table of segment results
    breakdown_chunks: IdArray  # sorted ids of the table chunks of pages that break revenue down
    breakdown_change_chunks: IdArray  # those of them that print a column of changes
    company_words: frozenset[str]  # every document's company and file-name words, for the breakdown list
    acronyms: dict[int, dict[str, str]]  # document id -> the acronyms its text defines -> their long form
    section_chunks: dict[frozenset[str], IdArray]  # a heading's telling words -> sorted ids of its chunks

    def on_statement(self, statement: Statement) -> IdArray:
        return self.statement_chunks.get(statement, np.zeros(0, dtype=np.int64))

    def chunks_of(self, document_ids: set[int]) -> IdArray:
        keep = np.isin(self.chunk_documents, np.fromiter(document_ids, dtype=np.int64, count=len(document_ids)))
        return self.bm25.ids[keep]

    def documents_of(self, chunk_ids: IdArray) -> set[int]:
        rows = np.searchsorted(self.bm25.ids, chunk_ids)
        inside = rows < self.bm25.size
        rows, wanted = rows[inside], chunk_ids[inside]
        rows = rows[self.bm25.ids[rows] == wanted]
        return {int(d) for d in np.unique(self.chunk_documents[rows])}

    def documents_holding(self, term: str, mask: npt.NDArray[np.bool_]) -> set[int]:
        """The documents with a chunk in `mask` that holds the term."""
        rows = self.bm25.rows_holding(term, mask)
        return {int(d) for d in np.unique(self.chunk_documents[rows])}

    def chunks_holding(self, term: str, mask: npt.NDArray[np.bool_]) -> IdArray:
        return self.bm25.ids[self.bm25.rows_holding(term, mask)]

    def document_of(self, chunk_id: int) -> int | None:
        row = int(np.searchsorted(self.bm25.ids, chunk_id))
        if row < self.bm25.size and self.bm25.ids[row] == chunk_id:
            return int(self.chunk_documents[row])
        return None


class CorpusCache:
    def __init__(self, kb: KnowledgeBase, params: BM25Params | None = None) -> None:
        self.kb = kb
        self.params = params or BM25Params()
        self._corpus: Corpus | None = None
        self._tokens: dict[int, Counter[str]] = {}
        self._lock = threading.Lock()
        self.builds = 0  # for tests and logs: how often the index was (re)built

    def get(self, allowed: IdArray) -> Corpus:
        """A corpus containing every id in `allowed` (sorted readable chunk ids)."""
        corpus = self._corpus
        if corpus is not None and np.isin(allowed, corpus.bm25.ids, assume_unique=True).all():
            return corpus
        with self._lock:
            corpus = self._corpus
            if corpus is None or not np.isin(allowed, corpus.bm25.ids, assume_unique=True).all():
                corpus = self._corpus = self._build()
        return corpus

    def _build(self) -> Corpus:
        ids: list[int] = []
        owners: list[int] = []
        counts: list[Counter[str]] = []
        names: dict[int, str] = {}
        tokens: dict[int, Counter[str]] = {}
        statements = StatementPageFinder()
        sections = SectionFinder()
        signed: list[int] = []
        cover: list[int] = []
        period: list[int] = []
        registrant: list[int] = []
        segment: list[int] = []
        acronyms: dict[int, dict[str, str]] = {}
        breakdowns = BreakdownPageFinder()
        fiscal = FiscalQuarterFinder()
        year_ends = YearEndFinder()
        for batch in self.kb.reads.iter_chunks(batch=1024):
            for chunk in batch:
                statements.add(chunk)
                sections.add(chunk)
                if is_signed(chunk.text):
                    signed.append(chunk.id)
                if states_shares_outstanding(chunk.text):
                    cover.append(chunk.id)
                if states_period_end(chunk.text):
                    period.append(chunk.id)
                if states_registrant_facts(chunk.text):
                    registrant.append(chunk.id)
                if states_segment_results(chunk.text):
                    segment.append(chunk.id)
                breakdowns.add(chunk)
                defined = defined_acronyms(chunk.text)
                if defined:
                    acronyms.setdefault(chunk.document_id, {}).update(defined)
                fiscal.add(chunk.document_id, chunk.text)
                year_ends.add(chunk.document_id, chunk.text)
                counter = self._tokens.get(chunk.id)
                if counter is None:
                    counter = Counter(tokenize(embedding_text(chunk.header, chunk.text)))
                tokens[chunk.id] = counter
                ids.append(chunk.id)
                owners.append(chunk.document_id)
                counts.append(counter)
                names[chunk.document_id] = chunk.file_name
        self._tokens = tokens  # chunks of deleted documents drop out here
        metadata = {d.id: d.metadata for d in self.kb.list_documents(self.kb.actor(None))}
        facts = {i: DocumentFacts.of(i, name, metadata.get(i, DocumentMetadata())) for i, name in names.items()}
        documents = {
            i: replace(f, fiscal_quarter=fiscal.of(i, f.period_end), last_year_end=year_ends.of(i, f.period_end))
            for i, f in facts.items()
        }
        order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
        self.builds += 1
        return Corpus(
            BM25Index(ids, counts, self.params),
            np.asarray(owners, dtype=np.int64)[order],
            documents,
            {s: np.unique(np.asarray(ids, dtype=np.int64)) for s, ids in statements.chunks_by_statement().items()},
            np.unique(np.asarray(signed, dtype=np.int64)),
            np.unique(np.asarray(cover, dtype=np.int64)),
            np.unique(np.asarray(period, dtype=np.int64)),
            np.unique(np.asarray(registrant, dtype=np.int64)),
            np.unique(np.asarray(segment, dtype=np.int64)),
            np.unique(np.asarray(breakdowns.chunks(), dtype=np.int64)),
            np.unique(np.asarray(breakdowns.chunks_with_changes(), dtype=np.int64)),
            frozenset(w for facts in documents.values() for w in facts.company_words | facts.name_words),
            acronyms,
            {title: np.unique(np.asarray(ids, dtype=np.int64)) for title, ids in sections.chunks_by_title().items()},
        )
