"""Test doubles for the answering chain: a deterministic fake engine and a small dense retriever.

FakeEngine speaks the part of model.engine.Engine that app.adapters.llm uses. A "token" is a
whitespace-separated word of the ChatML-rendered prompt, so budgets are easy to reason about.
Replies come from `reply(messages)`; the default quotes the source sentence closest to the question.
"""

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.types import RetrievedChunk
from ingestion.service import KnowledgeBase
from model.chat_template import ChatMessage
from model.generation_config import GenerationConfig
from store.records import UserInfo

if TYPE_CHECKING:
    from app.service import KnowledgeService

CHATML_SPECIALS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")
Reply = Callable[[list[ChatMessage]], str]


def render(messages: Sequence[ChatMessage]) -> str:
    turns = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


def best_source_sentence(messages: list[ChatMessage]) -> str:
    """Answer with the source sentence sharing most words with the question, cited with its [n]."""
    from app.chain.sentences import content_words, split_sentences

    prompt = messages[-1].content
    question = content_words(prompt.rpartition("Question:")[2])
    best: tuple[int, str, int] | None = None
    for match in re.finditer(
        r"^\[(\d+)\][^\n]*\n(?:\([^\n]*\)\n)?(.*?)(?=\n\n\[\d+\]|\n\nQuestion:)", prompt, re.M | re.S
    ):
        for sentence in split_sentences(match.group(2)):
            shared = len(question & content_words(sentence.text))
            if shared and (best is None or shared > best[0]):
                best = (shared, " ".join(sentence.text.split()), int(match.group(1)))
    return f"{best[1]} [{best[2]}]" if best else "This is not in the knowledge base."


@dataclass
class FakeResult:
    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    finish_reason: str = "length"
    ttft_s: float = 0.0


class FakeStream:
    def __init__(self, words: list[str], limit: int) -> None:
        self.result = FakeResult()
        self._words, self._limit, self.closed = words, limit, False

    def __iter__(self) -> Iterator[str]:
        start = time.perf_counter()
        for i, word in enumerate(self._words[: self._limit]):
            if self.closed:
                self.result.finish_reason = "cancelled"
                return
            if i == 0:
                self.result.ttft_s = time.perf_counter() - start
            piece = word
            self.result.text += piece
            self.result.token_ids.append(i)
            yield piece
        self.result.finish_reason = "stop" if len(self._words) <= self._limit else "length"

    def close(self) -> None:
        self.closed = True


class FakeEngine:
    def __init__(self, reply: Reply | str = best_source_sentence, context_window: int = 4096) -> None:
        self.reply = reply
        self.context_window = context_window
        self.prompts: list[list[ChatMessage]] = []  # every prompt built, in order
        self.generated: list[list[ChatMessage]] = []  # the prompts actually sent to generation

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def describe(self) -> dict[str, str]:
        return {"model": "fake", "device": "none"}

    def chat_prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        self.prompts.append(list(messages))
        return [len(self.prompts) - 1] * max(self.count_tokens(render(messages)), 1)

    def stream(self, prompt_ids: Sequence[int], cfg: GenerationConfig) -> FakeStream:
        messages = self.prompts[prompt_ids[0]]
        self.generated.append(messages)
        text = self.reply if isinstance(self.reply, str) else self.reply(messages)
        return FakeStream(re.findall(r"\s*\S+", text), cfg.max_new_tokens)


class VectorRetriever:
    """Dense-only retriever over KnowledgeBase.search_vector (permission filter inside FAISS)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def retrieve(self, question: str, actor: UserInfo, k: int = 8, filters: object = None) -> list[RetrievedChunk]:
        hits = self.kb.reads.search(question, actor, k)
        return [RetrievedChunk(h.chunk, h.score, dense_score=h.score) for h in hits]


class ListRetriever:
    """Returns fixed chunks and records the questions it was asked."""

    def __init__(self, chunks: Sequence[RetrievedChunk]) -> None:
        self.chunks = list(chunks)
        self.questions: list[str] = []

    def retrieve(self, question: str, actor: UserInfo, k: int = 8, filters: object = None) -> list[RetrievedChunk]:
        self.questions.append(question)
        return self.chunks[:k]


def build_service(kb: KnowledgeBase, engine: FakeEngine | None = None, **service_options: object) -> "KnowledgeService":
    """A KnowledgeService over a real (SQLite + FAISS) knowledge base, the fake model and dense search."""
    from contextlib import nullcontext

    from app.adapters.llm import EngineChatModel
    from app.chain.rag import AnswerChain
    from app.chain.relevance import OverlapOrSimilarity
    from app.service import KnowledgeService

    llm = EngineChatModel(engine=engine or FakeEngine(), specials=CHATML_SPECIALS)
    chain = AnswerChain(llm, VectorRetriever(kb), OverlapOrSimilarity())
    return KnowledgeService(kb, chain, writer=lambda: nullcontext(kb), **service_options)  # type: ignore[arg-type]


CANARY = "Zanzibar-Quokka-7731"
CANARY_SECRET = f"The project codename is {CANARY}. The merger closes in March with Globex."
PUBLIC_HANDBOOK = "The cafeteria serves lunch at noon every weekday. Parking is free for employees."


def canary_knowledge_base(kb: KnowledgeBase, write_text: Callable[..., Path]) -> KnowledgeBase:
    """alice (group board) and bob (no group); handbook.txt for everyone, secret.txt (the canary)
    for the board only."""
    admin = kb.actor(None)
    kb.people.add_group("board", admin)
    kb.people.add_user("alice", admin=False, groups=("board",), actor=admin)
    kb.people.add_user("bob", admin=False, groups=(), actor=admin)
    kb.ingest([write_text("handbook.txt", PUBLIC_HANDBOOK)], actor=admin)
    kb.ingest([write_text("secret.txt", CANARY_SECRET)], actor=admin, groups=("board",))
    return kb
