"""The Chat tab: conversations (new, rename, delete), streamed answers with their sources under
each one, stop and regenerate, thumbs up/down stored with the message."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.records import MessageInfo, UserInfo
from app.service import KnowledgeService, checks_dict, citation_dict
from app.types import Answer
from ui.guard import Guard, friendly
from ui.render import answer_markdown, escape_markdown

MODEL_CONCURRENCY = 1  # one answer at a time on the one model; other questions wait in the queue
EMPTY_KB = (
    "The knowledge base has no documents you can read yet, so there is nothing to answer from. "
    "Upload documents on the Documents tab (or ask an administrator to)."
)
Message = dict[str, Any]
Ids = list[int | None]  # the stored message id behind each Chatbot message


def to_chat(messages: list[MessageInfo]) -> tuple[list[Message], Ids]:
    shown: list[Message] = []
    for m in messages:
        if m.role == "user":
            shown.append({"role": "user", "content": escape_markdown(m.content)})
        else:
            shown.append({"role": "assistant", "content": answer_markdown(m.content, m.citations, m.checks)})
    return shown, [m.id for m in messages]


@dataclass
class ChatTab:
    service: KnowledgeService
    guard: Guard

    # ---- layout ------------------------------------------------------------------------

    def build(self) -> None:
        with gr.Row():
            with gr.Column(scale=1, min_width=220):
                new = gr.Button("New conversation", variant="primary", elem_id="kb-new-conversation")
                self.conversations = gr.Radio(label="Conversations", choices=[], elem_id="kb-conversations")
                title = gr.Textbox(label="Title", max_length=200, elem_id="kb-title")
                with gr.Row():
                    rename = gr.Button("Rename", size="sm")
                    delete = gr.Button("Delete", size="sm", variant="stop")
            with gr.Column(scale=4):
                self.notice = gr.Markdown(elem_classes=["kb-notice"], elem_id="kb-chat-notice")
                chatbot = gr.Chatbot(
                    label="Answers",
                    height=560,
                    latex_delimiters=[],  # "$5 million ... $3 million" is money, not LaTeX
                    sanitize_html=True,
                    elem_id="kb-chatbot",
                    placeholder="Ask about the company's documents; every answer cites its sources.",
                )
                question = gr.Textbox(
                    show_label=False,
                    placeholder="Ask a question…",
                    max_length=4000,
                    elem_id="kb-question",
                    autofocus=True,
                )
                with gr.Row():
                    send = gr.Button("Send", variant="primary", elem_id="kb-send")
                    stop = gr.Button("Stop", variant="stop", elem_id="kb-stop")
                    again = gr.Button("Regenerate", elem_id="kb-regenerate")
        conversation = gr.State(None)  # the open conversation's id (None: a new one on first question)
        ids = gr.State([])

        listing: list[Any] = [self.conversations]
        opened: list[Any] = [chatbot, ids, conversation, title]
        asked = [chatbot, ids, conversation, question, self.conversations]
        new.click(self.new, None, opened, api_name="new_conversation")
        self.conversations.input(self.open, [self.conversations], opened, api_name="open_conversation")
        rename.click(self.rename, [conversation, title], listing, api_name="rename_conversation")
        delete.click(self.delete, [conversation], listing + opened, api_name="delete_conversation")
        limit, model = MODEL_CONCURRENCY, "model"  # the three share one limit: one model
        ask_events = [
            send.click(
                self.ask, [question, conversation], asked, api_name="ask", concurrency_limit=limit, concurrency_id=model
            ),
            question.submit(
                self.ask,
                [question, conversation],
                asked,
                api_visibility="private",
                concurrency_limit=limit,
                concurrency_id=model,
            ),
            again.click(
                self.regenerate,
                [conversation],
                asked,
                api_name="regenerate",
                concurrency_limit=limit,
                concurrency_id=model,
            ),
        ]
        stop.click(None, None, None, cancels=ask_events)  # type: ignore[arg-type]
        chatbot.like(self.feedback, [ids], None, api_visibility="private")
        gr.api(self.rate, api_name="rate")  # the same vote for API clients, by message id

    def outputs_on_load(self) -> list[Any]:
        return [self.conversations, self.notice]

    # ---- handlers ----------------------------------------------------------------------

    @friendly
    def on_load(self, request: gr.Request) -> tuple[Any, str]:
        user = self.guard.user(request)
        return self._listing(user), self._notice(user)

    def _listing(self, user: UserInfo, selected: int | None = None) -> Any:
        choices = [(c.title or f"Conversation {c.id}", c.id) for c in self.service.conversations(user)]
        return gr.Radio(choices=choices, value=selected)

    def _notice(self, user: UserInfo) -> str:
        if any(d.status == "ready" for d in self.service.list_documents(user)):
            return ""
        return f"**{escape_markdown(EMPTY_KB)}**"

    @friendly
    def new(self, request: gr.Request) -> tuple[list[Message], Ids, None, str]:
        self.guard.user(request)
        return [], [], None, ""

    @friendly
    def open(self, conversation_id: int | None, request: gr.Request) -> tuple[list[Message], Ids, int | None, str]:
        user = self.guard.user(request)
        if conversation_id is None:
            return [], [], None, ""
        conversation_id = int(conversation_id)
        shown, ids = to_chat(self.service.messages(user, conversation_id))
        title = next((c.title for c in self.service.conversations(user) if c.id == conversation_id), "")
        return shown, ids, conversation_id, title

    @friendly
    def rename(self, conversation_id: int | None, title: str, request: gr.Request) -> Any:
        user = self.guard.user(request)
        if conversation_id is None:
            raise gr.Error("Open a conversation first.")
        if not title.strip():
            raise gr.Error("A title cannot be empty.")
        self.service.rename_conversation(user, int(conversation_id), title)
        gr.Info("Conversation renamed.")
        return self._listing(user, int(conversation_id))

    @friendly
    def delete(self, conversation_id: int | None, request: gr.Request) -> tuple[Any, list[Message], Ids, None, str]:
        user = self.guard.user(request)
        if conversation_id is None:
            raise gr.Error("Open a conversation first.")
        self.service.delete_conversation(user, int(conversation_id))
        return self._listing(user), [], [], None, ""

    @friendly
    def ask(self, question: str, conversation_id: int | None, request: gr.Request) -> Iterator[tuple[Any, ...]]:
        user = self.guard.user(request)
        question = (question or "").strip()
        if not question:
            raise gr.Error("Type a question first.")
        before: list[MessageInfo] = []
        if conversation_id is not None:
            before = self.service.messages(user, int(conversation_id))
        shown, ids = to_chat(before)
        shown.append({"role": "user", "content": escape_markdown(question)})
        if not any(d.status == "ready" for d in self.service.list_documents(user)):
            shown.append({"role": "assistant", "content": escape_markdown(EMPTY_KB)})
            yield shown, [*ids, None, None], conversation_id, "", gr.skip()
            return
        cid = None if conversation_id is None else int(conversation_id)
        yield from self._stream(user, self.service.ask_stream(question, user, cid), shown, ids, conversation_id)

    @friendly
    def regenerate(self, conversation_id: int | None, request: gr.Request) -> Iterator[tuple[Any, ...]]:
        user = self.guard.user(request)
        if conversation_id is None:
            raise gr.Error("There is no answer to regenerate yet.")
        stored = self.service.messages(user, int(conversation_id))
        if not stored or stored[-1].role != "assistant":
            raise gr.Error("There is no answer to regenerate yet.")
        shown, ids = to_chat(stored[:-1])
        stream = self.service.regenerate_stream(user, int(conversation_id))
        yield from self._stream(user, stream, shown, ids[:-1], conversation_id)

    def _stream(
        self,
        user: UserInfo,
        stream: Iterator[str | Answer],
        shown: list[Message],
        ids: Ids,
        conversation_id: int | None,
    ) -> Iterator[tuple[Any, ...]]:
        """Show pieces as the model writes them; when done, the checked answer with its sources.
        `shown` ends with the question; `ids` covers the messages before it."""
        ids = [*ids, None]  # the question (feedback goes on answers only)
        text = ""
        shown.append({"role": "assistant", "content": "…"})
        yield shown, [*ids, None], conversation_id, "", gr.skip()
        for item in stream:
            if isinstance(item, Answer):
                citations = [citation_dict(c) for c in item.citations]
                shown[-1] = {"role": "assistant", "content": answer_markdown(item.text, citations, checks_dict(item))}
                final = item.conversation_id if item.conversation_id is not None else conversation_id
                yield shown, [*ids, item.message_id], final, "", self._listing(user, final)
                return
            text += item
            shown[-1] = {"role": "assistant", "content": escape_markdown(text)}
            yield shown, [*ids, None], conversation_id, "", gr.skip()

    @friendly
    def feedback(self, ids: Ids, like: gr.LikeData, request: gr.Request) -> None:
        user = self.guard.user(request)
        index = like.index if isinstance(like.index, int) else like.index[0]
        message_id = ids[index] if 0 <= index < len(ids) else None
        if message_id is None:
            raise gr.Error("This answer is not stored (it was stopped or is still being written).")
        self._rate(user, int(message_id), like.liked is True or like.liked == "Like")

    @friendly
    def rate(self, message_id: int, up: bool, request: gr.Request) -> str:
        """Thumbs up (`up`) or down on one of the caller's own answers, by its message id."""
        self._rate(self.guard.user(request), int(message_id), bool(up))
        return "saved"

    def _rate(self, user: UserInfo, message_id: int, up: bool) -> None:
        self.service.feedback(user, message_id, up=up)
        gr.Info("Thanks, your feedback was saved.")
