"""The input guard (inputs.py) in an app built by create_app: hostile paths, query strings and
bodies get a 4xx with error_code and message before any handler runs; ordinary input passes."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from demo import DemoSettings, metadata
from demo import definition as demo
from litestar import Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody
from ten99kit import ServiceDefinition, ServiceParts
from ten99kit.inputs import MAX_BODY_BYTES, MAX_JSON_DEPTH, form_problem, json_problem, url_problem
from ten99kit.migrations import upgrade
from ten99kit.runtime import Runtime

TOO_LARGE = f"The request body is larger than the limit of {MAX_BODY_BYTES // 1048576} MiB ({MAX_BODY_BYTES:,} bytes)"


class Thing(msgspec.Struct):
    name: str
    tags: list[Any] = []


@get("/things/{thing_id:str}")
async def read_thing(thing_id: FromPath[str]) -> dict[str, str]:
    return {"id": thing_id}


@get("/things")
async def find_things(name: FromQuery[str] = "") -> dict[str, str]:
    return {"name": name}


@post("/things", status_code=200)
async def make_thing(data: JSONBody[Thing]) -> dict[str, str]:
    return {"name": data.name}


@post("/forms", status_code=200)
async def post_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: str(v) for k, v in form.items()}


@post("/uploads", status_code=200)
async def upload(data: MultipartBody[dict[str, Any]]) -> dict[str, Any]:
    content = await data["file"].read()
    return {"size": len(content), "note": data.get("note")}


@post("/raw", status_code=200)
async def raw(request: Request[Any, Any, Any]) -> dict[str, int]:
    return {"size": len(await request.body())}


def build(runtime: Runtime) -> ServiceParts:
    return ServiceParts(route_handlers=[read_thing, find_things, make_thing, post_form, upload, raw])


guarded = ServiceDefinition(name="demo", settings_type=DemoSettings, metadata=metadata, migrations=demo.migrations, build=build)


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    await asyncio.to_thread(upgrade, guarded.migrations, sqlite_url)
    runtime = Runtime(guarded, DemoSettings(db={"url": sqlite_url}, internal_token="tok", operator_token="op"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=runtime.app()), base_url="http://t", headers={"x-ten99-internal-token": "tok"}
    ) as c:
        yield c
    await runtime.db.dispose()


def refused(r: httpx.Response, status: int = 400, error_code: str = "invalid_input") -> str:
    """The message of a refusal in 1099Policy's shape (asserting the status and code)."""
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error_code"] == error_code and isinstance(body["message"], str) and body["message"], body
    assert r.headers["request-id"]  # answered inside the app's middleware: correlated and logged
    return str(body["message"])


JSON = {"content-type": "application/json"}


async def test_control_characters_and_bad_utf8_in_the_url_are_refused(client: httpx.AsyncClient) -> None:
    assert "U+0017" in refused(await client.get("/things/E%17"))
    assert "U+0000" in refused(await client.get("/things/a%00b"))
    assert "U+007F" in refused(await client.get("/things/a%7Fb"))
    assert "not valid UTF-8" in refused(await client.get("/things/%ff%fe"))
    assert "'name'" in refused(await client.get("/things?name=%00"))
    assert "U+001B" in refused(await client.get("/things", params={"name": "\x1b[31m"}))
    assert "U+000A" in refused(await client.get("/things?na%0Ame=x"))
    assert "not valid UTF-8" in refused(await client.get("/things?name=%c3%28"))
    # ordinary and non-ASCII input passes
    assert (await client.get("/things/Zo%C3%AB")).json() == {"id": "Zoë"}
    assert (await client.get("/things", params={"name": "Zoë & co+1"})).json() == {"name": "Zoë & co+1"}


