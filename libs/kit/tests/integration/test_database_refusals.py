"""The safety net behind the input guard, on a real PostgreSQL: a value the database refuses as
data (NUL in text, a string too long for its column, a number beyond 64 bits) is a 400
``invalid_input`` with a message, not a 500, and nothing is written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from demo import DemoSettings, metadata, notes
from demo import definition as demo
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from sqlalchemy import func, literal, select
from ten99kit import Database, ServiceDefinition, ServiceParts
from ten99kit.migrations import upgrade
from ten99kit.runtime import Runtime

pytestmark = pytest.mark.integration


@post("/raw-notes", status_code=201)
async def raw_note(db: NamedDependency[Database], request: Request[Any, Any, Any]) -> dict[str, str]:
    """An octet-stream body stored as text: the guard does not read such bodies, the database does."""
    text = (await request.body()).decode("latin-1")
    async with db.uow() as uow:
        await uow.session.execute(notes.insert().values(id="n1", tenant_id="co_1", text=text))
        await uow.commit()
    return {"id": "n1"}


@get("/notes-above")
async def notes_above(db: NamedDependency[Database], n: FromQuery[int]) -> dict[str, int]:
    async with db.session() as s:
        count = (await s.execute(select(func.count()).select_from(notes).where(literal(n) > 0))).scalar_one()
    return {"count": count}


def build(runtime: Runtime) -> ServiceParts:
    return ServiceParts(route_handlers=[raw_note, notes_above], dependencies={"db": runtime.db})


service = ServiceDefinition(name="demo", settings_type=DemoSettings, metadata=metadata, migrations=demo.migrations, build=build)


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    await asyncio.to_thread(upgrade, service.migrations, database_url)
    runtime = Runtime(service, DemoSettings(db={"url": database_url}, internal_token="tok", operator_token="op"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=runtime.app()), base_url="http://t", headers={"x-ten99-internal-token": "tok"}
    ) as c:
        yield c, runtime
    await runtime.db.dispose()


async def test_values_the_database_refuses_are_a_400(client: tuple[httpx.AsyncClient, Runtime]) -> None:
    c, runtime = client
    octets = {"content-type": "application/octet-stream"}
    for body, words in ((b"a\x00b", "cannot be stored"), (b"x" * 201, "longer than")):
        r = await c.post("/raw-notes", content=body, headers=octets)
        assert r.status_code == 400, r.text
        assert r.json()["error_code"] == "invalid_input" and words in r.json()["message"], r.json()
    r = await c.get("/notes-above", params={"n": str(2**70)})
    assert r.status_code == 400 and r.json() == {
        "error_code": "invalid_input",
        "message": "A value is out of range or not of the form its field expects",
    }
    async with runtime.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(notes))).scalar_one() == 0
    # the same route with a value it can store still works
    assert (await c.post("/raw-notes", content=b"fine\ttext", headers=octets)).status_code == 201
