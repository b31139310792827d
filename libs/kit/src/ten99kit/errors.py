"""Errors as 1099Policy returns them: ``{"error_code": "...", "message": ...}`` with its codes."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from .logging import get_logger

__all__ = ["ApiError", "Conflict", "InvalidInput", "NotFound", "error_body", "exception_handlers"]

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


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    code = _STATUS_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "general_error")
    return Response(error_body(code, exc.detail), status_code=exc.status_code, media_type=MediaType.JSON, headers=exc.headers)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("http.unhandled", path=request.url.path, error=repr(exc))
    return Response(error_body("general_error", "Internal error"), status_code=500, media_type=MediaType.JSON)


exception_handlers: dict[Any, Any] = {
    ApiError: _api_error,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _internal,
}
