"""Reading the services' answers for the pages: lists come as ``{"object": "list", "data": [...]}``
(1099Policy-shaped resources) or as plain lists / dashboard-specific objects; dates as epoch
seconds or ISO strings. These helpers take either, so a page never breaks on a detail."""

from __future__ import annotations

from typing import Any

__all__ = ["has_more", "items", "next_cursor", "pick", "ref_id", "ref_name"]


def items(payload: Any, *keys: str) -> list[dict[str, Any]]:
    """The rows of a list answer: ``data``, one of ``keys``, or the payload itself."""
    if isinstance(payload, list):
        return [x for x in payload if isinstance(x, dict)]
    if isinstance(payload, dict):
        for key in (*keys, "data", "items", "results"):
            value = payload.get(key)
            if isinstance(value, list):
                return [x for x in value if isinstance(x, dict)]
    return []


def has_more(payload: Any) -> bool:
    """Whether a list answer says there is a next page."""
    return bool(payload.get("has_more")) if isinstance(payload, dict) else False


def next_cursor(payload: Any, rows: list[dict[str, Any]], key: str = "id") -> Any:
    """The ``starting_after`` of the next page: the last row's ``key``, None on the last page."""
    return rows[-1][key] if has_more(payload) and rows else None


def pick(row: dict[str, Any] | None, *keys: str, default: Any = None) -> Any:
    """The first present, non-empty value among ``keys`` (``a.b`` reaches into nested objects)."""
    if not row:
        return default
    for key in keys:
        value: Any = row
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                break
        if value not in (None, ""):
            return value
    return default


def ref_id(value: Any) -> str | None:
    """An id given either as a string or as an embedded object with ``id``."""
    if isinstance(value, dict):
        return value.get("id") or value.get(next((k for k in value if k.endswith("_id")), ""), None)
    return str(value) if value else None


def ref_name(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("name") or value.get("title")
    return None
