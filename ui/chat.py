"""The Chat tab: conversations (new, search, rename, delete with confirmation), streamed answers
with their sources under each one, stop (the partial answer is kept) and regenerate, thumbs up/down
stored with the message. Controls that cannot act (Stop while nothing streams, Rename and Delete
with no conversation open) are not offered."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.records import ConversationInfo, MessageInfo, UserInfo
from app.service import KnowledgeService, checks_dict, citation_dict
from app.types import READING, STOPPED, WRITING, Answer, AnswerStage
from ui.cited_pages import CitedPages, Ids
from ui.guard import Guard, friendly
from ui.render import answer_markdown, escape_markdown, when

MODEL_CONCURRENCY = 1  # one answer at a time on the one model; other questions wait in the queue
EMPTY_KB = (
    "The knowledge base has no documents you can read yet, so there is nothing to answer from. "
    "Upload documents on the Documents tab (or ask an administrator to)."
)
STOPPED_NOTE = "Stopped: this answer is incomplete and was not checked against the sources."
SEARCHING_TEXT = "Searching documents…"


def stage_text(stage: AnswerStage) -> str:
    """What an answer in progress is doing, in words, until its first words arrive."""
    if stage.kind == READING:
        return f"Reading {stage.passages} passage{'s' if stage.passages != 1 else ''}…"
    if stage.kind == WRITING:
        return "Writing the answer…"
    return SEARCHING_TEXT

EXTRACTIVE_REGENERATE = (
    "This answer quotes the documents; regenerating would give the same text. "
    "Ask the question in other words for a different answer."
)
CHATBOT_HEIGHT, CHATBOT_MIN_HEIGHT = "calc(100vh - 340px)", 180
NOTICE_POLL_S = 5.0  # while the knowledge base is empty: how often the page looks for a first document
Message = dict[str, Any]


def stopped_markdown(text: str) -> str:
    partial = escape_markdown(text.strip())
    note = f"*{escape_markdown(STOPPED_NOTE)}*"
    return f"{partial}\n\n{note}" if partial else note


def conversation_label(c: ConversationInfo) -> str:
    """The title (or a stand-in) and when it was last active."""
    return f"{c.title or f'Conversation {c.id}'} · {when(c.updated_at)}"


def to_chat(messages: list[MessageInfo]) -> tuple[list[Message], Ids]:
    shown: list[Message] = []
    for m in messages:
        if m.role == "user":
            shown.append({"role": "user", "content": escape_markdown(m.content)})
        elif m.checks.get("outcome") == STOPPED:
            shown.append({"role": "assistant", "content": stopped_markdown(m.content)})
        else:
            shown.append({"role": "assistant", "content": answer_markdown(m.content, m.citations, m.checks)})
    return shown, [m.id for m in messages]


@dataclass
class ChatTab:
    service: KnowledgeService
    guard: Guard

    # ---- layout ------------------------------------------------------------------------

    def build(self) -> None:
        self.pages = CitedPages(self.service, self.guard)
        with gr.Row(elem_id="kb-chat-row"):
            with gr.Column(scale=1, min_width=220, elem_id="kb-conversation-column"):
                new = gr.Button("New conversation", variant="primary", elem_id="kb-new-conversation")
                search = gr.Textbox(
                    show_label=False, placeholder="Search conversations…", max_length=200, elem_id="kb-search"
                )
                self.conversations = gr.Radio(label="Conversations", choices=[], elem_id="kb-conversations")
                with gr.Column(visible=False, elem_id="kb-manage") as self.manage:  # a conversation is open
                    self.title = gr.Textbox(
                        label="Title", placeholder="A new title…", max_length=200, elem_id="kb-title"
                    )
                    with gr.Row():
                        rename = gr.Button("Rename", size="sm", elem_id="kb-rename")
                        delete = gr.Button("Delete", size="sm", elem_id="kb-delete-conversation")
                with gr.Column(visible=False, elem_id="kb-confirm-delete") as confirm:
                    gr.Markdown("Delete this conversation and all its answers? This cannot be undone.")
                    with gr.Row():
                        really = gr.Button("Delete it", size="sm", variant="stop", elem_id="kb-really-delete")
                        keep = gr.Button("Keep it", size="sm", elem_id="kb-keep-conversation")
            with gr.Column(scale=4, elem_id="kb-chat-column"):
                self.notice = gr.Markdown(elem_classes=["kb-notice"], elem_id="kb-chat-notice")
                self.timer = gr.Timer(NOTICE_POLL_S, active=False)
                self.chatbot = gr.Chatbot(
                    label="Answers",
                    # What the header, tabs, question box and buttons leave of the window, so that Send
                    # is on screen without scrolling, at 1366x900 as on a 390x844 phone (ui.render.CSS).
                    height=CHATBOT_HEIGHT,
                    min_height=CHATBOT_MIN_HEIGHT,
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
                with gr.Row(elem_id="kb-chat-buttons"):
                    send = gr.Button("Send", variant="primary", elem_id="kb-send", min_width=80)
                    stop = gr.Button("Stop", variant="secondary", interactive=False, elem_id="kb-stop", min_width=80)
                    again = gr.Button("Regenerate", interactive=False, elem_id="kb-regenerate", min_width=80)
            self.pages.build()  # beside the chat (below it on a phone)
        self.conversation = gr.State(None)  # the open conversation's id (None: a new one on first question)
        self.ids = gr.State([])
        self.filter = gr.State("")  # the search text the listing is filtered by

        listing: list[Any] = [self.conversations]
        opened: list[Any] = [self.chatbot, self.ids, self.conversation, self.title]
        asked = [self.chatbot, self.ids, self.conversation, question, self.conversations]
        private: dict[str, Any] = {"api_visibility": "private"}
        new.click(self.new, None, opened, api_name="new_conversation")
        search.change(self.search, [search], [self.conversations, self.filter], **private)
        self.conversations.input(self.open, [self.conversations], opened, api_name="open_conversation").then(
            self.pages.latest, [self.ids, self.conversation], self.pages.outputs(), **private
        )
        managed = [self.manage, confirm, again]
        self.conversation.change(self.controls, [self.conversation], managed, **private)
        rename.click(self.rename, [self.conversation, self.title, self.filter], listing, api_name="rename_conversation")
        delete.click(self.confirm, None, managed, **private)
        keep.click(self.controls, [self.conversation], managed, **private)
        really.click(
            self.delete, [self.conversation, self.filter], listing + opened, api_name="delete_conversation"
        )
        limit, model = MODEL_CONCURRENCY, "model"  # the three share one limit: one model
        answering: dict[str, Any] = {"concurrency_limit": limit, "concurrency_id": model}
        running, idle = [stop, again], [stop, again]
        ask_events = [
            send.click(self.busy, None, running, **private).success(
                self.ask, [question, self.conversation, self.filter], asked, api_name="ask", **answering
            ),
            question.submit(self.busy, None, running, **private).success(
                self.ask, [question, self.conversation, self.filter], asked, **private, **answering
            ),
            again.click(self.busy, None, running, **private).success(
                self.regenerate, [self.conversation, self.filter], asked, api_name="regenerate", **answering
            ),
        ]
        previewed = self.pages.outputs()
        for event in ask_events:
            event.then(self.idle, [self.conversation], idle, **private).then(
                self.pages.latest, [self.ids, self.conversation], previewed, **private
            )
        self.chatbot.select(self.pages.chosen, [self.ids, self.conversation], previewed, **private)
        stop.click(self.idle, [self.conversation], idle, cancels=ask_events, **private)
        self.timer.tick(self.refresh_notice, None, [self.notice, self.timer], **private)
        self.chatbot.like(self.feedback, [self.ids], None, **private)
        gr.api(self.rate, api_name="rate")  # the same vote for API clients, by message id

    def outputs_on_load(self) -> list[Any]:
        return [self.conversations, self.notice, self.timer, self.chatbot, self.ids, self.conversation, self.title]

    def notice_outputs(self) -> list[Any]:
        return [self.notice, self.timer]

    # ---- handlers ----------------------------------------------------------------------

    @friendly
    def on_load(self, request: gr.Request) -> tuple[Any, ...]:
        """The listing, and the most recently active conversation opened (after a reload, the one
        just asked in, with its question and any stopped answer)."""
        user = self.guard.user(request)
        found = self.service.conversations(user)
        latest = found[0].id if found else None
        shown, ids = to_chat(self.service.messages(user, latest)) if latest is not None else ([], [])
        title = found[0].title if found else ""
        return (self._listing(user, latest), *self._notice(user), shown, ids, latest, title)

    def _listing(self, user: UserInfo, selected: int | None = None, search: str = "") -> Any:
        found = self.service.conversations(user, search=search.strip())
        choices = [(conversation_label(c), c.id) for c in found]
        return gr.Radio(choices=choices, value=selected if selected in {c.id for c in found} else None)

    def _notice(self, user: UserInfo) -> tuple[str, Any]:
        """The empty-knowledge-base banner, and the timer that looks for a first document while it shows."""
        if any(d.status == "ready" for d in self.service.list_documents(user)):
            return "", gr.Timer(active=False)
        return f"**{escape_markdown(EMPTY_KB)}**", gr.Timer(active=True)

    @friendly
    def refresh_notice(self, request: gr.Request) -> tuple[str, Any]:
        return self._notice(self.guard.user(request))

    @friendly
    def busy(self, request: gr.Request) -> tuple[Any, Any]:
        """An answer starts: Stop becomes the red button; Regenerate waits."""
        self.guard.user(request)
        return gr.Button(variant="stop", interactive=True), gr.Button(interactive=False)

    @friendly
    def idle(self, conversation_id: int | None, request: gr.Request) -> tuple[Any, Any]:
        """No answer streams: Stop grey and disabled; Regenerate where there is a conversation."""
        self.guard.user(request)
        return gr.Button(variant="secondary", interactive=False), gr.Button(interactive=conversation_id is not None)

    @friendly
    def controls(self, conversation_id: int | None, request: gr.Request) -> tuple[Any, Any, Any]:
        """Title, Rename, Delete and Regenerate only while a conversation is open."""
        self.guard.user(request)
        is_open = conversation_id is not None
        return gr.Column(visible=is_open), gr.Column(visible=False), gr.Button(interactive=is_open)

    @friendly
    def confirm(self, request: gr.Request) -> tuple[Any, Any, Any]:
        self.guard.user(request)
        return gr.Column(visible=False), gr.Column(visible=True), gr.skip()

    @friendly
    def search(self, text: str, request: gr.Request) -> tuple[Any, str]:
        user = self.guard.user(request)
        return self._listing(user, search=text or ""), text or ""

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
    def rename(self, conversation_id: int | None, title: str, search: str | None, request: gr.Request) -> Any:
        user = self.guard.user(request)
        if conversation_id is None:
            raise gr.Error("Open a conversation first.")
        if not title.strip():
            raise gr.Error("A title cannot be empty.")
        self.service.rename_conversation(user, int(conversation_id), title)
        gr.Info("Conversation renamed.")
        return self._listing(user, int(conversation_id), search or "")

    @friendly
    def delete(
        self, conversation_id: int | None, search: str | None, request: gr.Request
    ) -> tuple[Any, list[Message], Ids, None, str]:
        user = self.guard.user(request)
        if conversation_id is None:
            raise gr.Error("Open a conversation first.")
        self.service.delete_conversation(user, int(conversation_id))
        gr.Info("Conversation deleted.")
        return self._listing(user, search=search or ""), [], [], None, ""

    @friendly
    def ask(
        self, question: str, conversation_id: int | None, search: str | None, request: gr.Request
    ) -> Iterator[tuple[Any, ...]]:
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
        stream = self.service.answer_stream(question, user, cid, stages=True)
        yield from self._stream(user, stream, shown, ids, conversation_id, search or "")

    @friendly
    def regenerate(
        self, conversation_id: int | None, search: str | None, request: gr.Request
    ) -> Iterator[tuple[Any, ...]]:
        user = self.guard.user(request)
        if conversation_id is None:
            raise gr.Error("There is no answer to regenerate yet.")
        stored = self.service.messages(user, int(conversation_id))
        if not stored or stored[-1].role != "assistant":
            raise gr.Error("There is no answer to regenerate yet.")
        if stored[-1].checks.get("method") == "extractive":  # quoted evidence: the same text by design
            gr.Info(EXTRACTIVE_REGENERATE)
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        shown, ids = to_chat(stored[:-1])
        stream = self.service.regenerate_stream(user, int(conversation_id), stages=True)
        yield from self._stream(user, stream, shown, ids[:-1], conversation_id, search or "")

    def _stream(
        self,
        user: UserInfo,
        stream: Iterator[str | Answer | AnswerStage],
        shown: list[Message],
        ids: Ids,
        conversation_id: int | None,
        search: str,
    ) -> Iterator[tuple[Any, ...]]:
        """Show what is happening, then pieces as the model writes them; when done, the checked
        answer with its sources. `shown` ends with the question; `ids` covers the messages before it.
        Stopping closes `stream` (the service keeps the partial answer)."""
        ids = [*ids, None]  # the question (feedback goes on answers only)
        text = ""
        shown.append({"role": "assistant", "content": "…"})
        yield shown, [*ids, None], conversation_id, "", gr.skip()
        for item in stream:
            if isinstance(item, AnswerStage):
                shown[-1] = {"role": "assistant", "content": escape_markdown(stage_text(item))}
                if item.conversation_id is not None and item.conversation_id != conversation_id:
                    # The question is stored: the listing shows its new conversation at once.
                    conversation_id = item.conversation_id
                    yield shown, [*ids, None], conversation_id, "", self._listing(user, conversation_id, search)
                else:
                    yield shown, [*ids, None], conversation_id, "", gr.skip()
                continue
            if isinstance(item, Answer):
                citations = [citation_dict(c) for c in item.citations]
                shown[-1] = {"role": "assistant", "content": answer_markdown(item.text, citations, checks_dict(item))}
                final = item.conversation_id if item.conversation_id is not None else conversation_id
                yield shown, [*ids, item.message_id], final, "", self._listing(user, final, search)
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