async def test_json_bodies_that_are_not_utf8_hold_nul_or_nest_deep_are_refused(client: httpx.AsyncClient) -> None:
    assert "not valid UTF-8" in refused(await client.post("/things", content=b'{"name": "Zo\xeb"}', headers=JSON))
    assert "NUL" in refused(await client.post("/things", json={"name": "a\x00b"}))
    assert "NUL" in refused(await client.post("/things", content=b'{"name": "a\x00b"}', headers=JSON))
    deep = b'{"name": "x", "tags": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    assert f"deeper than {MAX_JSON_DEPTH}" in refused(await client.post("/things", content=deep, headers=JSON))
    # Litestar decodes a body without a content type (or text/plain) as JSON too
    assert "deeper" in refused(await client.post("/things", content=b"[" * 1000))
    assert "deeper" in refused(await client.post("/things", content=b"[" * 1000, headers={"content-type": "text/plain"}))
    assert "deeper" in refused(await client.post("/things", content=b"{" * 1000, headers=JSON))  # never closed
    # under a content type the guard leaves alone, the decoder's own failures are still a 400
    odd = {"content-type": "application/x-odd"}
    assert (
        refused(await client.post("/things", content=b"[" * 1000 + b"]" * 1000, headers=odd)) == "The input is nested too deeply"
    )
    assert "UTF-8" in refused(await client.post("/things", content=b'{"name": "Zo\xeb"}', headers=odd))
    # a JSON string holding a backslash and "u0000" is no NUL; the limit's depth itself passes
    assert (await client.post("/things", json={"name": "\\u0000"})).json() == {"name": "\\u0000"}
    fits = {"name": "x", "tags": msgspec.json.decode(b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1))}
    assert (await client.post("/things", json=fits)).status_code == 200
    many = {"name": "ok\ttab\r\nline", "tags": [{"a": [1]} for _ in range(500)]}
    assert (await client.post("/things", json=many)).json() == {"name": "ok\ttab\r\nline"}


async def test_a_body_over_the_limit_is_a_413_with_one_message(client: httpx.AsyncClient) -> None:
    big = b"x" * (MAX_BODY_BYTES + 1)
    assert refused(await client.post("/things", content=big, headers=JSON), 413, "invalid_file_size") == TOO_LARGE
    octets = {"content-type": "application/octet-stream"}
    assert refused(await client.post("/raw", content=big, headers=octets), 413, "invalid_file_size") == TOO_LARGE

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(MAX_BODY_BYTES // (1024 * 1024) + 1):
            yield b" " * (1024 * 1024)

    assert refused(await client.post("/raw", content=streamed(), headers=octets), 413, "invalid_file_size") == TOO_LARGE
    assert refused(await client.post("/things", content=streamed(), headers=JSON), 413, "invalid_file_size") == TOO_LARGE
    assert (await client.post("/raw", content=b"\x00" * 1000, headers=octets)).json() == {"size": 1000}


async def test_forms_with_nul_or_bad_utf8_are_refused(client: httpx.AsyncClient) -> None:
    assert "'name'" in refused(await client.post("/forms", data={"name": "a\x00b", "other": "x"}))
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert "not valid UTF-8" in refused(await client.post("/forms", content=b"name=Zo%EB", headers=form))
    assert (await client.post("/forms", data={"name": "Zoë\r\n\tx"})).json() == {"name": "Zoë\r\n\tx"}

    csv = b"a,b\r\n1,\x00\x01\xff\r\n"  # a file part is the handler's to judge, bytes and all
    r = await client.post("/uploads", files={"file": ("x.csv", csv, "text/csv")}, data={"note": "fine\r\n"})
    assert r.json() == {"size": len(csv), "note": "fine\r\n"}
    r = await client.post("/uploads", files={"file": ("x.csv", csv, "text/csv")}, data={"note": "a\x00b"})
    assert "'note'" in refused(r)
    raw = (
        b'--b0\r\nContent-Disposition: form-data; name="note"\r\n\r\nZo\xeb\r\n'
        b'--b0\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n\r\n1,2\r\n--b0--\r\n'
    )
    r = await client.post("/uploads", content=raw, headers={"content-type": "multipart/form-data; boundary=b0"})
    assert "'note' is not valid UTF-8" in refused(r)
    named = raw.replace(b"Zo\xeb", b"ok").replace(b'"x.csv"', b'"x\x00.csv"')
    r = await client.post("/uploads", content=named, headers={"content-type": "multipart/form-data; boundary=b0"})
    assert "'file'" in refused(r)


async def test_a_multipart_boundary_split_across_chunks_is_found(client: httpx.AsyncClient) -> None:
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n\r\n' + b"\x00" * 70_000 + b"\r\n"
        b'--XX\r\nContent-Disposition: form-data; name="note"\r\n\r\n' + "né".encode() * 40_000 + b"\r\n--XX--\r\n"
    )

    async def in_chunks(content: bytes, size: int) -> AsyncIterator[bytes]:
        for start in range(0, len(content), size):
            yield content[start : start + size]

    headers = {"content-type": "multipart/form-data; boundary=XX"}
    for size in (7, 4096):  # 7 splits every delimiter somewhere
        r = await client.post("/uploads", content=in_chunks(body, size), headers=headers)
        assert r.json() == {"size": 70_000, "note": "né" * 40_000}, size
    poisoned = body.replace("né".encode() * 2, "n\x00né".encode(), 1)
    assert "'note'" in refused(await client.post("/uploads", content=in_chunks(poisoned, 7), headers=headers))
    assert "'note'" in refused(await client.post("/uploads", content=poisoned, headers=headers))


