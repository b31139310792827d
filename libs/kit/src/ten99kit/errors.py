"""Errors as 1099Policy returns them: ``{"error_code": "...", "message": ...}`` with its codes.

Input a handler could not refuse itself is still a 4xx, never a 500: a value the database
refuses as data (PostgreSQL's class 22: NUL or an untranslatable character in text, a number
out of range, a string too long), a body that is not UTF-8, a body nested too deeply for the
decoder. The input guard (inputs.py) stops most of these before a handler runs."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import DBAPIError

from .logging import get_logger

__all__ = ["ApiError", "Conflict", "InvalidInput", "NotFound", "error_body", "exception_handlers", "too_large_message"]

log = get_logger(__name__)


class ApiError(Exception):
    """A domain or input error that becomes a 4xx response and changes nothing."""

    status_code = 400
    error_code = "bad_request"

    def __init__(self, message: str | dict[str, Any], *, error_code: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message if isinstance(message, str) else str(message))
        self.message = message
        if error_code:
            self.error_code = error_code
        if status_code:
            self.status_code = status_code


class InvalidInput(ApiError):
    error_code = "invalid_input"


class NotFound(ApiError):
    status_code = 404
    error_code = "resource_not_found"


class Conflict(ApiError):
    status_code = 409
    error_code = "conflict"


def error_body(error_code: str, message: Any) -> dict[str, Any]:
    return {"error_code": error_code, "message": message}


_STATUS_CODES = {
    400: "bad_request",
    401: "invalid_api_key",
    403: "insufficient_permissions",
    404: "resource_not_found",
    405: "bad_request",
    409: "conflict",
    413: "invalid_file_size",
    415: "invalid_mime_type",
    429: "rate_limited",
}


def too_large_message(limit: int) -> str:
    """The one message for a body over the limit (from the input guard or from Litestar)."""
    for unit, size in (("MiB", 1_048_576), ("KiB", 1024)):
        if limit >= size and limit % size == 0:
            return f"The request body is larger than the limit of {limit // size} {unit} ({limit:,} bytes)"
    return f"The request body is larger than the limit of {limit:,} bytes"


_UNFIT = "A value is out of range or not of the form its field expects"
#: PostgreSQL data exceptions (SQLSTATE class 22) a value sent by a user can cause
_DATA_ERRORS = {
    "22001": "A text value is longer than the field allows",
    "22003": "A number is out of the range the field allows",
    "22007": "A date or time is not valid",
    "22008": "A date or time is out of range",
    "22021": "A text value contains a character that cannot be stored (such as NUL)",
    "22P02": "A value does not have the form the field expects",
    "22P05": "A text value contains a character that cannot be stored (such as \\u0000)",
}


def _data_error_message(exc: DBAPIError) -> str | None:
    """What to tell the user if the database refused a value as data, else None (a fault of ours)."""
    cause: BaseException | None = exc.orig
    for _ in range(4):  # the driver's error and what it wraps
        if cause is None:
            break
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith("22"):
            return _DATA_ERRORS.get(sqlstate, _UNFIT)
        # asyncpg's own check of an argument (e.g. an integer beyond 64 bits) before it is sent
        if type(cause).__name__ == "DataError" and isinstance(cause, ValueError):
            return _UNFIT
        cause = cause.__cause__
    return None


def _api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return Response(error_body(exc.error_code, exc.message), status_code=exc.status_code, media_type=MediaType.JSON)


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    fields: dict[str, str] = {}
    for item in exc.extra or []:
        if isinstance(item, dict):
            key = str(item.get("key") or item.get("source") or "body")
            fields[key] = str(item.get("message", ""))
    message: Any = fields or (exc.detail or "invalid input")
    return Response(error_body("invalid_input", message), status_code=400, media_type=MediaType.JSON)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    code = _STATUS_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "general_error")
    detail: Any = exc.detail
    if exc.status_code == 413:  # Litestar's own body limit: the same message as the input guard's
        resolve = getattr(request.scope.get("route_handler"), "resolve_request_max_body_size", None)
        limit = resolve() if resolve is not None else None
        detail = too_large_message(limit) if limit else detail
    return Response(error_body(code, detail), status_code=exc.status_code, media_type=MediaType.JSON, headers=exc.headers)


def _database(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[Any]:
    message = _data_error_message(exc)
    if message is None:
        return _internal(request, exc)
    log.warning("http.refused_by_database", path=request.url.path, error=str(exc.orig)[:200])
    return Response(error_body("invalid_input", message), status_code=400, media_type=MediaType.JSON)


def _not_utf8(request: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[Any]:
    log.warning("http.not_utf8", path=request.url.path, error=repr(exc)[:200])
    return Response(
        error_body("invalid_input", "The input is not valid UTF-8; send UTF-8 text"), status_code=400, media_type=MediaType.JSON
    )


def _too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    log.warning("http.too_deep", path=request.url.path)
    return Response(error_body("invalid_input", "The input is nested too deeply"), status_code=400, media_type=MediaType.JSON)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("http.unhandled", path=request.url.path, error=repr(exc))
    return Response(error_body("general_error", "Internal error"), status_code=500, media_type=MediaType.JSON)


exception_handlers: dict[Any, Any] = {
    ApiError: _api_error,
    ValidationException: _validation,
    HTTPException: _http,
    DBAPIError: _database,
    UnicodeDecodeError: _not_utf8,
    RecursionError: _too_deep,
    Exception: _internal,
}
