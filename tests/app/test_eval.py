"""Eval sets parse as their formats demand (BOM, CRLF, globs, 0-based pages, SQuAD JSON), metrics
count what they claim, and `kb eval` runs end to end on a tiny JSONL."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import build_app
from app.eval import load_dataset
from app.eval.datasets import DatasetError, EvalQuestion
from app.eval.metrics import QuestionResult, auc, contains_answer, doc_rank, holds_gold, page_rank, summarise
from app.types import RetrievedChunk
from ingestion.embedders import HashingEmbedder
from ingestion.service import KnowledgeBase, StoreConfig
from store.records import StoredChunk
from tests.conftest import EVAL


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def test_sec_10q_csv_with_bom_crlf_and_globs(tmp_path: Path) -> None:
    folder = tmp_path / "sec"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "2023 Q1 AAPL.pdf").write_bytes(b"%PDF")
    (folder / "qna_data.csv").write_bytes(
        "\ufeffQuestion,Source Docs,Question Type,Source Chunk Type,Answer\r\n"
        'What were net sales?,*AAPL*,Multi-Doc RAG,Table,"Line one\nSOURCE(S): 2023 Q1 AAPL.pdf"\r\n'
        "Intel R&D?,*2023 Q1 INTC*,Single-Doc Single-Chunk RAG,Text,$4.1 billion\r\n".encode()
    )
    data = load_dataset(folder)
    assert data.name == "sec-10-q" and len(data.questions) == 2
    first, second = data.questions
    assert first.question == "What were net sales?" and first.documents == ("*AAPL*",)
    assert first.answers == ("Line one\nSOURCE(S): 2023 Q1 AAPL.pdf",)  # LF inside quotes kept
    assert second.documents == ("*2023 Q1 INTC*",) and not second.pages
    assert [p.name for p in data.documents] == ["2023 Q1 AAPL.pdf"]  # PDFs only, never the CSV


def test_the_real_sec_10q_set() -> None:
    data = load_dataset(need(EVAL / "sec-10-q"))
    assert len(data.questions) == 195 and len(data.documents) == 20
    assert all(q.documents and q.documents[0].startswith("*") for q in data.questions)
    assert all(p.suffix == ".pdf" for p in data.documents)


def test_financebench_pages_become_1_based() -> None:
    data = load_dataset(need(EVAL / "financebench"))
    assert len(data.questions) == 92 and len(data.documents) == 40
    by_id = {q.id: q for q in data.questions}
    raw = [json.loads(line) for line in (EVAL / "financebench" / "financebench_local.jsonl").open()]
    for record in raw:
        q = by_id[record["financebench_id"]]
        assert q.documents == (f"{record['doc_name']}.pdf",)
        assert [p for _, p in q.pages] == [e["evidence_page_num"] + 1 for e in record["evidence"]]
    assert sum(len(q.pages) for q in data.questions) == 111


def test_cmrc2018_contexts_are_documents(tmp_path: Path) -> None:
    data = load_dataset(need(EVAL / "cmrc2018"))
    assert len(data.questions) == 3219 and len(data.texts) == 848 and not data.documents
    q = data.questions[0]
    assert q.id == "DEV_0_QUERY_0" and q.documents == ("DEV_0.txt",) and 1 <= len(q.answers) <= 3
    assert all(any(a in data.texts[q.documents[0]] for a in q.answers) for q in data.questions)
    paths = data.document_paths(tmp_path / "docs")
    assert (
        len(paths) == 848 and (tmp_path / "docs" / "DEV_0.txt").read_text(encoding="utf-8") == data.texts["DEV_0.txt"]
    )


def test_jsonl_questions(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(
        '{"id": "a", "question": "Lunch?", "answer": "noon", "doc": "handbook.txt", "page": 2}\n\n'
        '{"id": "b", "question": "Mars base?", "answer": null}\n'
        '{"id": "c", "question": "Parking?"}\n',
        encoding="utf-8",
    )
    a, b, c = load_dataset(path).questions
    assert a.pages == (("handbook.txt", 2),) and a.answers == ("noon",) and not a.unanswerable
    assert b.unanswerable and not b.answers
    assert not c.unanswerable and not c.documents
    path.write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match="line 1"):
        load_dataset(path)


def _hit(name: str, pages: tuple[int, int]) -> RetrievedChunk:
    return RetrievedChunk(StoredChunk(1, 1, name, 0, "", "text", pages[0], pages[1], 0, 4), 1.0)


def test_ranks_use_globs_and_page_spans() -> None:
    q = EvalQuestion("q", "?", documents=("*2023 Q2 AAPL*",), pages=(("2023 Q2 AAPL.pdf", 7),))
    hits = [_hit("2023 Q1 AAPL.pdf", (7, 7)), _hit("2023 Q2 AAPL.pdf", (3, 4)), _hit("2023 Q2 AAPL.pdf", (6, 8))]
    assert doc_rank(q, hits) == 2 and page_rank(q, hits) == 3
    assert contains_answer(EvalQuestion("q", "?", answers=("$82,959 million",)), "Net sales were $82959 million.")


def test_summary_figures() -> None:
    questions = {
        "a": EvalQuestion("a", "?", documents=("x.pdf",)),
        "b": EvalQuestion("b", "?", documents=("y.pdf",)),
        "c": EvalQuestion("c", "?", unanswerable=True),
    }
    results = [
        QuestionResult("a", "?", False, [], doc_rank=1, probability=0.9, latency_ms=10),
        QuestionResult("b", "?", False, [], doc_rank=7, probability=0.6, latency_ms=30),
        QuestionResult("c", "?", True, [], relevant=False, probability=0.2, latency_ms=20),
    ]
    s = summarise(results, questions)
    assert (s["n"], s["doc_recall_at_1"], s["doc_recall_at_5"], s["doc_recall_at_10"]) == (3, 0.5, 0.5, 1.0)
    assert s["mrr"] == pytest.approx((1 + 1 / 7) / 2, abs=1e-4)
    assert s["refusal_rate"] == 1.0 and s["relevance_auc"] == 1.0 and s["latency_ms_p50"] == 20.0
    assert auc([0.5], [0.5]) == 0.5
    # With answers, a subject-removed negative (never put to the chain) counts by the gate's verdict.
    answered = [replace(results[0], found=True), replace(results[1], found=False)]
    negatives = [
        QuestionResult("a", "?", False, [], relevant=False, negative="subject"),
        QuestionResult("b", "?", False, [], relevant=True, negative="subject"),
    ]
    s = summarise([*answered, *negatives], questions)
    assert s["refusal_rate"] == 0.5 and s["false_refusal_rate"] == 0.5


def test_kb_eval_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    kb = KnowledgeBase.open(StoreConfig(data_dir=data), embedder=lambda: HashingEmbedder(64), writer=True)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "handbook.txt").write_text("The cafeteria serves lunch at noon.\n\nParking permits come in January.")
    (docs / "travel.txt").write_text("Travel expenses are reimbursed within thirty days.")
    kb.ingest(sorted(docs.iterdir()), actor=kb.actor(None))
    kb.close()
    questions = tmp_path / "tiny.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {
                    "id": "1",
                    "question": "When does the cafeteria serve lunch?",
                    "answer": "noon",
                    "doc": "handbook.txt",
                    "page": 1,
                },
                {"id": "2", "question": "How fast are travel expenses reimbursed?", "doc": "travel.txt"},
                {"id": "3", "question": "What is the Quasar X9 drone warranty?", "answer": None},
            ]
        ),
        encoding="utf-8",
    )
    out = tmp_path / "results.jsonl"
    env = {"KB_DATA_DIR": str(data), "KB_EMBEDDER": "hashing-64", "KB_DATABASE_URL": ""}
    result = CliRunner().invoke(
        build_app(), ["eval", str(questions), "--json", "--out", str(out)], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["n"] == 3 and summary["doc_recall_at_5"] == 1.0 and summary["page_recall_at_5"] == 1.0
    assert {"mrr", "refusal_rate", "latency_ms_p50", "latency_ms_p95", "doc_recall_at_1"} <= set(summary)
    assert summary["refusal_rate"] == 1.0  # the drone question is judged not in the knowledge base
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["1", "2", "3"] and rows[0]["retrieved"][0][0] == "handbook.txt"
    assert "document recall@5" in result.output  # the rich table

    # The chain plugs in as answer_fn: citations, containment and refusals are then the chain's.
    from app.eval import run_eval
    from app.retrieval import Retriever
    from app.types import Answer, Citation

    def answer(question: str, actor: object) -> Answer:
        if "drone" in question:
            return Answer("That is not in the knowledge base.", found=False)
        cite = Citation(1, "handbook.txt", 1, 1, "noon", "The cafeteria serves lunch at noon.", 1.0)
        return Answer("Lunch is served at noon [1].", found=True, citations=[cite])

    with KnowledgeBase.open(StoreConfig(data_dir=data), embedder=lambda: HashingEmbedder(64)) as kb:
        report = run_eval(kb, Retriever(kb), load_dataset(questions), answer_fn=answer)
    s = report.summary
    assert s["refusal_rate"] == 1.0 and s["false_refusal_rate"] == 0.0
    assert s["citation_precision"] == 0.5 and s["answer_containment"] == 1.0  # travel answer cites the handbook

    # `kb eval --answers` runs the real bundled model through the whole chain.
    env |= {"KB_CHAIN_ANSWER_TOKENS": "40", "KB_THREADS": "2"}
    result = CliRunner().invoke(
        build_app(), ["eval", str(questions), "--json", "--answers", "--out", str(out)], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    s = json.loads(result.output.strip().splitlines()[-1])
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert all(r["answer"] for r in rows) and rows[2]["found"] is False  # the drone: refused, not made up
    assert rows[0]["found"] is True and all(doc == "handbook.txt" for doc, _ in rows[0]["citations"])
    assert {"answer_containment", "citation_precision", "refusal_rate"} <= set(s) and s["refusal_rate"] == 1.0


def test_subjects_of_the_shared_sets() -> None:
    sec = {q.documents: q.subject for q in load_dataset(need(EVAL / "sec-10-q")).questions}
    assert sec[("*2023 Q3 NVDA*",)] == ("*NVDA*",) and sec[("*MSFT*",)] == ("*MSFT*",)
    finance = {q.documents[0]: q.subject for q in load_dataset(need(EVAL / "financebench")).questions}
    assert finance["JOHNSON_JOHNSON_2022Q4_EARNINGS.pdf"] == ("JOHNSON_JOHNSON_*.pdf",)
    assert finance["3M_2018_10K.pdf"] == ("3M_*.pdf",)
    cmrc = load_dataset(need(EVAL / "cmrc2018"))
    shared = [q for q in cmrc.questions if len(q.subject) > 1]  # articles that share a title
    assert shared and all(q.documents[0] in q.subject for q in shared)
    assert all(q.subject_documents for q in cmrc.questions)


def test_negatives_remove_the_whole_subject_and_apart_only_the_gold_document(tmp_path: Path) -> None:
    from app.eval import run_eval
    from app.retrieval import Retriever

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "acme_2023.txt").write_text("Acme revenue in 2023 was 12 million dollars from anvils.")
    (docs / "acme_2022.txt").write_text("Acme revenue in 2022 was 9 million dollars from anvils.")
    (docs / "globex.txt").write_text("Globex sells turbines; its canteen opens at eight.")
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "a", "question": "Acme revenue in 2023?", "doc": "acme_2023.txt", "subject": "acme_*"})
        + "\n"
        + json.dumps({"id": "g", "question": "What does Globex sell?", "doc": "globex.txt"}),
        encoding="utf-8",
    )
    config = StoreConfig(data_dir=tmp_path / "data")
    with KnowledgeBase.open(config, embedder=lambda: HashingEmbedder(64), writer=True) as kb:
        kb.ingest(sorted(docs.iterdir()), actor=kb.actor(None))
        report = run_eval(kb, Retriever(kb), load_dataset(questions), negatives=True)
    by_kind = {(r.id, r.negative): {name for name, _, _ in r.retrieved} for r in report.results}
    assert set(by_kind) == {("a", ""), ("a", "subject"), ("a", "sibling"), ("g", ""), ("g", "subject")}
    assert by_kind[("a", "subject")] <= {"globex.txt"}  # no Acme filing at all
    assert "acme_2022.txt" in by_kind[("a", "sibling")] and "acme_2023.txt" not in by_kind[("a", "sibling")]
    assert "globex.txt" not in by_kind[("g", "subject")]
    s = report.summary
    assert s["n"] == 2 and s["unanswerable_n"] == 2 and s["siblings_n"] == 1
    assert {"refusal_rate", "refusal_rate_siblings", "relevance_auc_siblings"} <= set(s)


def test_the_everyday_unanswerable_sets() -> None:
    root = Path(__file__).resolve().parents[1] / "unanswerable"
    for name in ("english.jsonl", "chinese.jsonl"):
        data = load_dataset(root / name)
        assert len(data.questions) == 40 and all(q.unanswerable and not q.documents for q in data.questions)
        assert len({q.id for q in data.questions}) == 40


OWN_SETS = Path(__file__).resolve().parents[1] / "eval_sets"


def test_our_question_sets_hold_what_the_issue_asks_and_each_gold_answer_is_on_its_page() -> None:
    """Our own sets (issue 13): at least 60 natural questions on the filings, 20 of them in Chinese,
    at least 20 Chinese questions on the manual, both splits in each; every gold answer is in the
    pypdf text of the physical page it names (a wrong page would score every system wrong)."""
    import pypdf

    natural, manual = load_dataset(OWN_SETS / "natural.jsonl"), load_dataset(OWN_SETS / "zh_manual.jsonl")
    assert len(natural.questions) >= 60 and sum(q.lang == "zh" for q in natural.questions) >= 20
    assert sum(not q.unanswerable for q in manual.questions) >= 20
    for data in (natural, manual):
        assert len({q.id for q in data.questions}) == len(data.questions)
        assert {q.assigned_split for q in data.questions} == {"dev", "test"}
    folders = {"debian-reference.zh-cn.pdf": need(EVAL / "zh-pdf"), "*": need(EVAL / "sec-10-q" / "docs")}
    readers: dict[str, pypdf.PdfReader] = {}
    texts: dict[tuple[str, int], str] = {}  # many questions share a page: each page is read once
    with pypdf.apply_configuration(array_maximum_element_count=1_000_000):
        for question in [q for data in (natural, manual) for q in data.questions if not q.unanswerable]:
            (name, page), *_ = question.pages
            if name not in readers:
                readers[name] = pypdf.PdfReader(folders.get(name, folders["*"]) / name)
            if (name, page) not in texts:
                texts[name, page] = readers[name].pages[page - 1].extract_text()
            assert holds_gold(question, texts[name, page]), (question.id, name, page)