def test_the_checks_on_their_own() -> None:
    assert url_problem({"raw_path": b"/a/b", "path": "/a/b", "query_string": b"x=1&y=%C3%AB"}) is None
    assert url_problem({"path": "/a\tb", "query_string": b""}) is not None
    assert json_problem(b'{"a": "\\\\u0000"}') is None  # an escaped backslash, then "u0000"
    assert json_problem(b'{"a": "\\\\\\u0000"}') is not None  # an escaped backslash, then a NUL escape
    assert json_problem(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') is None  # brackets in a string
    assert json_problem(b"[" * 33 + b"]" * 33) is not None
    assert json_problem(b"[" * 32 + b"]" * 32) is None
    assert json_problem(b"[{" * 20 + b"}]" * 20) is not None  # 40 levels, two kinds of bracket
    assert form_problem(b"a=1&b=%00") is not None and form_problem(b"a=1+2&b=%C3%AB") is None


async def test_a_lower_limit_of_a_service_says_so_in_the_same_words(sqlite_url: str) -> None:
    small = ServiceDefinition(
        name="demo",
        settings_type=DemoSettings,
        metadata=metadata,
        migrations=demo.migrations,
        build=lambda runtime: ServiceParts(route_handlers=[raw], max_body_size=1024),
    )
    runtime = Runtime(small, DemoSettings(db={"url": sqlite_url}, internal_token="tok", operator_token="op"))
    transport = httpx.ASGITransport(app=runtime.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers={"x-ten99-internal-token": "tok"}) as c:
        r = await c.post("/raw", content=b"x" * 2048, headers={"content-type": "application/octet-stream"})
    await runtime.db.dispose()
    assert refused(r, 413, "invalid_file_size") == "The request body is larger than the limit of 1 KiB (1,024 bytes)"


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def test_the_depth_is_measured_outside_strings_exactly() -> None:
    """Against the depth of the decoded value, on documents whose strings hold brackets, quotes
    and backslashes in every arrangement."""
    rng = random.Random(1099)
    tricky = ["[", "]]", '{"', "\\", '\\"', '"[', '\\\\"{', "\\u0022[", "", "é{"]

    def make(depth: int) -> Any:
        if depth == 0:
            return rng.choice([*tricky, 1, None])
        inner = [make(depth - 1)] + [rng.choice(tricky) for _ in range(rng.randint(0, 2))]
        rng.shuffle(inner)
        return {rng.choice(tricky) + str(depth): inner} if rng.random() < 0.5 else inner

    seen: set[bool] = set()
    for _ in range(400):
        document = make(rng.randint(MAX_JSON_DEPTH * 2 // 3, MAX_JSON_DEPTH))
        document = [document, {"k": document}] if rng.random() < 0.5 else document
        for ascii_only in (True, False):
            body = json.dumps(document, ensure_ascii=ascii_only).encode()
            refused = json_problem(body) is not None
            assert refused == (_depth(document) > MAX_JSON_DEPTH), (_depth(document), body[:200])
            seen.add(refused)
    assert seen == {True, False}
