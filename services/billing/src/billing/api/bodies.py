"""Request bodies that do not decode: ``400 invalid_input`` in the service's own words.

Litestar decodes a body into its Struct before the handler runs; this keeps billing's messages
for a body that does not fit (the gateway shows them next to the form field at fault): one
message a field, ``body`` when the whole body is wrong, and "the body is not valid JSON"."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import ClientException, HTTPException, SerializationException, ValidationException
from litestar.types import ExceptionHandlersMap
from ten99kit.errors import error_body, exception_handlers

__all__ = ["body_errors"]

_MISSING = re.compile(r"missing required field `(\w+)`")


def _invalid(message: Any) -> Response[Any]:
    return Response(error_body("invalid_input", message), status_code=400, media_type=MediaType.JSON)


def body_errors(fields: Mapping[str, str], whole_body: str) -> ExceptionHandlersMap:
    """Exception handlers for a controller: a field at fault gets its message from ``fields``,
    anything else about the body ``whole_body``; other client errors answer as everywhere."""

    def invalid_body(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
        errors: dict[str, str] = {}
        for item in exc.extra or []:
            key = str(item.get("key", "")) if isinstance(item, dict) else ""
            missing = _MISSING.search(str(item.get("message", ""))) if isinstance(item, dict) else None
            key = missing.group(1) if missing else key
            if key in fields:
                errors[key] = fields[key]
            else:
                errors.setdefault("body", whole_body)
        return _invalid(errors or {"body": whole_body})

    def unreadable_body(request: Request[Any, Any, Any], exc: ClientException) -> Response[Any]:
        if isinstance(exc.__cause__, SerializationException):
            return _invalid("the body is not valid JSON")
        answer: Response[Any] = exception_handlers[HTTPException](request, exc)
        return answer

    return {ValidationException: invalid_body, ClientException: unreadable_body}
