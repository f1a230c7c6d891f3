"""Every error becomes JSON shaped like OpenAI's ({"error": {"message", "type", "code"}}), with a
clear sentence and never a traceback."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.errors import USER_FACING_ERRORS, ConfigError, NotFoundError, PermissionDeniedError, user_message
from ingestion.errors import ConflictError, StoreBusyError, UnsupportedFileError
from ingestion.errors import NotFoundError as StoreNotFoundError
from ingestion.errors import PermissionDeniedError as StorePermissionDeniedError

log = logging.getLogger(__name__)

_STATUS: tuple[tuple[tuple[type[Exception], ...], int, str], ...] = (
    ((NotFoundError, StoreNotFoundError), 404, "not_found_error"),
    ((PermissionDeniedError, StorePermissionDeniedError), 403, "permission_error"),
    ((UnsupportedFileError,), 415, "invalid_request_error"),
    ((ConflictError,), 409, "conflict_error"),
    ((StoreBusyError,), 503, "server_busy"),
    ((ConfigError,), 500, "server_error"),
)


def error_body(message: str, kind: str, status: int) -> dict[str, object]:
    return {"error": {"message": message, "type": kind, "code": status}}


def status_of(error: BaseException) -> tuple[int, str]:
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

    @api.exception_handler(Exception)
    async def any_error(_: Request, error: Exception) -> JSONResponse:
        status, kind = status_of(error)
        if status >= 500:
            log.exception("request failed")
        return JSONResponse(error_body(user_message(error), kind, status), status)
