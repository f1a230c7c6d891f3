"""The facade that the web page, the HTTP API and the CLI call. Plain dataclasses in and out.

    service.ask("What were net sales?", actor)                   -> Answer (stored in a new conversation)
    for item in service.ask_stream(q, actor, conversation_id=7):  -> str pieces, then the Answer
    service.conversations(actor); service.rename_conversation(...); service.feedback(...)
"""

import contextvars
import queue
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from app.accounts import Accounts
from app.adapters.llm import Sampling, sampled
from app.auth.keys import ApiKeys
from app.chain.rag import AnswerChain, Turn
from app.errors import KBError, PermissionDeniedError, ServerBusyError
from app.tasks.records import TaskJob
from app.types import SEARCHING, STOPPED, Answer, AnswerStage, Citation
from ingestion.errors import StoreBusyError
from ingestion.outcomes import FileResult, ProgressEvent, ProgressSink, ignore_progress
from ingestion.service import KnowledgeBase
from store.api_keys import ApiKeyStore
from store.conversation_records import ApiKeyInfo, ConversationInfo, MessageInfo
from store.conversations import ConversationStore
from store.records import DocumentInfo, GroupInfo, UserInfo

Item = TypeVar("Item")
_END = object()  # a stream with no first item
STAGE_POLL_S = 0.05  # how often stages are passed on while the chain works towards its first item
WriterOpener = Callable[[], AbstractContextManager[KnowledgeBase]]
TITLE_CHARS = 80
STOPPED_CHECKS = {"outcome": STOPPED, "method": "", "checked": []}  # stored with a stopped answer


class DocumentQueue(Protocol):
    """Where uploads go when workers ingest them (app.tasks.queue.TaskQueue)."""

    def defer(self, document_ids: Sequence[int]) -> int: ...

    def jobs(self, limit: int = 200) -> list[TaskJob]: ...


class AskQueue:
    """Questions waiting for (or being answered by) the model, bounded: past `max_waiting` the
    next asker is told 'busy, retry in N s' at once instead of waiting minutes in line."""

    def __init__(self, max_waiting: int, seconds_per_answer: float = 15.0) -> None:
        self._max_waiting, self._seconds_per_answer = max_waiting, seconds_per_answer
        self._count = threading.Lock()
        self.waiting = 0

    def check(self) -> None:
        """Refuse now if the line is full (a stream checks before its headers are sent)."""
        with self.place():
            pass

    @contextmanager
    def place(self) -> Iterator[int]:
        """Take a place in line (its 1-based position) for the duration of one answer."""
        with self._count:
            if self.waiting >= self._max_waiting:
                wait = int(self.waiting * self._seconds_per_answer)
                raise ServerBusyError(
                    f"The model is busy with {self.waiting} questions; please try again in about {wait} s.",
                    retry_after_s=max(1, wait),
                )
            self.waiting += 1
            position = self.waiting
        try:
            yield position
        finally:
            with self._count:
                self.waiting -= 1


class WriterQueue:
    """One writer at a time in this process: uploads from the API, the page and the samples wait
    their turn (at most `max_waiting` of them) instead of failing on the writer lock."""

    def __init__(self, opener: WriterOpener, max_waiting: int) -> None:
        self._opener, self._max_waiting = opener, max_waiting
        self._turn = threading.Lock()
        self._count = threading.Lock()
        self._waiting = 0

    @contextmanager
    def open(self) -> Iterator[KnowledgeBase]:
        with self._count:
            if self._waiting >= self._max_waiting:
                raise StoreBusyError(
                    f"{self._waiting} uploads are already waiting to be indexed; try again in a few minutes."
                )
            self._waiting += 1
        try:
            with self._turn, self._opener() as kb:
                yield kb
        finally:
            with self._count:
                self._waiting -= 1

    @property
    def waiting(self) -> int:
        return self._waiting


def _sampled(items: Iterator[Item], sampling: Sampling | None) -> Iterator[Item]:
    """`items`, each step run under `sampling`: a web server may run each step of a stream in
    another thread, so the setting is made again around every step, not once."""
    while True:
        with sampled(sampling):
            item = next(items, None)
        if item is None:
            return
        yield item


