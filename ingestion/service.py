"""The ingestion layer's front door: what app/ calls. Plain dataclasses in and out.

    kb = KnowledgeBase.open(config, embedder=load_embedder, writer=True)   # migrate + reconcile
    kb.ingest(paths, actor=kb.actor(None), groups=("finance",))
    kb.list_documents(actor); kb.delete_documents("report.pdf", actor)
    kb.reads.search("net sales", actor, k=8)    # permission filter inside FAISS
    kb.reindex()

A writer holds the data folder's writer lock for its lifetime; readers (the web app answering
questions) take no lock and pick up the writer's saved index when SQL says they must.
"""

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.atomic import remove_stale_temps
from ingestion.errors import IndexCorruptError, NotFoundError, PermissionDeniedError, StoreError
from ingestion.files import FileStore
from ingestion.follow import IndexFollower
from ingestion.index import IndexSpec, IndexTuning, VectorIndex
from ingestion.intake import Work, pending_work, register, work_of
from ingestion.lock import WriterLock
from ingestion.outcomes import FileResult, Outcome, ProgressEvent, ProgressSink, ignore_progress
from ingestion.pipeline import IngestOptions, Parser, Pipeline
from ingestion.reads import ChunkReads
from ingestion.reconcile import ReconcileReport, consistency_problems, reconcile
from ingestion.types import Embedder
from store import accounts, audit, chunks, documents, originals
from store import vectors as stored_vectors
from store.engine import Database
from store.migrate import upgrade_to_head
from store.models import DocStatus
from store.people import People
from store.records import (
    DocumentInfo,
    UserInfo,
)

log = logging.getLogger(__name__)

EmbedderFactory = Callable[[], Embedder]


@dataclass(frozen=True)
class StoreConfig:
    data_dir: Path
    database_url: str | None = None  # default: SQLite at <data_dir>/kb.sqlite3
    admin_name: str = "admin"  # who the server's shell acts as
    tuning: IndexTuning = field(default_factory=IndexTuning)
    ingest: IngestOptions = field(default_factory=IngestOptions)
    lock_wait_s: float = 0.0
    # Several processes on several machines share this (PostgreSQL) database: originals are kept in
    # it, indexes follow its stored vectors, and no process rolls back another's in-flight work.
    shared: bool = False

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'kb.sqlite3').resolve()}"

    @property
    def index_path(self) -> Path:
        return self.data_dir / "index.faiss"


@dataclass(frozen=True)
class ReindexReport:
    embedder: str
    dim: int
    chunks: int
    kind: str


