"""The input guard: one ASGI middleware in every service's app (``create_app``) that refuses
hostile input with a 4xx ``{"error_code", "message"}`` before any handler runs, so that it never
surfaces as a 500 from PostgreSQL (which refuses NUL in text), the JSON decoder (recursion,
invalid UTF-8) or a form parser (invalid UTF-8).

400 ``invalid_input``:
- a control character (U+0000-U+001F, U+007F) in the percent-decoded path or query string, or
  a path or query string that is not UTF-8 once percent-decoded;
- a JSON body (a ``json`` content type, ``text/plain`` or none: Litestar decodes those as JSON
  too) that is not UTF-8, holds a NUL (raw or ``\\u0000``), or nests deeper than `MAX_JSON_DEPTH`;
- a form body (urlencoded, or multipart's text fields and part headers) with a NUL or not UTF-8.
  Bodies may of course hold tab, CR and LF: only the URL is strict about every control character.

413 ``invalid_file_size``: a body larger than `MAX_BODY_BYTES`, the one body limit of every
service (announced by Content-Length, or counted as it streams in).

Cheap on purpose, as it runs on every request: the URL checks are C-level scans of short strings
(no decoding unless there is a ``%`` or a non-ASCII byte); JSON and urlencoded bodies are read
whole (Litestar reads them whole anyway), checked with C-level scans and handed on; the bracket
depth is measured only when a body has more brackets than the limit. Multipart bodies are never
buffered: they are checked as they stream past the handler, and a file part's bytes are only
counted (a CSV upload with NUL bytes is the import's to refuse, with its line number).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import msgspec
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from .errors import ApiError, InvalidInput, error_body, too_large_message

__all__ = ["MAX_BODY_BYTES", "MAX_JSON_DEPTH", "MAX_UPLOAD_BYTES", "form_problem", "input_guard", "json_problem", "url_problem"]

#: The largest request body any service (the gateway included) accepts: one limit, one message. A
#: CSV import of the largest size (`MAX_UPLOAD_BYTES`, 100,000 rows at about 250 bytes a row plus
#: room to spare) fits with its multipart envelope; JSON bodies are far smaller.
MAX_BODY_BYTES = 32 * 1024 * 1024
#: The largest uploaded file: the body limit less room for the multipart envelope (the dashboard's
#: and the contractor service's CSV import limit)
MAX_UPLOAD_BYTES = MAX_BODY_BYTES - 64 * 1024
#: Deeper than any request or message of ours (a contractor with an address is 2); msgspec and
#: json recurse once per level and fail near 1,000 with a RecursionError.
MAX_JSON_DEPTH = 32

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]")
#: ``\u0000`` as a JSON escape: an odd run of backslashes before ``u0000``
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_NOT_BRACKETS_OR_QUOTES = bytes(b for b in range(256) if b not in b'[]{}"')
_BRACES_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
_BOUNDARY = re.compile(rb';\s*boundary="?([^";]+)"?', re.IGNORECASE)
_PART_NAME = re.compile(rb'\bname="([^"]*)"', re.IGNORECASE)
_NO_BODY = object()


def _shown(text: str) -> str:
    """A name as it can be printed in a message, control characters escaped."""
    return repr(text[:60])


def _control_message(where: str, char: str) -> str:
    return f"{where} contains the control character U+{ord(char):04X}; control characters are not accepted in URLs"


def url_problem(scope: Scope) -> str | None:
    """Why the request's path or query string is refused, or None."""
    raw = scope.get("raw_path")
    if raw:
        raw = raw.split(b"?", 1)[0]
        if b"%" in raw or not raw.isascii():
            try:
                path = unquote_to_bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                return "The URL path is not valid UTF-8 once percent-decoded"
        else:
            path = raw.decode("ascii")
    else:
        path = scope.get("path", "")
    if found := _CONTROL.search(path):
        return _control_message("The URL path", found.group())
    query: bytes = scope.get("query_string") or b""
    if query and (b"%" in query or not query.isascii() or _CONTROL_BYTES.search(query)):
        try:
            text = unquote_to_bytes(query).decode("utf-8")  # a '+' is a space: never a control character
        except UnicodeDecodeError:
            return "The query string is not valid UTF-8 once percent-decoded"
        if found := _CONTROL.search(text):
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if _CONTROL.search(name) or _CONTROL.search(value):
                    return _control_message(f"The query parameter {_shown(name)}", found.group())
            return _control_message("The query string", found.group())
    return None


