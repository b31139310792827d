"""Readiness that says why (schema at head, NATS only where the mode needs it), a bus connection
that gives up when asked to stop, and two tokens accepted during a rotation; on SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from demo import DemoSettings, definition
from nats.errors import NoServersError
from sqlalchemy import text
from ten99_testing.ports import free_port
from ten99kit.migrations import check, downgrade, head_revisions, upgrade
from ten99kit.runtime import Runtime
from ten99kit.settings import SettingsRefused
from ten99kit.workers import Backoff


def _runtime(sqlite_url: str, **settings: Any) -> Runtime:
    settings.setdefault("development", True)
    return Runtime(definition, DemoSettings(db={"url": sqlite_url}, **settings))


@pytest.fixture
async def runtime(sqlite_url: str) -> AsyncIterator[Runtime]:
    rt = _runtime(
        sqlite_url, internal_token="new", internal_token_previous="old", operator_token="op", operator_token_previous="op-old"
    )
    yield rt
    await rt.db.dispose()


def _client(rt: Runtime, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=rt.app()), base_url="http://t", headers=headers)


async def test_an_unmigrated_database_is_not_ready_and_the_answer_names_the_schema(runtime: Runtime, sqlite_url: str) -> None:
    runtime.mode = "api"
    async with _client(runtime) as c:
        r = await c.get("/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "failing" and body["mode"] == "api"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["schema"].startswith("failing: schema not migrated (no alembic_version table)")
        head = next(iter(head_revisions(definition.migrations)))
        assert head in body["checks"]["schema"]

        await asyncio.to_thread(upgrade, definition.migrations, sqlite_url)
        r = await c.get("/readyz")
        assert r.status_code == 200, r.text
        # an api process does not need NATS: reported, not required
        assert r.json()["checks"] == {"database": "ok", "schema": "ok"}
        assert r.json()["not_required"]["nats"].startswith("failing")

        await asyncio.to_thread(downgrade, definition.migrations, sqlite_url, "-1")
        r = await c.get("/readyz")
        assert r.status_code == 503 and "head is" in r.json()["checks"]["schema"], r.text


@pytest.mark.parametrize("mode", ["worker", "relay", "all"])
async def test_modes_that_need_nats_are_not_ready_without_it(runtime: Runtime, sqlite_url: str, mode: str) -> None:
    await asyncio.to_thread(upgrade, definition.migrations, sqlite_url)
    runtime.mode = mode
    async with _client(runtime) as c:
        r = await c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "ok", "schema": "ok", "nats": "failing: not connected to NATS"}


async def test_a_database_that_does_not_answer_is_named(tmp_path: Any) -> None:
    (tmp_path / "x.db").mkdir()  # a directory where the database file should be: SQLite cannot open it
    rt = _runtime(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    rt.mode = "api"
    try:
        ok, body = await rt.readiness()
    finally:
        await rt.db.dispose()
    assert not ok
    assert body["checks"]["database"].startswith("failing: ")
    assert body["checks"]["schema"] == "failing: unknown (the database does not answer)"


def test_migrate_check_on_sqlite(sqlite_url: str) -> None:
    assert not check(definition.migrations, sqlite_url).at_head
    upgrade(definition.migrations, sqlite_url)
    assert check(definition.migrations, sqlite_url).at_head


async def test_one_connection_attempt_fails_at_once_when_nothing_listens(sqlite_url: str) -> None:
    rt = _runtime(sqlite_url, nats={"url": f"nats://127.0.0.1:{free_port()}"})
    try:
        with pytest.raises(NoServersError):  # not a timeout: the attempt ends by itself
            await asyncio.wait_for(rt.bus.connect(retry_first=False), timeout=30)
        assert not rt.bus.is_connected
    finally:
        await rt.close()


async def test_connecting_to_an_absent_nats_gives_up_when_stopped(sqlite_url: str) -> None:
    rt = _runtime(sqlite_url, nats={"url": f"nats://127.0.0.1:{free_port()}"})
    stop = asyncio.Event()
    attempts = asyncio.create_task(rt.connect_bus(stop, Backoff(0.05, 0.2)))
    try:
        stop.set()
        assert await asyncio.wait_for(attempts, timeout=10) is False
        assert not rt.bus_ready
    finally:
        await rt.close()


async def test_the_previous_internal_token_is_accepted_during_a_rotation(runtime: Runtime, sqlite_url: str) -> None:
    await asyncio.to_thread(upgrade, definition.migrations, sqlite_url)
    tenant = {"x-tenant-id": "co_1"}
    async with _client(runtime) as c:
        for token in ("new", "old"):
            r = await c.get("/notes/count", headers={**tenant, "x-ten99-internal-token": token})
            assert r.status_code == 200, (token, r.text)
        for token in ("", "other", "op", "op-old", "newold"):
            r = await c.get("/notes/count", headers={**tenant, "x-ten99-internal-token": token})
            assert r.status_code == 401 and r.json()["error_code"] == "invalid_api_key", token


async def test_the_previous_operator_token_is_accepted_during_a_rotation(runtime: Runtime) -> None:
    async with _client(runtime) as c:
        for token in ("op", "op-old"):
            assert (await c.get("/_ops/clock", headers={"x-ten99-operator-token": token})).status_code == 200, token
        for token in ("new", "old", "other"):
            assert (await c.get("/_ops/clock", headers={"x-ten99-operator-token": token})).status_code == 401, token


@pytest.mark.parametrize(
    ("settings", "refused"),
    [
        ({"operator_token_previous": "tok"}, "DEMO_OPERATOR_TOKEN_PREVIOUS equals DEMO_INTERNAL_TOKEN "),
        ({"internal_token_previous": "op"}, "DEMO_OPERATOR_TOKEN equals DEMO_INTERNAL_TOKEN_PREVIOUS"),
    ],
)
def test_an_operator_token_shared_with_an_internal_one_is_refused(
    settings: dict[str, str], refused: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DEMO_DEVELOPMENT", "DEMO_INTERNAL_TOKEN", "DEMO_OPERATOR_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    s = DemoSettings(internal_token="tok", operator_token="op", **settings)
    with pytest.raises(SettingsRefused, match=refused):
        s.refuse_unsafe_defaults()


async def test_a_schema_migrated_by_a_later_release_is_usable(runtime: Runtime, sqlite_url: str) -> None:
    """A rolling update (old pods beside a newer schema) or a code rollback: under the
    expand/contract rule the older code runs on it, so it stays ready."""
    await asyncio.to_thread(upgrade, definition.migrations, sqlite_url)
    async with runtime.db.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed0001'"))
    runtime.mode = "api"
    ok, body = await runtime.readiness()
    assert ok, body
    assert body["schema"].startswith("schema at f00dfeed0001, newer than this release's head")
    state = await asyncio.to_thread(check, definition.migrations, sqlite_url)
    assert state.ahead and state.usable and not state.at_head
