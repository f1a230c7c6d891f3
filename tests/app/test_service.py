"""The service over a real SQLite + FAISS knowledge base with the fake model: stored
conversations per user, feedback, and the permission canary."""

from collections.abc import Callable
from pathlib import Path

import pytest

from app.service import KnowledgeService
from app.types import Answer
from ingestion.errors import NotFoundError, PermissionDeniedError
from ingestion.service import KnowledgeBase
from tests.app.fake_llm import CANARY, FakeEngine, build_service, canary_knowledge_base


@pytest.fixture
def kb(make_kb: Callable[..., KnowledgeBase], write_text: Callable[..., Path]) -> KnowledgeBase:
    return canary_knowledge_base(make_kb(), write_text)


def test_answers_are_stored_per_user_with_citations_and_timings(kb: KnowledgeBase) -> None:
    service = build_service(kb)
    alice, bob = service.actor("alice"), service.actor("bob")
    answer = service.ask("When does the cafeteria serve lunch?", alice)
    assert answer.found and answer.citations[0].document == "handbook.txt"
    assert answer.conversation_id is not None and answer.message_id is not None
    user_msg, bot_msg = service.messages(alice, answer.conversation_id)
    assert (user_msg.role, bot_msg.role) == ("user", "assistant")
    assert bot_msg.citations[0]["document"] == "handbook.txt" and bot_msg.citations[0]["page"] == 1
    assert "total_ms" in bot_msg.timings_ms and bot_msg.found is True
    assert [c.id for c in service.conversations(alice)] == [answer.conversation_id]
    assert service.conversations(bob) == []
    for attempt in (
        lambda: service.messages(bob, answer.conversation_id),  # type: ignore[arg-type]
        lambda: service.rename_conversation(bob, answer.conversation_id, "mine"),  # type: ignore[arg-type]
        lambda: service.delete_conversation(bob, answer.conversation_id),  # type: ignore[arg-type]
        lambda: service.feedback(bob, answer.message_id, up=True),  # type: ignore[arg-type]
    ):
        with pytest.raises(NotFoundError):
            attempt()
    service.feedback(alice, answer.message_id, up=False)
    service.feedback(alice, answer.message_id, up=True)  # a second vote replaces the first
    assert service.store.feedback(answer.message_id, alice.id) == 1
    assert service.rename_conversation(alice, answer.conversation_id, "Lunch").title == "Lunch"
    service.delete_conversation(alice, answer.conversation_id)
    assert service.conversations(alice) == []


def test_a_follow_up_in_a_conversation_is_condensed_from_its_history(kb: KnowledgeBase) -> None:
    def reply(messages: list) -> str:
        if "Standalone question" in messages[-1].content:
            return "Is parking free for employees?"
        return "Parking is free for employees [1]."

    engine = FakeEngine(reply)
    service = build_service(kb, engine)
    alice = service.actor("alice")
    first = service.ask("When does the cafeteria serve lunch?", alice)
    second = service.ask("And parking?", alice, conversation_id=first.conversation_id)
    assert "cafeteria" in engine.generated[-2][-1].content  # the condenser saw the stored history
    assert second.found and second.conversation_id == first.conversation_id
    assert len(service.messages(alice, first.conversation_id)) == 4  # type: ignore[arg-type]


def test_streaming_yields_pieces_then_the_answer(kb: KnowledgeBase) -> None:
    service = build_service(kb)
    items = list(service.ask_stream("When is lunch served at the cafeteria?", service.actor("bob"), save=False))
    assert all(isinstance(i, str) for i in items[:-1]) and isinstance(items[-1], Answer)
    assert "".join(items[:-1]).startswith("The cafeteria serves lunch")  # type: ignore[arg-type]
    assert items[-1].conversation_id is None


def test_canary_never_reaches_a_user_outside_its_group(kb: KnowledgeBase) -> None:
    engine = FakeEngine()
    service: KnowledgeService = build_service(kb, engine)
    questions = [f"What is the project codename {CANARY}?", "When does the merger with Globex close?"]
    for question in questions:
        answer = service.ask(question, service.actor("bob"))
        shown = [answer.text, *(c.snippet + c.sentence + c.document for c in answer.citations)]
        assert not any(CANARY in s or "secret.txt" in s for s in shown)
        assert all(s.chunk.file_name != "secret.txt" for s in answer.sources)
    # The model itself never read the document (the question names the canary, the sources must not).
    sources_seen = [m.content.rpartition("Question:")[0] for prompt in engine.prompts for m in prompt]
    assert not any(CANARY in text or "secret.txt" in text for text in sources_seen)
    # ...while a member of the group gets it, cited (asked without it: an answer only saying the
    # question back is no answer).
    answer = service.ask("What is the project codename?", service.actor("alice"))
    assert answer.found and answer.citations[0].document == "secret.txt" and CANARY in answer.citations[0].snippet


