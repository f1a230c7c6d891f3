"""Every error becomes JSON shaped like OpenAI's ({"error": {"message", "type", "code"}}), with a
clear sentence and never a traceback."""

import errno
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.errors import (
    USER_FACING_ERRORS,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    ServerBusyError,
    user_message,
)
from ingestion.errors import ConflictError, DiskFullError, IndexCorruptError, StoreBusyError, UnsupportedFileError
from model.batching import EngineBusyError

log = logging.getLogger(__name__)
RETRY_AFTER_S = 30  # what a client told 'busy' should wait

_STATUS: tuple[tuple[tuple[type[Exception], ...], int, str], ...] = (
    ((NotFoundError,), 404, "not_found_error"),
    ((PermissionDeniedError,), 403, "permission_error"),
    ((UnsupportedFileError,), 415, "invalid_request_error"),
    ((ConflictError,), 409, "conflict_error"),
    ((StoreBusyError, ServerBusyError, EngineBusyError), 503, "server_busy"),
    ((DiskFullError,), 503, "server_error"),
    ((ConfigError,), 500, "server_error"),
)


def error_body(message: str, kind: str, status: int) -> dict[str, object]:
    return {"error": {"message": message, "type": kind, "code": status}}


def status_of(error: BaseException) -> tuple[int, str]:
    if isinstance(error, IndexCorruptError) or (isinstance(error, OSError) and error.errno == errno.ENOSPC):
        return 503, "server_error"  # the server's state, not the request: retry later
    for types, status, kind in _STATUS:
        if isinstance(error, types):
            return status, kind
    if isinstance(error, USER_FACING_ERRORS):
        return 400, "invalid_request_error"
    return 500, "server_error"


def install(api: FastAPI) -> None:
    @api.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        kind = {401: "authentication_error", 404: "not_found_error", 413: "invalid_request_error"}.get(
            error.status_code, "invalid_request_error"
        )
        return JSONResponse(
            error_body(str(error.detail), kind, error.status_code), error.status_code, headers=error.headers
        )

    @api.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        message = f"Invalid request: {where}: {first.get('msg', 'invalid value')}."
        return JSONResponse(error_body(message, "invalid_request_error", 422), 422)

    async def any_error(_: Request, error: Exception) -> JSONResponse:
        status, kind = status_of(error)
        if status >= 500 and status != 503:
            log.exception("request failed")
        wait = error.retry_after_s if isinstance(error, (ServerBusyError, EngineBusyError)) else RETRY_AFTER_S
        headers = {"Retry-After": str(wait)} if status == 503 else None
        return JSONResponse(error_body(user_message(error), kind, status), status, headers=headers)

    # Our own errors are answered by the exception middleware; the catch-all `Exception` handler
    # sits in Starlette's outer error middleware, which answers and then re-raises, so the
    # server logs a traceback and drops the keep-alive connection: only for real failures.
    for kind in (*USER_FACING_ERRORS, OSError):
        api.add_exception_handler(kind, any_error)
    api.add_exception_handler(Exception, any_error)
