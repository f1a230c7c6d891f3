"""GET /documents/{id}/file: the stored original of a document, for the signed-in user of the web
page only (the same cookie Gradio's sign-in sets) and only when they may read it, so a citation's
link opens the PDF at its page (#page=N). Nothing else on disk is ever served."""

import logging
from collections.abc import Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse

from app.errors import USER_FACING_ERRORS
from app.records import MIME_BY_SUFFIX
from app.service import KnowledgeService
from ui.render import quoted_name

log = logging.getLogger(__name__)
SessionUser = Callable[[Request], str | None]
INLINE = {"application/pdf", "text/plain", "text/markdown"}  # shown by the browser; never HTML


def add_file_route(api: FastAPI, service: KnowledgeService, session_user: SessionUser) -> None:
    @api.get("/documents/{document_id}/file", include_in_schema=False)
    def document_file(document_id: int, request: Request) -> FileResponse:
        name = session_user(request)
        user = service.user(name) if name else None
        if user is None:
            raise HTTPException(401, "Sign in on the web page first.")
        try:
            doc, path = service.document_file(document_id, user)
        except USER_FACING_ERRORS as error:  # unreadable reads exactly like missing
            log.info("document %s refused to %s: %s", document_id, user.name, error)
            raise HTTPException(404, f"There is no document with id {document_id}.") from error
        mime = MIME_BY_SUFFIX.get("." + doc.file_name.rsplit(".", 1)[-1].lower(), "application/octet-stream")
        inline = mime in INLINE
        # Text and Markdown as plain text; HTML and DOCX only as downloads, so no uploaded
        # markup ever runs in this site's origin.
        media = "text/plain; charset=utf-8" if mime.startswith("text/") else mime
        disposition = "inline" if inline else "attachment"
        headers = {
            "Content-Disposition": f"{disposition}; filename*={quoted_name(doc.file_name)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        }
        if mime != "application/pdf":  # the browser's PDF viewer does not run under a sandbox
            headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return FileResponse(path, media_type=media if inline else "application/octet-stream", headers=headers)
