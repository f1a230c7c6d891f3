"""Typed errors raised by the ingestion layer. Each message is a sentence a user can act on.
The store's errors (store.errors) are re-exported here: one set of types, rooted in DataError."""

from store.errors import (
    DISK_FULL,
    ConflictError,
    DataError,
    DiskFullError,
    NotFoundError,
    PermissionDeniedError,
    StoreBusyError,
    StoreError,
)

__all__ = [
    "DISK_FULL",
    "ConflictError",
    "DataError",
    "DiskFullError",
    "EmbedderError",
    "EmbedderMismatchError",
    "IndexCorruptError",
    "IngestError",
    "NotFoundError",
    "ParseError",
    "PermissionDeniedError",
    "StoreBusyError",
    "StoreError",
    "UnsupportedFileError",
]


class IngestError(DataError):
    """Base class of every error the ingestion layer itself raises on purpose."""


class ParseError(IngestError):
    """A file could not be turned into text: unreadable, hostile, too big, too slow, or empty."""


class UnsupportedFileError(ParseError):
    """The file's type (by suffix) has no loader."""


class EmbedderError(IngestError):
    """An embedder name is unknown or its model could not be loaded."""


class EmbedderMismatchError(IngestError):
    """The vector index was built with a different embedder than the one configured."""


class IndexCorruptError(IngestError):
    """The vector index file cannot be read."""
