"""The web page: a header with the signed-in user, then the Chat, Documents, My account and Admin
tabs (one module each). Nothing is read at build time; everything a user sees is loaded per request."""

from typing import Any

import gradio as gr

from app.service import KnowledgeService
from app.settings import Settings
from ui.account import AccountTab
from ui.admin import AdminTab
from ui.chat import ChatTab
from ui.documents import DocumentsTab
from ui.guard import Guard, friendly
from ui.render import escape_markdown
from ui.samples import SamplesOffer
from ui.upload_guard import UploadLedger

TITLE = "Knowledge base"


def build_page(
    service: KnowledgeService, settings: Settings | None = None, uploads: UploadLedger | None = None
) -> gr.Blocks:
    """`uploads`: the files each user uploaded (ui.upload_guard); without it no upload is accepted."""
    guard = Guard(service)
    chat, documents = ChatTab(service, guard), DocumentsTab(service, guard, uploads or UploadLedger())
    admin, samples = AdminTab(service, guard, settings), SamplesOffer(service, guard)
    account = AccountTab(service, guard)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as page:
        with gr.Row(equal_height=True):
            who = gr.Markdown(elem_id="kb-who")
            gr.Button("Sign out", link="/logout", size="sm", scale=0, min_width=100, elem_id="kb-sign-out")
        samples.build()
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat.build()
            with gr.Tab("Documents", id="documents"):
                documents.build()
            with gr.Tab("My account", id="account"):
                account.build()
            with gr.Tab("Admin", id="admin", visible=False, elem_id="kb-admin-tab") as admin_tab:
                admin.build()

        outputs = [who, admin_tab, samples.row, *chat.outputs_on_load(), *documents.outputs_on_load()]
        outputs += [*account.outputs_on_load(), *admin.outputs_on_load()]

        @friendly
        def on_load(request: gr.Request) -> tuple[Any, ...]:
            user = guard.user(request)
            role = "administrator" if user.is_admin else "member"
            groups = f" · groups: {', '.join(user.groups)}" if user.groups else ""
            header = f"### {TITLE}\nSigned in as **{escape_markdown(user.name)}** ({role}){escape_markdown(groups)}"
            return (
                header,
                gr.Tab(visible=user.is_admin),
                samples.visible_for(user),
                *chat.on_load(request),
                *documents.on_load(request),
                *account.on_load(request),
                *admin.on_load(user),
            )

        page.load(on_load, None, outputs, api_name="whoami").then(
            chat.pages.latest, [chat.ids, chat.conversation], chat.pages.outputs(), api_visibility="private"
        )  # the pages the reopened conversation's last answer cites
        # The first ready document takes the empty-knowledge-base banner and the samples offer away at once.
        documents.uploaded.then(chat.refresh_notice, None, chat.notice_outputs(), api_visibility="private")
        documents.uploaded.then(samples.refresh, None, [samples.row], api_visibility="private")
        samples.button.click(on_load, None, outputs, api_visibility="private")
    return page
