"""The ingest pipeline end to end: real parsing (child process), splitting, HashingEmbedder,
SQL and FAISS, on SQLite and PostgreSQL."""

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ingestion.errors import NotFoundError, PermissionDeniedError
from ingestion.intake import Work, register
from ingestion.outcomes import Outcome, ProgressEvent
from ingestion.pipeline import IngestOptions
from ingestion.service import KnowledgeBase

MakeKB = Callable[..., KnowledgeBase]
WriteText = Callable[..., Path]


def paragraphs(topic: str, n: int) -> str:
    return "\n\n".join(f"{topic} paragraph {i}: revenue, margin and outlook for segment {i}." for i in range(n))


def test_a_real_pdf_end_to_end(database_url: str, make_kb: MakeKB, sample_pdfs: tuple[Path, Path]) -> None:
    footlocker, _ = sample_pdfs
    kb = make_kb(database_url)
    events: list[ProgressEvent] = []
    [result] = kb.ingest([footlocker], actor=kb.actor(None), progress=events.append)
    assert (result.outcome, result.pages) == (Outcome.OK, 4) and result.chunks > 0
    assert events[0].kind == "planned" and events[-1].kind == "finished"
    assert sum(e.chunks for e in events) == result.chunks
    # pages are reported by the parse process as it reads them, before the file is parsed
    parsing = [(e.pages, e.pages_planned) for e in events if e.kind == "parsing"]
    assert parsing == [(1, 4), (2, 4), (3, 4), (4, 4)]
    kinds = [e.kind for e in events]
    assert kinds.index("parsed") > max(i for i, kind in enumerate(kinds) if kind == "parsing")
    [doc] = kb.list_documents(kb.actor(None))
    assert (doc.status, doc.pages, doc.chunks, doc.version, doc.uploaded_by) == ("ready", 4, result.chunks, 1, "admin")
    assert doc.metadata.organisation and "Foot Locker" in doc.metadata.organisation
    assert kb.files.path(doc.sha256).read_bytes() == footlocker.read_bytes()  # the original is kept
    hits = kb.reads.search("Foot Locker results", kb.actor(None), k=3)
    assert hits and all(h.chunk.file_name == footlocker.name for h in hits)
    assert hits[0].chunk.header == doc.metadata.header() and hits[0].chunk.page_start >= 1
    assert kb.check() == []


def test_the_same_bytes_are_one_document(make_kb: MakeKB, write_text: WriteText) -> None:
    kb = make_kb()
    a = write_text("a.txt", paragraphs("alpha", 5))
    b = a.parent / "b.txt"
    shutil.copy(a, b)
    first, twice, renamed = kb.ingest([a, a, b], actor=kb.actor(None))
    assert first.outcome is Outcome.OK
    assert twice.outcome is Outcome.DUPLICATE and renamed.outcome is Outcome.DUPLICATE
    [again] = kb.ingest([b], actor=kb.actor(None))
    assert again.outcome is Outcome.DUPLICATE and "already present as a.txt" in again.message
    assert len(kb.list_documents(kb.actor(None))) == 1 and len(kb.files.hashes()) == 1


def test_a_broken_file_fails_with_a_reason_and_leaves_nothing(make_kb: MakeKB, tmp_path: Path) -> None:
    kb = make_kb()
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nthis is not really a pdf\n")
    [result] = kb.ingest([broken], actor=kb.actor(None))
    assert result.outcome is Outcome.FAILED and "broken.pdf" in result.message
    [doc] = kb.list_documents(kb.actor(None))
    assert doc.status == "failed" and doc.error == result.message and doc.chunks == 0
    assert kb.index().count == 0 and kb.check() == []


def test_groups_are_checked_before_any_work(make_kb: MakeKB, write_text: WriteText) -> None:
    kb = make_kb()
    path = write_text("a.txt", paragraphs("alpha", 3))
    with pytest.raises(NotFoundError, match="kb groups add finance"):
        kb.ingest([path], actor=kb.actor(None), groups=("finance",))
    kb.people.add_group("finance", kb.actor(None))
    kb.people.add_group("hr", kb.actor(None))
    kb.people.add_user("bob", admin=False, groups=("finance",), actor=kb.actor(None))
    with pytest.raises(PermissionDeniedError, match="own groups"):
        kb.ingest([path], actor=kb.actor("bob"), groups=("hr",))
    [ok] = kb.ingest([path], actor=kb.actor("bob"), groups=("finance",))
    assert ok.outcome is Outcome.OK and kb.list_documents(kb.actor(None))[0].groups == ("finance",)
    assert kb.list_documents(kb.actor(None))[0].uploaded_by == "bob"


def test_files_are_parsed_ahead_and_reported_in_order(make_kb: MakeKB, write_text: WriteText) -> None:
    kb = make_kb(ingest=IngestOptions(parse_workers=2, embed_batch=4))
    paths = [write_text(f"doc{i}.txt", paragraphs(f"topic{i}", 6)) for i in range(5)]
    results = kb.ingest(paths, actor=kb.actor(None))
    assert [r.file_name for r in results] == [p.name for p in paths]
    assert all(r.outcome is Outcome.OK for r in results)
    assert kb.check() == []


def test_a_document_left_queued_is_resumed_by_the_next_ingest(make_kb: MakeKB, write_text: WriteText) -> None:
    kb = make_kb()
    path = write_text("later.txt", paragraphs("beta", 4))
    work = register(kb.db, kb.files, path, groups=(), actor=kb.actor(None), keep=set())
    assert isinstance(work, Work) and kb.list_documents(kb.actor(None))[0].status == "queued"
    path.unlink()  # the stored copy is enough
    [resumed] = kb.ingest([], actor=kb.actor(None))
    assert resumed.outcome is Outcome.OK and resumed.file_name == "later.txt"
    assert kb.list_documents(kb.actor(None))[0].status == "ready" and kb.check() == []


def test_a_page_joined_from_its_chunks_keeps_the_break_between_them(make_kb: MakeKB, write_text: WriteText) -> None:
    """The splitter drops the blank line where it cuts ("2022\\n \\nNet income"); joined again for
    reading a page's tables, the chunks keep a line break there and each lies at its own offset."""
    heading = "Statements of comprehensive income " + "three months ended October 29, 2023 " * 12
    body = " ".join(f"Net income row {i} was 9,243 million." for i in range(60))
    kb = make_kb()
    (result,) = kb.ingest([write_text("statement.txt", f"{heading}\n \n{body}")], actor=kb.actor(None))
    assert result.document_id is not None
    stored = kb.reads.get_chunks(kb.reads.readable_chunk_ids(kb.actor(None)).tolist())
    chunks = sorted(stored.values(), key=lambda c: c.char_start)
    assert len(chunks) >= 2 and chunks[1].char_start > chunks[0].char_end  # the blank line was dropped
    for chunk in chunks:
        context = kb.reads.page_context(chunk)
        assert context.text[context.chunk_offset : context.chunk_offset + len(chunk.text)] == chunk.text
    assert "\nNet income row 0 was" in kb.reads.page_context(chunks[0]).text  # a row of its own again
