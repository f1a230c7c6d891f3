"""The SQL store on SQLite and on a real PostgreSQL: migrations, pragmas, accounts, visibility."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, insert, inspect, select, text
from sqlalchemy.orm import Session

from ingestion.errors import ConflictError, NotFoundError
from ingestion.types import ChunkDraft
from store import accounts, chunks, documents
from store.engine import Database
from store.migrate import current_revision, head_revision, upgrade_to_head
from store.models import Base, Chunk, DocStatus, Document


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade_to_head(database.engine)
    yield database
    database.dispose()


def test_migrations_build_exactly_the_models(db: Database) -> None:
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    upgrade_to_head(db.engine)  # a second start-up is a no-op
    assert {
        "users",
        "groups",
        "memberships",
        "documents",
        "document_groups",
        "chunks",
        "ingest_jobs",
        "audit_log",
    } <= set(inspect(db.engine).get_table_names())


def test_a_migration_cut_off_halfway_leaves_no_half_schema(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill between two CREATE TABLEs must leave nothing: the next start migrates from scratch
    (on SQLite each CREATE TABLE used to commit alone, and the next start failed on "table already
    exists")."""
    import alembic.command

    from store import migrate

    database = Database(database_url)
    real_upgrade = alembic.command.upgrade

    def cut_off(config: Any, revision: str) -> None:
        config.attributes["connection"].exec_driver_sql("CREATE TABLE half_done (id INTEGER PRIMARY KEY)")
        raise KeyboardInterrupt  # the process dies here

    monkeypatch.setattr(migrate.command, "upgrade", cut_off)
    with pytest.raises(KeyboardInterrupt):
        upgrade_to_head(database.engine)
    assert "half_done" not in inspect(database.engine).get_table_names()
    monkeypatch.setattr(migrate.command, "upgrade", real_upgrade)
    upgrade_to_head(database.engine)  # the next start
    assert current_revision(database.engine) == head_revision()
    database.dispose()


def test_sqlite_connections_get_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with db.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert c.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    db.dispose()


def test_users_groups_and_memberships(db: Database) -> None:
    with db.session() as s:
        admin = accounts.ensure_admin(s, "admin")
        assert admin.is_admin and accounts.ensure_admin(s, "admin").id == admin.id
        accounts.add_group(s, "finance")
        bob = accounts.add_user(s, "bob", groups=("finance",))
        assert bob.groups == ("finance",) and not bob.is_admin
    with db.session() as s, pytest.raises(ConflictError, match="already exists"):
        accounts.add_user(s, "bob")
    with db.session() as s, pytest.raises(NotFoundError, match="kb groups add legal"):
        accounts.add_user(s, "carol", groups=("legal",))
    with db.session() as s:
        accounts.add_group(s, "legal")
        accounts.add_member(s, "legal", "bob")
        accounts.add_member(s, "legal", "bob")  # idempotent
        assert accounts.get_user(s, "bob").groups == ("finance", "legal")
        accounts.remove_member(s, "finance", "bob")
        assert [(g.name, g.members) for g in accounts.list_groups(s)] == [("finance", ()), ("legal", ("bob",))]
    with db.session() as s, pytest.raises(NotFoundError, match="not a member"):
        accounts.remove_member(s, "finance", "bob")


def _doc(session: Session, name: str, groups: tuple[str, ...] = ()) -> int:
    doc_id = documents.create_pending(
        session,
        file_name=name,
        sha256=name.ljust(64, "0")[:64],
        size=1,
        mime=None,
        uploaded_by=None,
        groups=accounts.groups_by_name(session, groups),
    )
    chunks.insert_chunks(session, doc_id, "Acme | 10-K", [ChunkDraft(0, f"{name} body", 1, 1, 0, 9)])
    documents.activate(session, doc_id)
    return doc_id


def test_visibility_groupless_for_everyone_grouped_for_members_and_admins(db: Database) -> None:
    with db.session() as s:
        admin = accounts.ensure_admin(s, "admin")
        accounts.add_group(s, "finance")
        bob = accounts.add_user(s, "bob", groups=("finance",))
        eve = accounts.add_user(s, "eve")
        public, secret = _doc(s, "public.txt"), _doc(s, "secret.txt", ("finance",))
    with db.session() as s:
        for user, expected in ((admin, {public, secret}), (bob, {public, secret}), (eve, {public})):
            assert {d.id for d in documents.list_documents(s, user)} == expected
            readable = {
                c.document_id for c in chunks.get_chunks(s, chunks.readable_chunk_ids(s, user).tolist()).values()
            }
            assert readable == expected
        stored = next(iter(chunks.get_chunks(s, chunks.readable_chunk_ids(s, eve).tolist()).values()))
        assert (stored.header, stored.text) == ("Acme | 10-K", "public.txt body")  # header kept apart
        assert stored.embedding_text == "Acme | 10-K\npublic.txt body"


def test_sha256_is_unique_and_chunk_ids_are_never_reused(db: Database) -> None:
    with db.session() as s:
        first = _doc(s, "a.txt")
        top = int(max(chunks.ready_chunk_ids(s)))
        s.execute(delete(Chunk).where(Chunk.document_id == first))
    with db.session() as s:
        new_ids = chunks.insert_chunks(s, first, "", [ChunkDraft(0, "again", 1, 1, 0, 5)])
        assert new_ids[0] > top  # FAISS may still hold the old id's vector until reconciled
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), db.session() as s:
        s.execute(
            insert(Document).values(
                file_name="b.txt", sha256="a.txt".ljust(64, "0"), size=1, status=DocStatus.QUEUED, version=1
            )
        )


def test_deleting_a_document_cascades_to_chunks_and_jobs(db: Database) -> None:
    with db.session() as s:
        doc_id = _doc(s, "a.txt")
    with db.session() as s:
        documents.delete_documents(s, [doc_id])
    with db.session() as s:
        assert s.scalar(select(Chunk.id)) is None
        assert s.execute(text("SELECT count(*) FROM ingest_jobs")).scalar() == 0