class KnowledgeBase:
    def __init__(self, config: StoreConfig, db: Database, embedder: EmbedderFactory | None) -> None:
        self.config = config
        self.db = db
        self.files = FileStore(config.data_dir / "files")
        self.scratch = config.data_dir / "tmp"
        self._embedder_factory = embedder
        self._embedder: Embedder | None = None
        self._index: VectorIndex | None = None
        self._lock: WriterLock | None = None
        self.last_reconcile: ReconcileReport | None = None
        self.people = People(db, config.admin_name)  # users, groups, memberships, audit log
        self.follower = IndexFollower(db, lambda: self.embedder) if config.shared else None
        self.reads = ChunkReads(
            db, config.index_path, self.index, lambda: self._index is not None, lambda: self.embedder, self.follower
        )

    # ---- life cycle ---------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        config: StoreConfig,
        *,
        embedder: EmbedderFactory | None = None,
        writer: bool = False,
        align_index: bool = True,
    ) -> "KnowledgeBase":
        """Migrate the schema; as a writer also take the lock and reconcile SQL with FAISS
        (`align_index=False`: SQL and files only, for a reindex that replaces the index anyway)."""
        config.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(config.url)
        kb = cls(config, db, embedder)
        try:
            upgrade_to_head(db.engine)
            with db.session() as session:
                accounts.ensure_admin(session, config.admin_name)
            if writer:
                kb._lock = WriterLock(config.data_dir / "writer.lock", wait_s=config.lock_wait_s).acquire()
                kb.last_reconcile = kb.reconcile(with_index=align_index)
        except BaseException:
            kb.close()
            raise
        return kb

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        self.db.dispose()

    def __enter__(self) -> "KnowledgeBase":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _require_writer(self) -> None:
        if self._lock is None:
            raise StoreError("This knowledge base was opened read-only; open it as a writer to change it.")

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            if self._embedder_factory is None:
                raise StoreError("No embedder is configured for this operation.")
            self._embedder = self._embedder_factory()
        return self._embedder

    def spec(self) -> IndexSpec:
        return IndexSpec(self.embedder.name, self.embedder.dim)

    def index(self, *, check_embedder: bool = True) -> VectorIndex:
        """The vector index; refused when it was built by another embedder (unless not checking)."""
        if self._index is None:
            spec = self.spec() if check_embedder or not self.config.index_path.exists() else None
            self._index = VectorIndex.open(self.config.index_path, spec, self.config.tuning)
        elif check_embedder:
            from ingestion.index import check_spec

            check_spec(self._index.spec, self.spec())
        return self._index

    def reconcile(self, *, with_index: bool = True) -> ReconcileReport:
        """Roll back interrupted ingests, align FAISS with SQL, drop stray files."""
        self._require_writer()
        if self.follower is not None:
            return self._align_shared(with_index)
        has_embedder = self._embedder_factory is not None
        index: VectorIndex | None = None
        if with_index and has_embedder:
            self._set_aside_if_unreadable()
        if with_index and (self.config.index_path.exists() or has_embedder):
            index = self.index(check_embedder=has_embedder)
        embedder = self.embedder if has_embedder else None
        report = reconcile(self.db, index, self.files, self.scratch, embedder)
        if report.reembedded or report.missing_vectors:
            log.warning(
                "the vector index lacked %d ready chunks: %d re-embedded, %d still missing",
                report.reembedded + report.missing_vectors,
                report.reembedded,
                report.missing_vectors,
            )
        if report.changed:
            log.info("reconciled: %s", report)
        return report

    def _align_shared(self, with_index: bool) -> ReconcileReport:
        """Shared database: in-flight documents may be running on another machine, so they are left
        to their jobs (which roll back their own earlier attempt); the local index is aligned with
        the stored vectors, and only this process's scratch folder is cleared."""
        from ingestion.shared import align_with_database

        removed = added = 0
        follower = self.follower
        if with_index and follower is not None and self._embedder_factory is not None:
            self._set_aside_if_unreadable()
            removed, added = align_with_database(self.db, self.index(), follower)
        stale = remove_stale_temps(self.config.data_dir)
        shutil.rmtree(self.scratch, ignore_errors=True)
        return ReconcileReport(orphan_vectors=removed, reembedded=added, stale_files=stale)

    def _set_aside_if_unreadable(self) -> None:
        """A truncated or unreadable index is moved aside (kept for inspection) so that the
        reconciliation that follows rebuilds it from SQL; it is never silently served empty."""
        try:
            self.index(check_embedder=False)
        except IndexCorruptError as error:
            aside = self.config.index_path.with_name(f"{self.config.index_path.name}.unreadable-{int(time.time())}")
            self.config.index_path.rename(aside)
            self._index = None
            log.error("%s; moved to %s, rebuilding the index from the database", error, aside.name)

    def check(self) -> list[str]:
        """Consistency problems between SQL and FAISS (empty when none)."""
        index = self.index(check_embedder=False) if self.config.index_path.exists() else None
        return consistency_problems(self.db, index)

    # ---- who acts ------------------------------------------------------------------------

    def actor(self, name: str | None) -> UserInfo:
        """The user a command acts as: the administrator unless a name is given."""
        return self.people.actor(name)

    # ---- documents ----------------------------------------------------------------------

    def pipeline(self, actor: UserInfo, parser: Parser | None = None) -> Pipeline:
        return Pipeline(
            self.db,
            self.index(),
            self.files,
            self.embedder,
            self.scratch,
            self.config.ingest,
            parser,
            actor.name,
        )

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        actor: UserInfo,
        groups: tuple[str, ...] = (),
        progress: ProgressSink = ignore_progress,
        parser: Parser | None = None,
        resume: bool = True,
    ) -> list[FileResult]:
        """Ingest files (already filtered to supported types), plus, with `resume`, documents left
        queued by an earlier run. One result per path, then one per resumed document."""
        if self.config.shared:  # queued documents may be running on a worker elsewhere right now
            raise StoreError("With a shared database documents are ingested by `kb worker`; queue them (enqueue).")
        self._require_writer()
        if not actor.is_admin and not set(groups) <= set(actor.groups):
            own = ", ".join(actor.groups) or "none"
            raise PermissionDeniedError(f"{actor.name} may share documents only with own groups ({own}).")
        with self.db.session() as session:
            accounts.groups_by_name(session, groups)  # unknown group names fail before any work
        results: dict[int, FileResult] = {}
        works: list[tuple[int, Work]] = []
        queued: set[int] = set()
        for position, path in enumerate(paths):
            registered = register(self.db, self.files, path, groups=groups, actor=actor, keep=queued)
            if isinstance(registered, Work):
                if registered.document_id in queued:  # the same bytes twice in one run
                    results[position] = FileResult(
                        str(path),
                        path.name,
                        Outcome.DUPLICATE,
                        registered.document_id,
                        message="the same file appears earlier in this run",
                    )
                    continue
                queued.add(registered.document_id)
                works.append((position, registered))
            else:
                results[position] = registered
        if resume:
            extra = [w for w in pending_work(self.db) if w.document_id not in queued]
            works += [(len(paths) + i, w) for i, w in enumerate(extra)]
        progress(ProgressEvent("planned", files=len(works)))
        for (position, _), result in zip(
            works, self.pipeline(actor, parser).run([w for _, w in works], progress), strict=True
        ):
            results[position] = result
        return [results[p] for p in sorted(results)]

    def enqueue(
        self, paths: Sequence[Path], *, actor: UserInfo, groups: tuple[str, ...] = ()
    ) -> tuple[list[FileResult], list[int]]:
        """Shared database: register files (originals into the database) for workers to ingest,
        without the writer lock. Returns one result per path and the ids of the queued documents."""
        if not self.config.shared:
            raise StoreError("Documents are queued for workers only when the database is shared (KB_TASK_QUEUE).")
        if not actor.is_admin and not set(groups) <= set(actor.groups):
            own = ", ".join(actor.groups) or "none"
            raise PermissionDeniedError(f"{actor.name} may share documents only with own groups ({own}).")
        with self.db.session() as session:
            accounts.groups_by_name(session, groups)
        results: list[FileResult] = []
        queued: set[int] = set()
        for path in paths:
            registered = register(
                self.db, self.files, path, groups=groups, actor=actor, keep=queued, keep_in_db=True
            )
            if isinstance(registered, Work):
                queued.add(registered.document_id)
                message = "queued for a worker" + (" (a new version)" if registered.replaces else "")
                registered = FileResult(str(path), path.name, Outcome.QUEUED, registered.document_id, message=message)
            results.append(registered)
        return results, sorted(queued)

    def ingest_document(self, document_id: int, progress: ProgressSink = ignore_progress) -> FileResult | None:
        """A worker's job: (re)run the ingest of one queued document, after undoing what an earlier,
        interrupted attempt left. None when there is nothing to do (ready, failed or deleted)."""
        from ingestion.shared import fetch_original, roll_back_document

        self._require_writer()
        status = roll_back_document(self.db, document_id)
        if status != DocStatus.QUEUED:
            return None
        work = work_of(self.db, document_id)
        if work is None:
            return None
        fetch_original(self.db, self.files, work.sha256)
        return self.pipeline(self.actor(None)).run([work], progress)[0]

    def list_documents(self, actor: UserInfo, *, include_superseded: bool = False) -> list[DocumentInfo]:
        with self.db.session() as session:
            return documents.list_documents(session, actor, include_superseded=include_superseded)

    def get_document(self, document_id: int, actor: UserInfo) -> DocumentInfo:
        with self.db.session() as session:
            found = [d for d in documents.resolve(session, str(document_id), actor) if d.id == document_id]
        if not found:
            raise NotFoundError(f"There is no document with id {document_id}.")
        return found[0]

    def document_file(self, document_id: int, actor: UserInfo) -> Path:
        """The stored original, for serving a page (readable documents only)."""
        sha = self.get_document(document_id, actor).sha256
        if self.config.shared:
            from ingestion.shared import fetch_original

            return fetch_original(self.db, self.files, sha)
        return self.files.path(sha)

    def set_document_groups(self, document_id: int, groups: tuple[str, ...], actor: UserInfo) -> DocumentInfo:
        """Share a document with `groups` only (none: everyone). Its uploader (with own groups) or an admin."""
        doc = self.get_document(document_id, actor)
        if not actor.is_admin and (doc.uploaded_by != actor.name or not set(groups) <= set(actor.groups)):
            own = ", ".join(actor.groups) or "none"
            raise PermissionDeniedError(f"{actor.name} may share only own uploads, and only with own groups ({own}).")
        with self.db.session() as session:
            documents.set_groups(session, document_id, accounts.groups_by_name(session, groups))
            audit.record(session, actor.name, "document.groups", f"{doc.file_name} (id {doc.id}): {', '.join(groups)}")
        with self.db.session() as session:
            found = documents.get(session, document_id)
        assert found is not None
        return found

    def delete_documents(self, ref: str, actor: UserInfo) -> list[DocumentInfo]:
        """Delete by id, or every version of a file name: rows, chunks, vectors, stored files."""
        self._require_writer()
        with self.db.session() as session:
            found = documents.resolve(session, ref, actor)
            if ref.isdigit() and any(d.id == int(ref) for d in found):
                found = [d for d in found if d.id == int(ref)]
            # Removing the current version removes its history too; superseded rows hide anyway.
            # (Only the found documents' own history: other documents of the same name stay.)
            ids = documents.with_history(session, [d.id for d in found]) if not ref.isdigit() else {d.id for d in found}
        for doc in found:
            if not actor.is_admin and doc.uploaded_by != actor.name:
                raise PermissionDeniedError(
                    f"{actor.name} may not delete {doc.file_name}; only its uploader or an admin may."
                )
        with self.db.session() as session:
            chunk_ids = chunks.chunk_ids_of(session, sorted(ids))
        if chunk_ids and self.config.index_path.exists():
            index = self.index(check_embedder=False)
            if index.remove(chunk_ids):
                index.save()  # vectors first: a crash now leaves chunks of ready docs to re-embed
        with self.db.session() as session:
            hashes = [d.sha256 for d in found]
            documents.delete_documents(session, sorted(ids))
            for doc in found:
                audit.record(session, actor.name, "document.delete", f"{doc.file_name} (id {doc.id})")
        with self.db.session() as session:
            known = documents.known_hashes(session)
            originals.remove(session, set(hashes) - known)
        for sha in hashes:
            if sha not in known:
                self.files.remove(sha)
        return found

    # ---- re-embedding -------------------------------------------------------------------

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> ReindexReport:
        """Re-embed every ready chunk with the configured embedder into a fresh index, then
        replace the old index file in one rename. Until then the old index stays in use."""
        self._require_writer()
        embedder = self.embedder
        fresh = VectorIndex(self.config.index_path, self.spec(), self.config.tuning)
        with self.db.session() as session:
            total = int(chunks.ready_chunk_ids(session).size)
        done = 0
        for part in self.reads.iter_chunks(batch=max(1, self.config.ingest.embed_batch)):
            ids, vectors = [c.id for c in part], embedder.embed_documents([c.embedding_text for c in part])
            fresh.add(ids, vectors)
            with self.db.session() as session:  # the stored vectors follow (other processes load them)
                stored_vectors.put(session, ids, embedder.name, vectors)
            done += len(part)
            if progress is not None:
                progress(done, total)
        fresh.save()
        self._index = fresh
        with self.db.session() as session:
            audit.record(session, self.config.admin_name, "index.rebuild", f"{embedder.name}, {done} chunks")
        return ReindexReport(embedder.name, embedder.dim, done, fresh.kind)
