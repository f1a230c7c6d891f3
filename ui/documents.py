"""The Documents tab: upload several files at once with live per-file status, the list of
documents the user may read (pages, chunks, who may see them), visibility and delete."""

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from app.errors import USER_FACING_ERRORS, user_message
from app.records import SUPPORTED_SUFFIXES, DocumentInfo, FileResult, UserInfo, is_supported
from app.service import KnowledgeService
from ui.guard import Guard, friendly
from ui.progress import HEADERS, UploadProgress
from ui.upload_guard import UploadLedger

DOC_HEADERS = ["id", "document", "status", "pages", "chunks", "visible to", "uploaded by", "added"]
POLL_S = 0.25  # how often the upload table refreshes while files are being indexed


def document_rows(docs: list[DocumentInfo]) -> list[list[object]]:
    return [
        [
            d.id,
            d.file_name,
            d.status if d.status != "failed" else f"failed: {d.error or 'unknown reason'}",
            d.pages or 0,
            d.chunks,
            ", ".join(d.groups) or "everyone",
            d.uploaded_by or "",
            d.created_at.strftime("%Y-%m-%d %H:%M"),
        ]
        for d in docs
    ]


def may_change(user: UserInfo, doc: DocumentInfo) -> bool:
    """Its uploader or an administrator may share or delete a document (the knowledge base checks again)."""
    return user.is_admin or doc.uploaded_by == user.name


def document_choices(docs: list[DocumentInfo]) -> list[tuple[str, int]]:
    return [(f"{d.file_name} (id {d.id})", d.id) for d in docs]


