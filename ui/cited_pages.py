"""The pages an answer cites, beside the chat (kotaemon-style): each page's extracted text around
the supporting sentence, highlighted, with the link that opens the original there. Shown for the
latest answer and for any answer clicked; only documents the user may still read."""

from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.errors import USER_FACING_ERRORS
from app.records import UserInfo
from app.service import KnowledgeService
from ui.guard import Guard, friendly
from ui.render import page_preview_html

Ids = list[int | None]  # the stored message id behind each Chatbot message


@dataclass
class CitedPages:
    service: KnowledgeService
    guard: Guard

    def build(self) -> None:
        with gr.Column(scale=2, min_width=260, visible=False, elem_id="kb-preview-column") as self.column:
            gr.Markdown("**Cited pages** (click an answer to see its sources here)")
            self.html = gr.HTML(elem_id="kb-preview")

    def outputs(self) -> list[Any]:
        return [self.html, self.column]

    @friendly
    def latest(self, ids: Ids, conversation_id: int | None, request: gr.Request) -> tuple[str, Any]:
        """After an answer (or on opening a conversation): the pages the last answer cites."""
        user = self.guard.user(request)
        return self._pages(user, conversation_id, next((i for i in reversed(ids or []) if i is not None), None))

    @friendly
    def chosen(
        self, ids: Ids, conversation_id: int | None, event: gr.SelectData, request: gr.Request
    ) -> tuple[str, Any]:
        """A click on an answer: the pages it cites."""
        user = self.guard.user(request)
        index = getattr(event, "index", None)  # (a raw call may carry no event data)
        index = index[0] if isinstance(index, list | tuple) and index else index
        message_id = ids[index] if isinstance(index, int) and ids and 0 <= index < len(ids) else None
        return self._pages(user, conversation_id, message_id)

    def _pages(self, user: UserInfo, conversation_id: int | None, message_id: int | None) -> tuple[str, Any]:
        """Each cited page's text with the supporting sentence highlighted, for documents the user
        may still read (the messages are the user's own: another's conversation reads as missing)."""
        if conversation_id is None or message_id is None:
            return "", gr.Column(visible=False)
        found = [m for m in self.service.messages(user, int(conversation_id)) if m.id == message_id]
        parts = []
        for citation in found[0].citations if found else []:
            try:
                text = self.service.page_text(user, int(citation["document_id"]), int(citation["page"]))
            except USER_FACING_ERRORS:  # since removed, or no longer shared with the user
                continue
            parts.append(page_preview_html(citation, text))
        return "".join(parts), gr.Column(visible=bool(parts))
