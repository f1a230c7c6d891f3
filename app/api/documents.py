"""POST/GET /v1/documents and DELETE /v1/documents/{id}: each user sees and deletes only what
they may (the knowledge base checks; an unreadable document reads as missing)."""

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, UploadFile

from app.api.auth import Service, User
from app.api.schemas import DocumentOut, IngestOut
from ingestion.parsing import is_supported

router = APIRouter(prefix="/v1/documents", tags=["documents"])
_READ_BLOCK = 1 << 20


@router.get("", response_model=list[DocumentOut])
def list_documents(service: Service, user: User) -> list[DocumentOut]:
    return [
        DocumentOut(
            id=d.id,
            file_name=d.file_name,
            status=d.status,
            pages=d.pages,
            chunks=d.chunks,
            version=d.version,
            groups=list(d.groups),
            uploaded_by=d.uploaded_by,
            created_at=d.created_at.isoformat(),
        )
        for d in service.list_documents(user)
    ]


@router.post("", response_model=list[IngestOut])
def upload(
    service: Service,
    user: User,
    file: Annotated[UploadFile, File(description="PDF, DOCX, HTML, Markdown or text.")],
    groups: Annotated[list[str] | None, Form(description="Visible only to these groups (default: everyone).")] = None,
) -> list[IngestOut]:
    name = Path(file.filename or "").name  # never a path from the client
    if not name or not is_supported(name):
        raise HTTPException(415, f"{name or 'The file'} is not a supported type (PDF, DOCX, HTML, Markdown, text).")
    with tempfile.TemporaryDirectory(prefix="kb-upload-") as folder:
        path = Path(folder) / name
        size = 0
        with path.open("wb") as out:
            while block := file.file.read(_READ_BLOCK):
                size += len(block)
                if size > service.max_upload_bytes:
                    limit = service.max_upload_bytes // 2**20
                    raise HTTPException(413, f"{name} is larger than the upload limit of {limit} MB.")
                out.write(block)
        results = service.ingest([path], user, tuple(groups or ()))
    return [
        IngestOut(
            file_name=r.file_name,
            outcome=str(r.outcome),
            document_id=r.document_id,
            pages=r.pages,
            chunks=r.chunks,
            message=r.message,
        )
        for r in results
    ]


@router.delete("/{document_id}")
def delete(document_id: int, service: Service, user: User) -> dict[str, list[int]]:
    return {"deleted": [d.id for d in service.delete_document(document_id, user)]}