@dataclass
class DocumentsTab:
    service: KnowledgeService
    guard: Guard
    uploads: UploadLedger  # what each user uploaded: no other file on the server is ever taken

    def build(self) -> None:
        limit_mb = self.service.max_upload_bytes // 2**20
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        with gr.Row():
            with gr.Column(scale=2):
                files = gr.File(
                    label=f"Add documents ({kinds}; at most {limit_mb} MB each)",
                    file_count="multiple",
                    file_types=sorted(SUPPORTED_SUFFIXES),
                    elem_id="kb-upload",
                )
            with gr.Column(scale=1):
                self.share = gr.CheckboxGroup(
                    label="Visible to (none ticked: every signed-in user)", choices=[], elem_id="kb-share"
                )
                upload = gr.Button("Upload and index", variant="primary", elem_id="kb-upload-button")
        progress = gr.Dataframe(
            headers=HEADERS, label="Upload progress", interactive=False, wrap=True, elem_id="kb-progress"
        )
        self.table = gr.Dataframe(
            headers=DOC_HEADERS, label="Documents you can read", interactive=False, wrap=True, elem_id="kb-documents"
        )
        with gr.Row():
            refresh = gr.Button("Refresh", size="sm", elem_id="kb-refresh-documents")
            self.chosen = gr.Dropdown(label="Document", choices=[], elem_id="kb-chosen-document")
            self.groups = gr.CheckboxGroup(label="Visible to", choices=[], visible=False, elem_id="kb-chosen-groups")
        with gr.Row():  # offered only for a chosen document the user may change (see `choose`)
            save = gr.Button("Save visibility", size="sm", visible=False, elem_id="kb-save-visibility")
            delete = gr.Button(
                "Delete document", size="sm", variant="stop", visible=False, elem_id="kb-delete-document"
            )

        listing = [self.table, self.chosen]
        self.uploaded = upload.click(
            self.upload,
            [files, self.share],
            [progress, *listing, files],
            api_name="upload",
            concurrency_limit=1,  # one writer at a time; the next upload waits its turn in the queue
            concurrency_id="ingest",
        )
        refresh.click(self.listing, None, listing, api_name="list_documents")
        # .change, not .input: a listing that clears the choice (after a delete) hides the buttons too
        self.chosen.change(self.choose, [self.chosen], [self.groups, save, delete], api_name="document_groups")
        save.click(self.set_groups, [self.chosen, self.groups], listing, api_name="set_document_groups")
        delete.click(self.delete, [self.chosen], listing, api_name="delete_document", concurrency_id="ingest")

    def outputs_on_load(self) -> list[Any]:
        return [self.table, self.chosen, self.share, self.groups]

    @friendly
    def on_load(self, request: gr.Request) -> tuple[Any, ...]:
        user = self.guard.user(request)
        groups = [g.name for g in self.service.list_groups(user)]
        return (*self._listing(user), gr.CheckboxGroup(choices=groups), gr.CheckboxGroup(choices=groups))

    def _listing(self, user: UserInfo, selected: int | None = None) -> tuple[list[list[object]], Any]:
        docs = self.service.list_documents(user)
        return document_rows(docs), gr.Dropdown(choices=document_choices(docs), value=selected)

    @friendly
    def listing(self, request: gr.Request) -> tuple[list[list[object]], Any]:
        return self._listing(self.guard.user(request))

    @friendly
    def choose(self, document_id: int | None, request: gr.Request) -> tuple[Any, Any, Any]:
        """The chosen document's groups; Save visibility and Delete only where the user may change it."""
        user = self.guard.user(request)
        docs = self.service.list_documents(user) if document_id is not None else []
        found = [d for d in docs if d.id == int(document_id or 0)]
        allowed = bool(found) and may_change(user, found[0])
        buttons = gr.Button(visible=allowed)
        chosen_groups = list(found[0].groups) if found else []
        return gr.CheckboxGroup(value=chosen_groups, interactive=allowed, visible=allowed), buttons, buttons

    @friendly
    def set_groups(self, document_id: int | None, groups: list[str] | None, request: gr.Request) -> tuple[Any, ...]:
        user = self.guard.user(request)
        if document_id is None:
            raise gr.Error("Choose a document first.")
        try:
            doc = self.service.set_document_groups(int(document_id), tuple(groups or ()), user)
        except USER_FACING_ERRORS as error:  # a toast; the tables stay as they were (no red badges)
            gr.Warning(user_message(error))
            return gr.skip(), gr.skip()
        gr.Info(f"{doc.file_name} is now visible to {', '.join(doc.groups) or 'every signed-in user'}.")
        return self._listing(user, doc.id)

    @friendly
    def delete(self, document_id: int | None, request: gr.Request) -> tuple[Any, ...]:
        user = self.guard.user(request)
        if document_id is None:
            raise gr.Error("Choose a document first.")
        try:
            deleted = self.service.delete_document(int(document_id), user)
        except USER_FACING_ERRORS as error:  # a toast; the tables stay as they were (no red badges)
            gr.Warning(user_message(error))
            return gr.skip(), gr.skip()
        gr.Info(f"Deleted {', '.join(d.file_name for d in deleted)}.")
        return self._listing(user)

    @friendly
    def upload(
        self, files: list[str] | None, groups: list[str] | None, request: gr.Request
    ) -> Iterator[tuple[Any, ...]]:
        user = self.guard.user(request)
        paths = [Path(f) for f in files or []]
        if not paths:
            raise gr.Error("Choose one or more files to upload first.")
        if not all(self.uploads.owns(user.name, str(p)) for p in paths):  # the guard refused this earlier
            raise gr.Error("A file in this request was not uploaded by you.")
        progress = UploadProgress([p.name for p in paths])
        accepted = [p for p in paths if self._acceptable(p, progress)]
        if accepted:
            yield from self._run(accepted, tuple(groups or ()), user, progress)
        yield (progress.table(), *self._listing(user), None)

    def _acceptable(self, path: Path, progress: UploadProgress) -> bool:
        """Type and size checked here, before any work; a clear reason for each file refused."""
        if not is_supported(path.name):
            progress.reject(path.name, f"not a supported type (use {', '.join(sorted(SUPPORTED_SUFFIXES))})")
            return False
        size, limit = path.stat().st_size, self.service.max_upload_bytes
        if size > limit:
            progress.reject(path.name, f"larger than the upload limit of {limit // 2**20} MB")
            return False
        return True

    def _run(
        self, paths: list[Path], groups: tuple[str, ...], user: UserInfo, progress: UploadProgress
    ) -> Iterator[tuple[Any, ...]]:
        """Ingest on a worker thread; this generator shows its progress events as they come."""
        outcome: queue.Queue[list[FileResult] | Exception] = queue.Queue(maxsize=1)

        def work() -> None:
            try:
                outcome.put(self.service.ingest(paths, user, groups, progress=progress))
            except Exception as error:  # shown to the user below, as a sentence
                outcome.put(error)

        threading.Thread(target=work, name="kb-upload", daemon=True).start()
        while True:
            try:
                result = outcome.get(timeout=POLL_S)
                break
            except queue.Empty:
                yield progress.table(), gr.skip(), gr.skip(), gr.skip()
        if isinstance(result, Exception):
            progress.fail_all(user_message(result))
        else:
            progress.finish(result)
        for path in paths:  # Gradio's copy of the upload; the knowledge base keeps its own
            path.unlink(missing_ok=True)
            self.uploads.forget(user.name, str(path))