def _structure(body: bytes) -> bytes:
    """The brackets of a JSON text outside its strings, in C-speed passes: escaped backslashes and
    quotes go first, then everything but brackets and quotes, then empty strings (removing two
    adjacent quotes keeps every bracket on its side), then what is left inside strings."""
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = body.translate(None, _NOT_BRACKETS_OR_QUOTES).replace(b'""', b"")
    return b"".join(kept.split(b'"')[0::2]) if b'"' in kept else kept


def _nests_deeper_than(body: bytes, limit: int) -> bool:
    """True if the JSON text nests deeper than ``limit`` (or its brackets do not pair up, which
    no JSON's do). Braces count as brackets (depth is depth); each pass peels the innermost
    pairs, one level, off every branch at once."""
    brackets = _structure(body).translate(_BRACES_AS_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        peeled = brackets.replace(b"[]", b"")
        if len(peeled) == len(brackets):
            return True
        brackets = peeled
    return bool(brackets)


def json_problem(body: bytes) -> str | None:
    """Why a JSON body is refused, or None (whether it is JSON at all is the decoder's to say)."""
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            return f"The JSON body is not valid UTF-8 (byte {e.start}); send UTF-8 text"
    if b"\x00" in body or (b"\\u0000" in body and _NUL_ESCAPE.search(body)):
        return "The JSON body contains a NUL character (\\u0000), which no field accepts"
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and _nests_deeper_than(body, MAX_JSON_DEPTH):
        return f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels (or its brackets do not pair up)"
    return None


def form_problem(body: bytes) -> str | None:
    """Why an ``application/x-www-form-urlencoded`` body is refused, or None."""
    decoded = unquote_to_bytes(body)
    if b"\x00" in decoded:
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True, errors="replace"):
            if "\x00" in name or "\x00" in value:
                return f"The form field {_shown(name)} contains a NUL character, which no field accepts"
        return "The form contains a NUL character, which no field accepts"
    if not decoded.isascii():
        try:
            decoded.decode("utf-8")
        except UnicodeDecodeError:
            return "The form is not valid UTF-8 once percent-decoded; send UTF-8 text"
    return None


class _MultipartScan:
    """Checks a multipart body as it streams by: part headers and text fields (parts without a
    filename) must hold no NUL and be UTF-8; file parts pass unread. Keeps only a short tail of
    the stream (a boundary split across two chunks); anything it does not understand is left to
    the framework's parser, which refuses malformed bodies itself."""

    _MAX_HEADERS = 16 * 1024

    def __init__(self, boundary: bytes) -> None:
        self.delimiter = b"--" + boundary
        self.separator = b"\r\n" + self.delimiter
        self.state = "preamble"
        self.buffer = b""
        self.text: Any = None  # an incremental UTF-8 decoder while inside a text field
        self.name = ""

    def feed(self, chunk: bytes) -> None:
        self.buffer = self.buffer + chunk if self.buffer else chunk
        while self.state != "done" and self._step():
            pass

    def _step(self) -> bool:
        """Advance by one piece of the stream; False when more bytes are needed."""
        if self.state == "preamble":
            at = self.buffer.find(self.delimiter)
            if at < 0:
                self.buffer = self.buffer[-len(self.delimiter) :]
                return False
            self.buffer, self.state = self.buffer[at + len(self.delimiter) :], "delimiter"
            return True
        if self.state == "delimiter":
            return self._after_delimiter()
        if self.state == "headers":
            return self._headers()
        return self._content()

    def _after_delimiter(self) -> bool:
        """``--`` ends the body; else the rest of the line (transport padding) and a line break."""
        if self.buffer.startswith(b"--"):
            self.state = "done"
            return True
        end = self.buffer.find(b"\r\n")
        if end < 0:
            if len(self.buffer) > 1024:
                self.state = "done"
                return True
            return False
        if self.buffer[:end].strip(b" \t"):  # not multipart as we know it: the parser will say so
            self.state = "done"
            return True
        self.buffer, self.state = self.buffer[end + 2 :], "headers"
        return True

    def _headers(self) -> bool:
        if self.buffer.startswith(b"\r\n"):  # a part without headers
            end, skip = 0, 2
        else:
            end, skip = self.buffer.find(b"\r\n\r\n"), 4
        if end < 0:
            if len(self.buffer) > self._MAX_HEADERS:
                self.state = "done"
                return True
            return False
        headers, self.buffer = self.buffer[:end], self.buffer[end + skip :]
        named = _PART_NAME.search(headers)
        self.name = named.group(1).decode("utf-8", "replace") if named else ""
        if b"\x00" in headers:
            raise InvalidInput(f"The multipart part {_shown(self.name)} has a NUL character in its headers")
        is_file = b"filename" in headers.lower()
        self.text = None if is_file else codecs.getincrementaldecoder("utf-8")()
        self.state = "content"
        return True

    def _content(self) -> bool:
        at = self.buffer.find(self.separator)
        if at < 0:
            keep = len(self.separator) - 1  # a separator may be split across two chunks
            if len(self.buffer) > keep:
                if self.text is not None:  # (a file part's bytes are not even copied)
                    self._check(self.buffer[:-keep], final=False)
                self.buffer = self.buffer[-keep:]
            return False
        if self.text is not None:
            self._check(self.buffer[:at], final=True)
        self.buffer, self.state = self.buffer[at + len(self.separator) :], "delimiter"
        return True

    def _check(self, content: bytes, *, final: bool) -> None:
        if b"\x00" in content:
            raise InvalidInput(f"The form field {_shown(self.name)} contains a NUL character, which no field accepts")
        try:
            self.text.decode(content, final)
        except UnicodeDecodeError:
            raise InvalidInput(f"The form field {_shown(self.name)} is not valid UTF-8; send UTF-8 text") from None