def _staged(
    items: Iterator[Item], reported: "queue.Queue[AnswerStage]", sampling: Sampling | None
) -> Iterator[Item | AnswerStage]:
    """`items` with the stages the chain reports while it works towards its first item (retrieval,
    reading, the model's prefill: the slow part). That first step runs on a worker thread, so the
    stages can be passed on as they happen; the rest streams as `_sampled` does."""
    box: queue.Queue[tuple[bool, object]] = queue.Queue()
    with sampled(sampling):
        context = contextvars.copy_context()

    def first() -> None:
        try:
            box.put((True, context.run(next, items, _END)))
        except BaseException as error:  # handed to the consumer, raised there
            box.put((False, error))

    worker = threading.Thread(target=first, name="kb-answer", daemon=True)
    worker.start()
    try:
        while True:
            try:
                ok, value = box.get(timeout=STAGE_POLL_S)
                break
            except queue.Empty:
                while not reported.empty():
                    yield reported.get_nowait()
    finally:
        worker.join()  # stopped early: the step must end before the chain can be closed
    if not ok:
        assert isinstance(value, BaseException)
        raise value
    if value is _END:
        return
    while not reported.empty():  # e.g. "writing", reported just before the first words
        yield reported.get_nowait()
    yield cast(Item, value)
    yield from _sampled(items, sampling)


def citation_dict(citation: Citation) -> dict[str, object]:
    return asdict(citation)


def checks_dict(answer: Answer) -> dict[str, Any]:
    """The answer's verdict as stored with the message and shown by the page and the API."""
    return {
        "outcome": answer.outcome,
        "method": answer.method,
        "checked": [asdict(c) for c in answer.checked],
    }


