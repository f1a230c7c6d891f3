"""Typed errors raised by the ingestion layer. Each message is a sentence a user can act on."""


class IngestError(Exception):
    """Base class of every error the ingestion layer raises on purpose."""


class ParseError(IngestError):
    """A file could not be turned into text: unreadable, hostile, too big, too slow, or empty."""


class UnsupportedFileError(ParseError):
    """The file's type (by suffix) has no loader."""


class EmbedderError(IngestError):
    """An embedder name is unknown or its model could not be loaded."""


class StoreError(IngestError):
    """The database or the data folder cannot be used as configured."""


class StoreBusyError(StoreError):
    """Another process holds the knowledge base's writer lock."""


class EmbedderMismatchError(IngestError):
    """The vector index was built with a different embedder than the one configured."""


DISK_FULL = "The server's disk is full; nothing was changed. Ask an administrator to free space."


class DiskFullError(StoreError):
    """The disk under the data folder (or the database) is full; the change was rolled back."""


class IndexCorruptError(IngestError):
    """The vector index file cannot be read."""


class NotFoundError(IngestError):
    """A named document, user or group does not exist."""


class PermissionDeniedError(IngestError):
    """The acting user may not do this."""


class ConflictError(IngestError):
    """The change would clash with something that already exists (a name taken, ...)."""