def test_a_sentence_is_cited_with_its_own_page_inside_a_multi_page_chunk(
    make_kb: Callable[..., KnowledgeBase],
) -> None:
    """The Foot Locker 8-K's short pages 2-4 share chunks; the designation sentence is on page 3."""
    from tests.conftest import FOOTLOCKER_PDF

    if not FOOTLOCKER_PDF.is_file():
        pytest.skip(f"{FOOTLOCKER_PDF} is not available")
    kb = make_kb()
    admin = kb.actor(None)
    kb.ingest([FOOTLOCKER_PDF], actor=admin)
    spanning = [c for batch in kb.reads.iter_chunks() for c in batch if c.page_start < c.page_end]
    assert spanning and all(len(c.page_breaks) == c.page_end - c.page_start for c in spanning)
    answer = build_service(kb).ask("Whom did the Board designate as the audit committee financial expert?", admin)
    assert answer.found and answer.citations
    cited = answer.citations[0]
    assert "audit committee financial expert" in cited.sentence and cited.page == 3, cited


def test_a_stopped_answer_keeps_its_question_and_what_was_written(kb: KnowledgeBase) -> None:
    from app.types import SEARCHING, STOPPED, AnswerStage

    engine = FakeEngine("The cafeteria serves lunch at noon every weekday. " * 5 + "[1]")
    service = build_service(kb, engine)
    bob = service.actor("bob")
    items = service.answer_stream("When does the cafeteria serve lunch?", bob, stages=True)
    stage = next(items)
    assert isinstance(stage, AnswerStage) and stage.kind == SEARCHING and stage.conversation_id is not None
    question, = service.messages(bob, stage.conversation_id)  # stored when asked, before any answer
    assert (question.role, question.content) == ("user", "When does the cafeteria serve lunch?")
    pieces: list[str] = []
    while len(pieces) < 4:
        item = next(items)
        if isinstance(item, str):  # (stages come first: reading, writing)
            pieces.append(item)
    items.close()  # what the page's Stop does to the stream
    stored = service.messages(bob, stage.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].content == "".join(pieces)
    assert stored[1].checks["outcome"] == STOPPED and stored[1].citations == []
    regenerated = service.ask("When does the cafeteria serve lunch?", bob, conversation_id=stage.conversation_id)
    assert regenerated.found  # the conversation goes on after a stop


def test_a_failed_answer_leaves_no_question_behind(kb: KnowledgeBase) -> None:
    def broken(messages: list) -> str:
        raise RuntimeError("the model fell over")

    service = build_service(kb, FakeEngine(broken))
    bob = service.actor("bob")
    with pytest.raises(RuntimeError):
        service.ask("When does the cafeteria serve lunch?", bob)
    assert all(service.messages(bob, c.id) == [] for c in service.conversations(bob))


def test_regenerate_samples_a_generated_answer_with_a_fresh_seed(kb: KnowledgeBase) -> None:
    configs: list[object] = []

    class Recording(FakeEngine):
        def stream(self, prompt_ids, cfg):  # type: ignore[no-untyped-def]
            configs.append(cfg)
            return super().stream(prompt_ids, cfg)

    service = build_service(kb, Recording())
    bob = service.actor("bob")
    first = service.ask("When does the cafeteria serve lunch?", bob)
    assert configs[-1].temperature == 0.0  # type: ignore[attr-defined]  # a question: greedy
    for _ in range(2):
        items = list(service.regenerate_stream(bob, first.conversation_id))  # type: ignore[arg-type]
        assert isinstance(items[-1], Answer) and items[-1].found
    seeds = [c.seed for c in configs[-2:]]  # type: ignore[attr-defined]
    assert all(c.temperature == 0.7 and c.top_p == 0.95 for c in configs[-2:])  # type: ignore[attr-defined]
    assert None not in seeds and seeds[0] != seeds[1]
    service.ask("When does the cafeteria serve lunch?", bob)
    assert configs[-1].temperature == 0.0  # type: ignore[attr-defined]  # sampling ended with the regeneration
    assert len(service.messages(bob, first.conversation_id)) == 2  # type: ignore[arg-type]


