"""The My account tab, for every signed-in user: change one's own password (the old one first;
every session then ends, this one too) and one's own API keys for the HTTP API (a new key is shown
once; only its hash is kept; a revoked key stops working at once)."""

from dataclasses import dataclass
from typing import Any

import gradio as gr

from app.records import UserInfo
from app.service import KnowledgeService
from ui.guard import Guard, friendly
from ui.render import escape_markdown, when

KEY_HEADERS = ["id", "key starts with", "created", "last used", "state"]
SIGN_IN_AGAIN_JS = "(...args) => { setTimeout(() => { window.location.href = '/logout'; }, 2500); return args; }"


@dataclass
class AccountTab:
    service: KnowledgeService
    guard: Guard

    def build(self) -> None:
        self.who = gr.Markdown(elem_id="kb-account-who")
        with gr.Row():
            with gr.Column():
                gr.Markdown("#### Change my password\nEvery session then ends: you sign in again with the new one.")
                old = gr.Textbox(label="Current password", type="password", max_length=1024, elem_id="kb-old-password")
                new = gr.Textbox(label="New password", type="password", max_length=1024, elem_id="kb-my-new-password")
                repeat = gr.Textbox(label="New password again", type="password", max_length=1024, elem_id="kb-repeat")
                change = gr.Button("Change password", variant="primary", elem_id="kb-change-password")
            with gr.Column():
                gr.Markdown(
                    "#### My API keys\nFor the OpenAI-compatible API at `/v1` "
                    "(send `Authorization: Bearer KEY`). A new key is shown only once."
                )
                create = gr.Button("Create API key", variant="primary", elem_id="kb-create-key")
                self.new_key = gr.Textbox(
                    label="Your new key (copy it now: it is not shown again)",
                    interactive=False,
                    visible=False,
                    buttons=["copy"],
                    elem_id="kb-new-key",
                )
                self.keys = gr.Dataframe(headers=KEY_HEADERS, label="My keys", interactive=False, elem_id="kb-my-keys")
                with gr.Row():
                    self.chosen = gr.Dropdown(label="Key", choices=[], elem_id="kb-chosen-key")
                    revoke = gr.Button("Revoke key", variant="stop", elem_id="kb-revoke-key")
        form = [old, new, repeat]
        change.click(self.change_password, form, form, api_name="change_my_password").success(
            None, None, None, js=SIGN_IN_AGAIN_JS
        )
        create.click(self.create_key, None, [self.new_key, self.keys, self.chosen], api_name="create_my_key")
        revoke.click(self.revoke_key, [self.chosen], [self.new_key, self.keys, self.chosen], api_name="revoke_my_key")

    def outputs_on_load(self) -> list[Any]:
        return [self.who, self.keys, self.chosen]

    @friendly
    def on_load(self, request: gr.Request) -> tuple[Any, ...]:
        user = self.guard.user(request)
        return (f"Signed in as **{escape_markdown(user.name)}**.", *self._keys(user))

    def _keys(self, user: UserInfo) -> tuple[list[list[object]], Any]:
        found = self.service.api_keys(user)
        rows: list[list[object]] = [
            [
                k.id,
                f"{k.prefix}…",
                when(k.created_at),
                when(k.last_used_at) if k.last_used_at else "never",
                "revoked" if k.revoked else "active",
            ]
            for k in found
        ]
        live = [(f"{k.prefix}… (id {k.id})", k.id) for k in found if not k.revoked]
        return rows, gr.Dropdown(choices=live, value=None)

    @friendly
    def change_password(self, old: str, new: str, repeat: str, request: gr.Request) -> tuple[str, str, str]:
        user = self.guard.user(request)
        if not old or not new:
            raise gr.Error("Type your current password and the new one.")
        if new != repeat:
            raise gr.Error("The two new passwords differ.")
        source = f"account:{getattr(request.client, 'host', 'unknown')}"  # throttled apart from sign-in
        self.service.change_own_password(user, old, new, source)
        gr.Info("Password changed. Sign in again with the new password.")
        return "", "", ""

    @friendly
    def create_key(self, request: gr.Request) -> tuple[Any, ...]:
        user = self.guard.user(request)
        key = self.service.create_api_key(user)
        return gr.Textbox(value=key, visible=True), *self._keys(user)

    @friendly
    def revoke_key(self, key_id: int | None, request: gr.Request) -> tuple[Any, ...]:
        user = self.guard.user(request)
        if key_id is None:
            raise gr.Error("Choose a key first.")
        self.service.revoke_api_key(user, int(key_id))
        gr.Info(f"API key {int(key_id)} revoked; it no longer works.")
        return gr.Textbox(value="", visible=False), *self._keys(user)
