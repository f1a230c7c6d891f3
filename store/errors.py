"""Typed errors of the data layer, the root of those of the layers above it (ingestion's
IngestError is a DataError too; app.errors gathers them all). Each message is a sentence a user
can act on."""


class DataError(Exception):
    """Base class of every error the store, and ingestion on top of it, raises on purpose."""


class StoreError(DataError):
    """The database or the data folder cannot be used as configured."""


class StoreBusyError(StoreError):
    """Another process holds the knowledge base's writer lock."""


DISK_FULL = "The server's disk is full; nothing was changed. Ask an administrator to free space."


class DiskFullError(StoreError):
    """The disk under the data folder (or the database) is full; the change was rolled back."""


class NotFoundError(DataError):
    """A named document, user or group does not exist."""


class PermissionDeniedError(DataError):
    """The acting user may not do this."""


class ConflictError(DataError):
    """The change would clash with something that already exists (a name taken, ...)."""