def test_conversations_are_found_by_title_or_message(kb: KnowledgeBase) -> None:
    service = build_service(kb)
    alice = service.actor("alice")
    lunch = service.ask("When does the cafeteria serve lunch?", alice)
    parking = service.ask("Is parking free for employees?", alice)
    service.rename_conversation(alice, parking.conversation_id, "Cars 100%")  # type: ignore[arg-type]
    assert [c.id for c in service.conversations(alice, search="CAFETERIA")] == [lunch.conversation_id]
    assert [c.id for c in service.conversations(alice, search="noon")] == [lunch.conversation_id]  # the answer
    assert [c.id for c in service.conversations(alice, search="100%")] == [parking.conversation_id]
    assert service.conversations(alice, search="1%") == []  # % is taken literally
    assert service.conversations(service.actor("bob"), search="cafeteria") == []


def test_own_api_keys_and_password(kb: KnowledgeBase) -> None:
    service = build_service(kb)
    alice, bob = service.actor("alice"), service.actor("bob")
    key = service.create_api_key(bob)
    (info,) = service.api_keys(bob)
    assert service.api_keys(alice) == [] and key.startswith(info.prefix)
    with pytest.raises(NotFoundError):  # another user's key reads as missing
        service.revoke_api_key(alice, info.id)
    service.revoke_api_key(bob, info.id)
    assert service.user_for_key(key) is None and service.api_keys(bob)[0].revoked
    service.accounts.set_password("bob", "bob-password-1", service.actor(None))
    with pytest.raises(PermissionDeniedError):
        service.change_own_password(bob, "not-his-password", "bob-password-2")
    service.change_own_password(bob, "bob-password-1", "bob-password-2")
    assert service.sign_in("bob", "bob-password-2") is not None


def test_stages_are_reported_before_the_first_words(kb: KnowledgeBase) -> None:
    import time

    from app.types import READING, SEARCHING, WRITING, AnswerStage

    def slow(messages: list) -> str:  # the model's prefill, say
        time.sleep(0.3)
        return "The cafeteria serves lunch at noon every weekday. [1]"

    service = build_service(kb, FakeEngine(slow))
    bob = service.actor("bob")
    items = list(service.answer_stream("When does the cafeteria serve lunch?", bob, stages=True))
    stages = [i for i in items if isinstance(i, AnswerStage)]
    assert [s.kind for s in stages] == [SEARCHING, READING, WRITING]
    assert stages[1].passages >= 1 and all(s.conversation_id == stages[0].conversation_id for s in stages)
    first_text = next(n for n, i in enumerate(items) if isinstance(i, str))
    assert first_text > items.index(stages[-1]) and isinstance(items[-1], Answer) and items[-1].found
    assert all(isinstance(i, (str, Answer)) for i in service.ask_stream("Is parking free?", bob))  # no stages

    stopped = service.answer_stream("Is parking free for employees?", bob, stages=True)
    searching = next(stopped)
    assert isinstance(searching, AnswerStage)
    next(stopped)  # a stage or the first words: the worker is (or was) busy
    stopped.close()  # waits for the worker's step, then keeps the question and what was written
    kept = service.messages(bob, searching.conversation_id)  # type: ignore[arg-type]
    assert [m.role for m in kept][-2:] == ["user", "assistant"] and kept[-1].checks["outcome"] == "stopped"


def test_the_text_of_a_cited_page_for_those_who_may_read_it(kb: KnowledgeBase) -> None:
    from tests.conftest import FOOTLOCKER_PDF

    if not FOOTLOCKER_PDF.is_file():
        pytest.skip(f"{FOOTLOCKER_PDF} is missing")
    (result,) = kb.ingest([FOOTLOCKER_PDF], actor=kb.actor(None), groups=("board",))
    service = build_service(kb)
    alice, bob = service.actor("alice"), service.actor("bob")
    assert result.document_id is not None
    second = service.page_text(alice, result.document_id, 2)
    assert "96,089,997 shares" in second and "96,089,997" not in service.page_text(alice, result.document_id, 1)
    with pytest.raises(NotFoundError):  # the board's document reads as missing to bob
        service.page_text(bob, result.document_id, 2)