def _content_headers(scope: Scope) -> tuple[bytes, int | None, bool]:
    """The content type (as sent), the announced length, and whether a body may follow."""
    content_type, length, chunked = b"", None, False
    for name, value in scope.get("headers") or ():
        if name == b"content-type":
            content_type = value
        elif name == b"content-length":
            length = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            chunked = True
    # HTTP/1.x has a body only with a length or chunked; HTTP/2 and later need neither
    http1 = scope.get("http_version", "1.1") in ("1.0", "1.1")
    return content_type, length, chunked or bool(length) or (length is None and not http1)


async def _read_body(receive: Receive) -> bytes | object:
    """The whole body, None when over the limit, `_NO_BODY` when the client went away."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return _NO_BODY
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over the body already read, then whatever follows."""
    pending = True

    async def replay() -> ReceiveMessage:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _counting(receive: Receive, scan: _MultipartScan | None) -> Receive:
    """A ``receive`` that enforces the size limit (and scans multipart) as the body streams in;
    what it refuses is raised inside the handler, which answers it like any `ApiError`."""
    size = 0

    async def counted() -> ReceiveMessage:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ApiError(too_large_message(MAX_BODY_BYTES), error_code="invalid_file_size", status_code=413)
            if scan is not None and chunk:
                scan.feed(chunk)
        return message

    return counted


async def _refuse(send: Send, status: int, error_code: str, message: str) -> None:
    body = msgspec.json.encode(error_body(error_code, message))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _body_kind(content_type: bytes) -> str:
    lowered = content_type.lower()
    if lowered.startswith(b"multipart/form-data"):
        return "multipart"
    if lowered.startswith(b"application/x-www-form-urlencoded"):
        return "form"
    if not lowered or b"json" in lowered or lowered.startswith(b"text/plain"):
        return "json"
    return "other"


def input_guard(app: ASGIApp) -> ASGIApp:
    """The middleware (``create_app`` adds it to every service's app)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        problem = url_problem(scope)
        if problem:
            await _refuse(send, 400, "invalid_input", problem)
            return
        content_type, length, has_body = _content_headers(scope)
        if not has_body:
            await app(scope, receive, send)
            return
        if length is not None and length > MAX_BODY_BYTES:
            await _refuse(send, 413, "invalid_file_size", too_large_message(MAX_BODY_BYTES))
            return
        kind = _body_kind(content_type)
        if kind in ("json", "form"):
            await _checked_whole(app, scope, receive, send, json_problem if kind == "json" else form_problem)
            return
        boundary = _BOUNDARY.search(content_type) if kind == "multipart" else None
        scan = _MultipartScan(boundary.group(1)) if boundary else None
        await app(scope, _counting(receive, scan), send)

    return middleware


async def _checked_whole(app: ASGIApp, scope: Scope, receive: Receive, send: Send, check: Callable[[bytes], str | None]) -> None:
    body = await _read_body(receive)
    if body is _NO_BODY:  # the client went away
        return
    if not isinstance(body, bytes):  # None: over the limit
        await _refuse(send, 413, "invalid_file_size", too_large_message(MAX_BODY_BYTES))
        return
    problem = check(body) if body else None
    if problem:
        await _refuse(send, 400, "invalid_input", problem)
        return
    await app(scope, _replaying(body, receive), send)
