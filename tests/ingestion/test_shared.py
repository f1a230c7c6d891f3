"""Several processes on one PostgreSQL database, each with its own data folder (KB_TASK_QUEUE):
vectors and originals are stored with the chunks; a process that never saw a document catches up
from the database at search time; a delete elsewhere never comes back; a job that re-runs an
interrupted document rolls back only that document."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingestion.embedders import HashingEmbedder
from ingestion.intake import Work, register
from ingestion.outcomes import Outcome
from ingestion.service import KnowledgeBase, StoreConfig
from store import chunks, documents, vectors
from store.models import DocStatus
from tests.ingestion.test_lifecycle import paragraphs

DIM = 64


@pytest.fixture
def open_kb(tmp_path: Path) -> Iterator[object]:
    opened: list[KnowledgeBase] = []

    def make(url: str, folder: str, *, writer: bool = True, shared: bool = True) -> KnowledgeBase:
        config = StoreConfig(data_dir=tmp_path / folder, database_url=url, shared=shared)
        kb = KnowledgeBase.open(config, embedder=lambda: HashingEmbedder(DIM), writer=writer)
        opened.append(kb)
        return kb

    yield make
    for kb in opened:
        kb.close()


def test_vectors_are_stored_with_the_chunks(database_url: str, open_kb, write_text) -> None:  # type: ignore[no-untyped-def]
    """Also in the embedded default: the stored vectors are exactly the index's."""
    kb = open_kb(database_url, "one", shared=False)
    [result] = kb.ingest([write_text("a.txt", paragraphs("alpha", 30))], actor=kb.actor(None))
    with kb.db.session() as session:
        ids = chunks.ready_chunk_ids(session).tolist()
        found, stored = vectors.get(session, ids, HashingEmbedder(DIM).name, DIM)
    assert result.chunks == len(ids) == len(found) > 1
    index = kb.index()
    np.testing.assert_array_equal(stored, index._index.reconstruct_batch(np.asarray(found, dtype=np.int64)))


def test_another_process_catches_up_from_the_database(postgres_url: str, open_kb, write_text) -> None:  # type: ignore[no-untyped-def]
    worker = open_kb(postgres_url, "worker")
    app = open_kb(postgres_url, "app", writer=False)  # its own folder: no index file, no originals
    admin = worker.actor(None)
    queued, ids = app.enqueue([write_text("memo.txt", paragraphs("budget", 12))], actor=admin)
    assert [r.outcome for r in queued] == [Outcome.QUEUED]
    assert not (Path(worker.config.data_dir) / "files").exists() or not any(worker.files.hashes())
    result = worker.ingest_document(ids[0])  # the original comes from the database
    assert result is not None and result.outcome is Outcome.OK
    hits = app.reads.search("budget paragraph 3", admin, k=3)
    assert hits and hits[0].chunk.file_name == "memo.txt"
    assert app.index().count == result.chunks  # fetched, not re-embedded
    original = worker.files.path(worker.get_document(ids[0], admin).sha256)
    assert app.document_file(ids[0], admin).read_bytes() == original.read_bytes()

    worker.delete_documents(str(ids[0]), admin)  # elsewhere: the app's index still holds the vectors
    assert app.reads.search("budget paragraph 3", admin, k=3) == []
    assert app.follower is not None and app.follower.prune(app.index()) == result.chunks
    with app.db.session() as session:
        assert vectors.get(session, list(range(1, 1000)), HashingEmbedder(DIM).name, DIM)[0] == []


def test_a_rerun_rolls_back_only_its_own_document(postgres_url: str, open_kb, write_text) -> None:  # type: ignore[no-untyped-def]
    """A killed worker left a document 'embedding' with chunks; another document is mid-ingest on a
    live worker elsewhere. Re-running the first leaves the second alone, and opening a shared
    writer (a new worker, an app restart) rolls back nothing."""
    kb = open_kb(postgres_url, "w1")
    admin = kb.actor(None)
    _, [interrupted, elsewhere] = kb.enqueue(
        [write_text("a.txt", paragraphs("alpha", 8)), write_text("b.txt", paragraphs("beta", 8))], actor=admin
    )
    drafts_of = {}
    for document_id in (interrupted, elsewhere):
        with kb.db.session() as session:
            documents.set_status(session, document_id, DocStatus.EMBEDDING)
            drafts_of[document_id] = chunks.insert_chunks(session, document_id, "", _drafts(3))
    other = open_kb(postgres_url, "w2")  # start-up of another process: no roll-back of in-flight work
    assert other.last_reconcile is not None and not other.last_reconcile.rolled_back
    with kb.db.session() as session:
        assert len(chunks.chunk_ids_of(session, [elsewhere])) == 3
    result = other.ingest_document(interrupted)
    assert result is not None and result.outcome is Outcome.OK
    with kb.db.session() as session:
        assert documents.get(session, interrupted).status == DocStatus.READY  # type: ignore[union-attr]
        assert len(chunks.chunk_ids_of(session, [elsewhere])) == 3  # still the live worker's
        assert not set(drafts_of[interrupted]) & set(chunks.chunk_ids_of(session, [interrupted]))
    assert other.ingest_document(interrupted) is None  # a duplicate job does nothing


def _drafts(n: int) -> list[object]:
    from ingestion.types import ChunkDraft

    return [ChunkDraft(i, f"text {i}", 1, 1, i * 10, i * 10 + 6) for i in range(n)]


def test_register_keeps_the_original_in_the_database_only_when_shared(postgres_url: str, open_kb, write_text) -> None:  # type: ignore[no-untyped-def]
    kb = open_kb(postgres_url, "one", shared=False)
    admin = kb.actor(None)
    work = register(kb.db, kb.files, write_text("x.txt", "some text"), groups=(), actor=admin, keep=set())
    assert isinstance(work, Work)
    from store import originals

    with kb.db.session() as session:
        assert originals.hashes(session) == set()


def test_a_document_requeued_mid_ingest_and_then_interrupted_still_reruns(  # type: ignore[no-untyped-def]
    postgres_url: str, open_kb, write_text
) -> None:
    """The same bytes uploaded again while a worker ingests them set the document back to queued;
    if that worker then dies, its chunks must not block the next run."""
    kb = open_kb(postgres_url, "w1")
    admin = kb.actor(None)
    _, [document_id] = kb.enqueue([write_text("a.txt", paragraphs("alpha", 8))], actor=admin)
    with kb.db.session() as session:
        documents.set_status(session, document_id, DocStatus.EMBEDDING)
        chunks.insert_chunks(session, document_id, "", _drafts(3))
    kb.enqueue([write_text("a.txt", paragraphs("alpha", 8))], actor=admin)  # requeued: status 'queued' again
    result = kb.ingest_document(document_id)
    assert result is not None and result.outcome is Outcome.OK
    assert kb.check() == []
