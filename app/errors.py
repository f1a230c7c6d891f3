"""The one place users' errors are defined and turned into sentences.

Lower layers keep their own base classes (model and ingestion may not import app); this module
gathers them so the CLI, HTTP API and web page can show a clear sentence instead of a traceback.
"""

import errno
import logging

from ingestion.errors import DISK_FULL, DataError, IndexCorruptError
from model.errors import ModelError
from store.errors import NotFoundError, PermissionDeniedError  # one type each, whichever layer raises it

__all__ = [
    "DISK_FULL",
    "INDEX_DAMAGED",
    "USER_FACING_ERRORS",
    "ConfigError",
    "KBError",
    "NotFoundError",
    "PermissionDeniedError",
    "ServerBusyError",
    "user_message",
]


class KBError(Exception):
    """Base class of every error the application layer raises on purpose."""


class ConfigError(KBError):
    """A setting is invalid or points at something that does not exist."""


class ServerBusyError(KBError):
    """Too much is already waiting (questions for the model); try again after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int = 30) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


USER_FACING_ERRORS: tuple[type[Exception], ...] = (KBError, ModelError, DataError)


log = logging.getLogger(__name__)
INDEX_DAMAGED = (
    "The search index is damaged; an administrator must restart the server or run `kb reindex` "
    "(the server log has the details)."
)


def user_message(error: BaseException) -> str:
    """A one-sentence description of `error` for a person; never a traceback, a path or a URL."""
    if isinstance(error, IndexCorruptError):
        log.error("%s", error)  # the path is for the administrator's log, not for members
        return INDEX_DAMAGED
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return DISK_FULL
    if isinstance(error, USER_FACING_ERRORS):
        return str(error) or type(error).__name__
    return f"Internal error ({type(error).__name__}); see the server log for details."
