"""Ask every question of the current knowledge base; score retrieval, and answers when given."""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from app.chain.extract import CROSS_LANGUAGE_NOTE
from app.chain.facts import Passage, facts_of, find_figures, unsupported
from app.chain.sentences import split_sentences
from app.eval.datasets import EvalDataset, EvalQuestion
from app.eval.metrics import (
    SIBLING,
    SUBJECT,
    QuestionResult,
    citation_precision,
    contains_answer,
    doc_rank,
    holds_gold,
    matches_glob,
    page_rank,
    summarise,
)
from app.retrieval import MetadataFilter, Retriever
from app.types import Answer
from ingestion.service import KnowledgeBase
from store.records import UserInfo

AnswerFn = Callable[[str, UserInfo], Answer]  # the chain: question, asking user -> Answer
ProgressFn = Callable[[int, int], None]


@dataclass
class EvalReport:
    dataset: str
    summary: dict[str, float | int | None]
    results: list[QuestionResult]

    def rows(self) -> list[dict[str, object]]:
        return [asdict(r) for r in self.results]


def run_eval(
    kb: KnowledgeBase,
    retriever: Retriever,
    dataset: EvalDataset,
    answer_fn: AnswerFn | None = None,
    *,
    actor: UserInfo | None = None,
    k: int = 10,
    limit: int | None = None,
    negatives: bool = False,
    progress: ProgressFn | None = None,
) -> EvalReport:
    """`negatives`: also ask each question with its whole subject excluded (a filter applied before
    ranking: the company's filings, the article's paragraphs), a same-domain question the knowledge
    base cannot answer, for the refusal rate and relevance AUC. Where the subject is wider than the
    gold documents, it is asked a third time with only the gold documents excluded: a hard negative
    (another quarter of the same company remains, which may hold the answer after all), reported
    apart."""
    actor = actor or kb.actor(None)
    questions = list(dataset.questions[:limit] if limit else dataset.questions)
    results: list[QuestionResult] = []
    for i, question in enumerate(questions, start=1):
        results.append(_ask(retriever, question, actor, k, answer_fn, kb=kb))
        if negatives and question.documents and not question.unanswerable:
            results.append(_ask(retriever, question, actor, k, None, question.subject_documents, SUBJECT))
            if set(question.subject_documents) != set(question.documents):
                results.append(_ask(retriever, question, actor, k, None, question.documents, SIBLING))
        if progress is not None:
            progress(i, len(questions))
    summary = summarise(results, {q.id: q for q in questions})
    return EvalReport(dataset.name, summary, results)


def _ask(
    retriever: Retriever,
    question: EvalQuestion,
    actor: UserInfo,
    k: int,
    answer_fn: AnswerFn | None,
    exclude: tuple[str, ...] = (),
    negative: str = "",
    kb: KnowledgeBase | None = None,
) -> QuestionResult:
    started = time.perf_counter()
    found = retriever.search(
        question.question, actor, k, MetadataFilter(exclude_documents=exclude) if exclude else None
    )
    latency = (time.perf_counter() - started) * 1000.0
    chunks = found.chunks
    result = QuestionResult(
        id=question.id,
        question=question.question,
        unanswerable=question.unanswerable,
        retrieved=[(c.chunk.file_name, c.chunk.page_start, c.chunk.page_end) for c in chunks],
        doc_rank=None if exclude else doc_rank(question, chunks),
        page_rank=None if exclude else page_rank(question, chunks),
        relevant=found.relevant,
        probability=round(found.probability, 4),
        latency_ms=round(latency, 1),
        negative=negative,
        split=question.assigned_split,
        lang=question.lang,
    )
    if answer_fn is not None:
        started = time.perf_counter()
        answer = answer_fn(question.question, actor)
        result.answer_latency_ms = round((time.perf_counter() - started) * 1000.0, 1)
        result.answer = answer.text
        result.found = answer.found
        result.citations = [(c.document, c.page) for c in answer.citations]
        result.citation_precision = citation_precision(question, answer)
        result.contains_answer = contains_answer(question, answer.text)
        result.outcome, result.method = answer.outcome, answer.method
        if kb is not None:
            _judge_facts(kb, question, answer, result)
    return result


def _judge_facts(kb: KnowledgeBase, question: EvalQuestion, answer: Answer, result: QuestionResult) -> None:
    """Every figure, date and name of a shown answer against the pages it cites (what the user can
    open); the gold answer on a cited page; gold figures found in the answer."""
    by_n = {s.n: s for s in answer.sources}
    cited = [by_n[c.n].chunk for c in answer.citations if c.n in by_n]
    # The document's title counts, as it does for the checker: "Microsoft" is the filing's company.
    pages = [f"{chunk.header}\n{kb.reads.page_context(chunk).text}" for chunk in cited]
    passages = [Passage(p) for p in pages]
    if question.answers:
        gold = [f for a in question.answers[:1] for f in find_figures(a)]
        on_page = any(
            holds_gold(question, text)
            or any(c.page == p and matches_glob(c.document, g) for c in answer.citations for g, p in question.pages)
            for text in pages
        )
        # "16%" where a table of percentages prints "16" under its first row's "%": read as the checker reads it
        on_page = on_page or any(gold and all(passage.has_figure(g) for g in gold) for passage in passages)
        result.gold_on_cited_page = on_page and answer.outcome == "answered"
        ours = find_figures(answer.text)
        result.gold_figures = len(gold)
        result.gold_figures_found = sum(1 for g in gold if any(g.matches(o) or o.matches(g) for o in ours))
    if answer.outcome != "answered":
        return
    text = answer.text
    for note in CROSS_LANGUAGE_NOTE.values():
        text = text.replace(note, " ")
    for sentence in split_sentences(text):  # as the checker reads them: a name opens no sentence
        facts = facts_of(sentence.text)
        result.figures += len(facts.figures)
        result.unsupported += unsupported(facts, passages)
