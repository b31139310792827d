"""A minimal service used to prove the kit's mechanisms: it writes notes (emitting
CompanyCreatedV1 through the outbox) and consumes those messages into ``applied``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy import Column, Integer, String, Table, func, select
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99kit import ApiError, Database, ServiceDefinition, ServiceParts, ServiceSettings, Subscription, make_metadata
from ten99kit.runtime import Runtime, kit_tables
from ten99kit.scheduler import ScheduledJob
from ten99kit.settings import service_settings_config

metadata = make_metadata()
notes = Table(
    "notes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", String(40), nullable=False, index=True),
    Column("text", String(200), nullable=False),
)
applied = Table(
    "applied",
    metadata,
    Column("message_id", String(64), primary_key=True),
    Column("company_id", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("seq", Integer, nullable=False),
)
kit_tables(metadata)


class DemoSettings(ServiceSettings):
    model_config = service_settings_config("DEMO_")
    service_name: ClassVar[str] = "demo"
    default_port: ClassVar[int] = 8099


class Behaviour:
    """Knobs the tests turn: names whose handling fails, and how often."""

    fail_names: ClassVar[dict[str, int]] = {}  # name -> failures left (-1: always)
    seen: ClassVar[list[str]] = []


async def write_note(db: Database, tenant_id: str, note_id: str, text: str, *, fail_after_emit: bool = False) -> None:
    async with db.uow() as uow:
        await uow.session.execute(notes.insert().values(id=note_id, tenant_id=tenant_id, text=text))
        uow.emit(
            CompanyCreatedV1(company_id=note_id, name=text, owner_email="o@example.com"),
            tenant_id=tenant_id,
            aggregate_id=note_id,
        )
        if fail_after_emit:
            raise RuntimeError("boom after emit")
        await uow.commit()


async def on_company_created(uow: Any, envelope: Any) -> None:
    name = envelope.data.name
    Behaviour.seen.append(name)
    left = Behaviour.fail_names.get(name, 0)
    if left:
        if left > 0:
            Behaviour.fail_names[name] = left - 1
        raise RuntimeError(f"refusing {name}")
    seq = (await uow.session.execute(select(func.count()).select_from(applied))).scalar_one()
    await uow.session.execute(
        applied.insert().values(message_id=envelope.id, company_id=envelope.data.company_id, name=name, seq=seq)
    )


@post("/notes", status_code=201)
async def create_note(
    db: NamedDependency[Database], tenant_id: NamedDependency[str], data: JSONBody[dict[str, str]]
) -> dict[str, str]:
    if not data.get("text"):
        raise ApiError("text is required", error_code="invalid_input")
    await write_note(db, tenant_id, data["id"], data["text"])
    return {"id": data["id"]}


@get("/notes/count")
async def count_notes(db: NamedDependency[Database], tenant_id: NamedDependency[str]) -> dict[str, int]:
    async with db.session() as s:
        n = (await s.execute(select(func.count()).select_from(notes).where(notes.c.tenant_id == tenant_id))).scalar_one()
    return {"count": n}


def build(runtime: Runtime) -> ServiceParts:
    async def tick(now: Any) -> int:
        return 1

    return ServiceParts(
        route_handlers=[create_note, count_notes],
        subscriptions=[Subscription(CompanyCreatedV1.SUBJECT, on_company_created)],
        jobs=[ScheduledJob("demo", tick)],
        dependencies={"db": runtime.db},
    )


definition = ServiceDefinition(
    name="demo",
    settings_type=DemoSettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
)