class KnowledgeService:
    def __init__(
        self,
        kb: KnowledgeBase,
        chain: AnswerChain,
        *,
        writer: WriterOpener | None = None,
        model_name: str = "kb",
        max_upload_bytes: int = 50 * 2**20,
        max_question_chars: int = 4000,
        max_waiting_writers: int = 64,
        max_waiting_questions: int = 32,
        tasks: DocumentQueue | None = None,
    ) -> None:
        self.kb = kb
        self.tasks = tasks  # set: uploads are queued for `kb worker` processes, not ingested here
        self.chain = chain
        self.store = ConversationStore(kb.db)
        self.keys = ApiKeys(ApiKeyStore(kb.db))
        self.accounts = Accounts(kb)  # sign-in passwords, users and groups
        self._writer = WriterQueue(writer, max_waiting_writers) if writer is not None else None
        self.model_name = model_name
        self.max_upload_bytes = max_upload_bytes
        self.max_question_chars = max_question_chars
        self.asking = AskQueue(max_waiting_questions)

    # ---- people ------------------------------------------------------------------------

    def actor(self, name: str | None) -> UserInfo:
        """The named user (the administrator when None)."""
        return self.kb.actor(name)

    def user(self, name: str) -> UserInfo | None:
        """The user called `name` as the database has them now, or None (signed-in checks)."""
        return self.accounts.user(name)

    def sign_in(self, name: str, password: str, source: str = "local") -> UserInfo | None:
        return self.accounts.sign_in(name, password, source)

    def session_fingerprint(self, name: str) -> str | None:
        return self.accounts.session_fingerprint(name)

    def ensure_admin_password(self) -> str | None:
        return self.accounts.ensure_admin_password()

    def list_users(self, actor: UserInfo) -> list[tuple[UserInfo, bool]]:
        """Every user with whether they can sign in (has a password); admins only."""
        return [(u, self.accounts.has_password(u.name)) for u in self.accounts.list_users(actor)]

    def list_groups(self, actor: UserInfo) -> list[GroupInfo]:
        """Every group for an admin; a member's own groups (whom they may share with)."""
        return self.accounts.list_groups(actor)

    def add_user(
        self, name: str, *, admin: bool, groups: tuple[str, ...], actor: UserInfo, password: str | None = None
    ) -> UserInfo:
        return self.accounts.add_user(name, admin=admin, groups=groups, actor=actor, password=password)

    def set_password(self, name: str, password: str, actor: UserInfo) -> None:
        self.accounts.set_password(name, password, actor)

    def add_group(self, name: str, actor: UserInfo) -> GroupInfo:
        return self.accounts.add_group(name, actor)

    def add_member(self, group: str, name: str, actor: UserInfo) -> None:
        self.accounts.add_member(group, name, actor)

    def remove_member(self, group: str, name: str, actor: UserInfo) -> None:
        self.accounts.remove_member(group, name, actor)

    def model_in_use(self, actor: UserInfo) -> dict[str, str]:
        """What the engine actually runs (model, device, weights, decode step, threads); admins only."""
        if not actor.is_admin:
            raise PermissionDeniedError("Only an administrator may see how the model runs.")
        engine = getattr(getattr(self.chain, "llm", None), "engine", None)
        describe = getattr(engine, "describe", None)
        return dict(describe()) if callable(describe) else {}

    @property
    def data_dir(self) -> Path:
        return self.kb.config.data_dir

    def create_api_key(self, actor: UserInfo) -> str:
        """A new API key for `actor`, returned once; only its hash is kept."""
        key, _ = self.keys.create(actor.id)
        return key

    def api_keys(self, actor: UserInfo) -> list[ApiKeyInfo]:
        """The actor's own API keys (never the keys themselves: only their shown prefix)."""
        return self.keys.store.of_user(actor.id)

    def revoke_api_key(self, actor: UserInfo, key_id: int) -> None:
        """Revoke one of the actor's own keys; it stops working at once. Another's reads as missing."""
        self.keys.store.revoke(key_id, actor.id)

    def change_own_password(self, actor: UserInfo, old: str, new: str, source: str = "local") -> None:
        """A signed-in user changes their password, proving the old one (throttled like a
        sign-in, per `source`). Their sessions end: the page asks them to sign in again."""
        if self.accounts.sign_in(actor.name, old, source) is None:
            raise PermissionDeniedError("The current password is not right (after several tries, wait a few minutes).")
        self.accounts.set_password(actor.name, new, actor)

    def user_for_key(self, key: str) -> UserInfo | None:
        name = self.keys.owner(key)
        return self.kb.actor(name) if name is not None else None

    # ---- asking ------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        actor: UserInfo,
        conversation_id: int | None = None,
        history: Sequence[tuple[str, str]] = (),
        *,
        save: bool = True,
    ) -> Answer:
        answer = None
        for item in self.ask_stream(question, actor, conversation_id, history, save=save):
            answer = item
        assert isinstance(answer, Answer)
        return answer

    def ask_stream(
        self,
        question: str,
        actor: UserInfo,
        conversation_id: int | None = None,
        history: Sequence[tuple[str, str]] = (),
        *,
        save: bool = True,
    ) -> Iterator[str | Answer]:
        """answer_stream without stages: text pieces, then the Answer."""
        items = self.answer_stream(question, actor, conversation_id, history, save=save)
        return cast(Iterator[str | Answer], items)

    def answer_stream(
        self,
        question: str,
        actor: UserInfo,
        conversation_id: int | None = None,
        history: Sequence[tuple[str, str]] = (),
        *,
        save: bool = True,
        stages: bool = False,
        sampling: Sampling | None = None,
    ) -> Iterator[str | Answer | AnswerStage]:
        """Text pieces as the model writes them, then the Answer (with checked citations).

        With `conversation_id` the history comes from that conversation (the actor's own only);
        otherwise from `history`. With `save`, the question is stored at once (in a new
        conversation if none) and the answer when it is done; an answer stopped part-way (the
        caller closed this generator) is stored as far as it got, marked stopped. With `stages`,
        an AnswerStage says what is happening before the first piece arrives. `sampling`: the
        model samples its answer (where the answer is generated, not quoted)."""
        question = question.strip()
        if not question:
            raise KBError("The question is empty.")
        self.check_length(question)
        for _, text in history:
            self.check_length(text, what="A message of the conversation")
        answer: Answer | None = None
        pieces: list[str] = []
        asked: MessageInfo | None = None
        with self.asking.place():  # before anything is stored: a 'busy' leaves no empty conversation
            if conversation_id is not None:
                history = [(m.role, m.content) for m in self.store.messages(conversation_id, actor.id)]
            elif save:
                conversation_id = self.store.create(actor.id, question[:TITLE_CHARS]).id
            if save and conversation_id is not None:
                asked = self.store.add_message(conversation_id, actor.id, "user", question)
            reported: queue.Queue[AnswerStage] = queue.Queue()
            where = conversation_id

            def on_stage(kind: str, passages: int) -> None:
                reported.put(AnswerStage(kind, where, passages))

            turn = Turn(question, actor, tuple(history), on_stage=on_stage if stages else None)
            try:
                if stages:
                    yield AnswerStage(SEARCHING, conversation_id)
                for item in _staged(self.chain.stream(turn), reported, sampling) if stages else _sampled(
                    self.chain.stream(turn), sampling
                ):
                    if isinstance(item, AnswerStage):
                        yield item
                        continue
                    if isinstance(item, Answer):
                        answer = item
                    else:
                        pieces.append(item)
                        yield item
            except GeneratorExit:  # stopped: keep what was written, so a reload shows it
                if asked is not None:
                    self.store.add_message(
                        asked.conversation_id, actor.id, "assistant", "".join(pieces), checks=STOPPED_CHECKS
                    )
                raise
            except Exception:  # failed: the question goes too (the caller shows the error)
                if asked is not None:
                    self.store.remove_message(asked.id, actor.id)
                raise
        assert answer is not None
        if save and conversation_id is not None:
            stored = self.store.add_message(
                conversation_id,
                actor.id,
                "assistant",
                answer.text,
                found=answer.found,
                citations=[citation_dict(c) for c in answer.citations],
                timings_ms=answer.timings_ms,
                checks=checks_dict(answer),
            )
            answer.conversation_id, answer.message_id = conversation_id, stored.id
        yield answer

    def check_length(self, text: str, what: str = "The question") -> None:
        """Refuse an over-long text before any work (embedding costs grow with its length)."""
        if len(text) > self.max_question_chars:
            raise KBError(
                f"{what} is {len(text):,} characters long; at most {self.max_question_chars:,} are accepted."
            )

    def regenerate_stream(
        self, actor: UserInfo, conversation_id: int, *, stages: bool = False
    ) -> Iterator[str | Answer | AnswerStage]:
        """Ask the conversation's last question again, replacing its last answer. A generated
        answer is sampled (temperature 0.7, a fresh seed) so that it can differ; a quoted
        (extractive) one is the same evidence again by design."""
        question = self.store.remove_last_turn(conversation_id, actor.id)
        if question is None:
            raise KBError("There is no question to answer again in this conversation.")
        sampling = Sampling(seed=secrets.randbelow(2**31))
        yield from self.answer_stream(question, actor, conversation_id, stages=stages, sampling=sampling)

    # ---- conversations -----------------------------------------------------------------

    def new_conversation(self, actor: UserInfo, title: str = "") -> ConversationInfo:
        return self.store.create(actor.id, title)

    def conversations(self, actor: UserInfo, search: str = "") -> list[ConversationInfo]:
        """The actor's conversations, most recently active first; with `search`, only those whose
        title or messages contain it (case-insensitive)."""
        return self.store.of_user(actor.id, search=search)

    def rename_conversation(self, actor: UserInfo, conversation_id: int, title: str) -> ConversationInfo:
        return self.store.rename(conversation_id, actor.id, title.strip()[:500])

    def delete_conversation(self, actor: UserInfo, conversation_id: int) -> None:
        self.store.delete(conversation_id, actor.id)

    def messages(self, actor: UserInfo, conversation_id: int) -> list[MessageInfo]:
        return self.store.messages(conversation_id, actor.id)

    def feedback(self, actor: UserInfo, message_id: int, *, up: bool, comment: str = "") -> None:
        """Thumbs up or down on an answer in one of the actor's own conversations."""
        self.store.set_feedback(message_id, actor.id, 1 if up else -1, comment)

    # ---- documents ---------------------------------------------------------------------

    def list_documents(self, actor: UserInfo) -> list[DocumentInfo]:
        return self.kb.list_documents(actor)

    def ingest(
        self,
        paths: Sequence[Path],
        actor: UserInfo,
        groups: tuple[str, ...] = (),
        progress: ProgressSink = ignore_progress,
    ) -> list[FileResult]:
        if self.tasks is not None:
            return self._enqueue(paths, actor, groups, progress)
        with self._open_writer() as kb:
            return kb.ingest(list(paths), actor=actor, groups=groups, resume=False, progress=progress)

    def _enqueue(
        self, paths: Sequence[Path], actor: UserInfo, groups: tuple[str, ...], progress: ProgressSink
    ) -> list[FileResult]:
        """Register the files (originals into the database) and queue a job for each; a kill in
        between leaves documents that a worker's sweep queues."""
        assert self.tasks is not None
        results, queued = self.kb.enqueue(list(paths), actor=actor, groups=groups)
        self.tasks.defer(queued)
        progress(ProgressEvent("planned", files=len(queued)))
        for result in results:
            progress(ProgressEvent("finished", result.file_name, result=result))
        return results

    def recover(self) -> list[FileResult]:
        """At server start: repair SQL and FAISS after a crash (a lost or unreadable index is
        rebuilt from SQL, as the writer's reconciliation does) and finish the documents that an
        interrupted run left queued. Returns the resumed documents' results. With a task queue,
        the index is aligned with the database and the workers finish the documents."""
        with self._open_writer() as kb:
            if self.tasks is not None:
                return []
            return kb.ingest([], actor=kb.actor(None), resume=True)

    def document_file(self, document_id: int, actor: UserInfo) -> tuple[DocumentInfo, Path]:
        """A readable document and its stored original (for opening it at a page)."""
        return self.kb.get_document(document_id, actor), self.kb.document_file(document_id, actor)

    def page_text(self, actor: UserInfo, document_id: int, page: int) -> str:
        """The extracted text of one page of a document the actor may read (a preview of a cited
        page beside the answer); another's document reads as missing."""
        self.kb.get_document(document_id, actor)
        return self.kb.reads.page_text(document_id, page)

    def set_document_groups(self, document_id: int, groups: tuple[str, ...], actor: UserInfo) -> DocumentInfo:
        return self.kb.set_document_groups(document_id, groups, actor)

    def ingest_queue(self, actor: UserInfo) -> list[DocumentInfo]:
        """Documents not (yet) ready: queued, in flight or failed, oldest first (admins only)."""
        if not actor.is_admin:
            raise PermissionDeniedError("Only an administrator may see the ingestion queue.")
        return sorted((d for d in self.kb.list_documents(actor) if d.status != "ready"), key=lambda d: d.id)

    def task_jobs(self, actor: UserInfo) -> list[TaskJob]:
        """The task queue's ingest jobs (queued, running, failed, attempts), newest first; admins
        only. Empty when documents are ingested in this process."""
        if not actor.is_admin:
            raise PermissionDeniedError("Only an administrator may see the task queue.")
        return self.tasks.jobs() if self.tasks is not None else []

    def eval_results(self, actor: UserInfo) -> list[dict[str, Any]]:
        """Summaries of recent `kb eval` runs, newest first (admins only)."""
        from app.eval.history import load_summaries

        if not actor.is_admin:
            raise PermissionDeniedError("Only an administrator may see evaluation results.")
        return load_summaries(self.kb.config.data_dir / "eval")

    def delete_document(self, document_id: int, actor: UserInfo) -> list[DocumentInfo]:
        self.kb.get_document(document_id, actor)  # unreadable reads as missing
        with self._open_writer() as kb:
            return kb.delete_documents(str(document_id), actor)

    def _open_writer(self) -> AbstractContextManager[KnowledgeBase]:
        if self._writer is None:
            raise KBError("This server was started read-only; documents cannot be changed here.")
        return self._writer.open()
