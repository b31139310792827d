"""Benchmarks of the kit on PostgreSQL and NATS JetStream (issue 2):

- relay throughput: outbox rows published into JetStream and acknowledged, per second;
- backlog drain: time to publish a 10,000-event backlog after NATS comes back;
- consumer throughput: messages applied through the inbox, per second;
- idle memory: RSS of one idle service process (``python -m <service> all``).

Run with ``make bench`` (or ``python bench/run.py kit``); results go to bench/results/kit.json.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import nats
import uvloop
from sqlalchemy import Column, MetaData, String, Table, func, select
from ten99_contracts import Envelope
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_testing.nats_server import NatsServerProcess
from ten99_testing.ports import free_port
from ten99kit import ServiceDefinition, ServiceParts, Subscription, kit_tables, make_metadata
from ten99kit.runtime import Runtime
from ten99kit.settings import ServiceSettings, service_settings_config

ROOT = Path(__file__).resolve().parents[1]

metadata: MetaData = make_metadata()
applied = Table("applied", metadata, Column("message_id", String(64), primary_key=True), Column("name", String(200)))
kit_tables(metadata)


class BenchSettings(ServiceSettings):
    model_config = service_settings_config("KITBENCH_")
    service_name: ClassVar[str] = "kitbench"


async def on_company_created(uow: Any, envelope: Any) -> None:
    """One statement per message."""
    await uow.session.execute(applied.insert().values(message_id=envelope.id, name=envelope.data.name))


async def on_company_created_batched(uow: Any, envelope: Any) -> None:
    """The kit's idiom for bulk work: buffer in the unit of work, write once before the commit
    (one statement for the whole batch the consumer applies in that transaction)."""
    rows = uow.session.info.get("applied_rows")
    if rows is None:
        rows = uow.session.info["applied_rows"] = []

        async def write() -> None:
            await uow.session.execute(applied.insert(), rows)

        uow.before_commit(write)
    rows.append({"message_id": envelope.id, "name": envelope.data.name})


def _definition(handler: Any) -> ServiceDefinition:
    return ServiceDefinition(
        name="kitbench",
        settings_type=BenchSettings,
        metadata=metadata,
        migrations=ROOT / "libs/kit/tests/demo/migrations",  # unused: tables are created directly
        build=lambda rt: ServiceParts(subscriptions=[Subscription(CompanyCreatedV1.SUBJECT, handler)]),
    )


definition = _definition(on_company_created)
batched_definition = _definition(on_company_created_batched)


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def runtime_for(db_url: str, nats_url: str, *, batched: bool = False, **overrides: Any) -> Runtime:
    settings = BenchSettings.model_validate(
        {
            "db": {"url": db_url, "pool_size": 10},
            "nats": {"url": nats_url, **overrides.pop("nats", {})},
            "development": True,  # no tokens: nothing but this benchmark talks to it
            **overrides,
        }
    )
    rt = Runtime(batched_definition if batched else definition, settings)
    await rt.db.create_all(metadata)
    await rt.start()
    return rt


async def fill_outbox(rt: Runtime, n: int, per_tx: int = 1000) -> None:
    for start in range(0, n, per_tx):
        async with rt.db.uow() as uow:
            for i in range(start, min(n, start + per_tx)):
                uow.emit(
                    CompanyCreatedV1(company_id=f"co_{i}", name=f"company {i}", owner_email="o@example.com"),
                    tenant_id="co_bench",
                    aggregate_id=f"co_{i}",
                )
            await uow.commit()


async def unsent(rt: Runtime) -> int:
    t = rt.db.outbox_table
    async with rt.db.session() as s:
        return (await s.execute(select(func.count()).select_from(t).where(t.c.sent_at.is_(None)))).scalar_one()


async def bench_relay(db_url: str, nats_url: str, n: int = 20_000) -> dict[str, Any]:
    rt = await runtime_for(db_url, nats_url)
    try:
        await fill_outbox(rt, n)
        t0 = time.perf_counter()
        published = await rt.relay.drain()
        dt = time.perf_counter() - t0
        nc = await nats.connect(nats_url)
        info = await nc.jetstream().stream_info("TEN99_GATEWAY")
        await nc.close()
        assert published == n and info.state.messages >= n, (published, info.state.messages)
        return {"events": n, "seconds": round(dt, 3), "events_per_s": round(n / dt)}
    finally:
        await rt.close()


async def bench_backlog_drain(db_url: str, store: Path, n: int = 10_000) -> dict[str, Any]:
    server = NatsServerProcess(store).start()
    rt = await runtime_for(db_url, server.url)
    stop = asyncio.Event()
    relay = asyncio.create_task(rt.relay.run(stop))
    try:
        server.stop()
        await asyncio.sleep(0.5)
        await fill_outbox(rt, n)
        await asyncio.sleep(3.0)  # the relay backs off while NATS is away
        assert await unsent(rt) == n
        t0 = time.perf_counter()
        server.start()
        while await unsent(rt):
            await asyncio.sleep(0.01)
        dt = time.perf_counter() - t0
        return {"events": n, "seconds_after_nats_back": round(dt, 3)}
    finally:
        stop.set()
        await relay
        await rt.close()
        server.stop()


async def bench_consumer(db_url: str, nats_url: str, n: int = 20_000, *, batched: bool = False) -> dict[str, Any]:
    # publish straight into JetStream, then let one consumer apply everything through the inbox
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    rt = await runtime_for(db_url, nats_url, batched=batched, nats={"fetch_batch": 500})
    enc = msgspec.json.Encoder()
    now = datetime.now(UTC)
    futures = []
    for i in range(n):
        env = Envelope(
            id=str(uuid.uuid4()),
            subject=CompanyCreatedV1.SUBJECT,
            occurred_at=now,
            tenant_id="co_bench",
            aggregate_id=f"co_{i}",
            data=CompanyCreatedV1(company_id=f"co_{i}", name=f"c{i}", owner_email="o@example.com"),
        )
        futures.append(await js.publish_async(CompanyCreatedV1.SUBJECT, enc.encode(env)))
    await asyncio.gather(*futures)
    await nc.close()
    stop = asyncio.Event()
    t0 = time.perf_counter()
    consumer = asyncio.create_task(rt.consumer.run(stop))
    try:
        while True:
            async with rt.db.session() as s:
                done = (await s.execute(select(func.count()).select_from(applied))).scalar_one()
            if done >= n:
                break
            await asyncio.sleep(0.05)
        dt = time.perf_counter() - t0
        return {"messages": n, "seconds": round(dt, 3), "messages_per_s": round(n / dt)}
    finally:
        stop.set()
        await consumer
        await rt.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_idle_memory(nats_url: str, db_url_for: Any, services: list[str], settle_s: float = 8.0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for svc in services:
        env = {
            **os.environ,
            f"{svc.upper()}_DB__URL": db_url_for(svc),
            f"{svc.upper()}_NATS__URL": nats_url,
            f"{svc.upper()}_HTTP__PORT": str(free_port()),
            f"{svc.upper()}_LOG__LEVEL": "WARNING",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", svc, "all"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            time.sleep(settle_s)
            if proc.poll() is not None:
                out[svc] = "exited"
                continue
            out[svc] = round(rss_mb(proc.pid), 1)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    return {"rss_mb": out, "max_rss_mb": max((v for v in out.values() if isinstance(v, float)), default=None)}


async def main() -> dict[str, Any]:
    nats_url = os.environ.get("TEST_NATS_URL")
    results: dict[str, Any] = {}
    dbs: list[str] = []

    async def new_db() -> str:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        await _admin(f'CREATE DATABASE "{name}"')
        dbs.append(name)
        return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"

    own_nats = None
    tmp = tempfile.TemporaryDirectory(prefix="kitbench-")
    try:
        if not nats_url:
            own_nats = NatsServerProcess(Path(tmp.name) / "nats").start()
            nats_url = own_nats.url

        async def fresh_streams() -> None:
            nc = await nats.connect(nats_url)
            js = nc.jetstream()
            for s in await js.streams_info():
                await js.delete_stream(s.config.name)
            await nc.close()

        await fresh_streams()
        results["relay"] = await bench_relay(await new_db(), nats_url)
        results["backlog_drain"] = await bench_backlog_drain(await new_db(), Path(tmp.name) / "private-nats")
        await fresh_streams()
        results["consumer"] = await bench_consumer(await new_db(), nats_url)
        await fresh_streams()
        results["consumer_batched_handler"] = await bench_consumer(await new_db(), nats_url, batched=True)
        services = [
            s
            for s in ("contractor", "enrollment", "policy", "billing", "notification", "gateway")
            if (ROOT / "services" / s / "src" / s / "migrations" / "versions").exists()
        ]
        idle_dbs = {s: await new_db() for s in services}
        results["idle_memory"] = await asyncio.to_thread(bench_idle_memory, nats_url, lambda s: idle_dbs[s], services)
    finally:
        for name in dbs:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if own_nats:
            own_nats.stop()
        tmp.cleanup()
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(uvloop.run(main()), indent=2))
