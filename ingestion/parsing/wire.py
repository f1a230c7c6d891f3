"""ParsedDocument <-> JSON, for the pipe between the parse process and its caller.

JSON rather than pickle: the caller never unpickles what a process fed with hostile bytes wrote.
"""

from dataclasses import asdict
from typing import Any

from ingestion.types import DocumentMetadata, PageText, ParsedDocument


def document_to_json(doc: ParsedDocument) -> dict[str, Any]:
    return {
        "file_name": doc.file_name,
        "mime": doc.mime,
        "pages": [[page.number, page.text] for page in doc.pages],
        "metadata": asdict(doc.metadata),
    }


def document_from_json(data: dict[str, Any]) -> ParsedDocument:
    metadata = data["metadata"]
    return ParsedDocument(
        file_name=str(data["file_name"]),
        mime=str(data["mime"]),
        pages=tuple(PageText(number=int(number), text=str(text)) for number, text in data["pages"]),
        metadata=DocumentMetadata(
            title=metadata.get("title"),
            organisation=metadata.get("organisation"),
            kind=metadata.get("kind"),
            period=metadata.get("period"),
        ),
    )
