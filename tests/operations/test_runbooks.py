"""The runbooks' commands, run as written (docs/operations/*.md), against a real PostgreSQL and NATS.

Every fenced block in docs/operations tagged ``runbook=<id>`` (```` ```sh runbook=backup.dump ````)
is read from the markdown and run here with bash, its placeholders (``$SVC``, ``$EXEC``, ``$DB``,
libpq's ``PG*``, ...) set in the environment, so that a runbook cannot drift from what was tested:
edit a command in the document and this test runs the edited one. ``EXEC`` (``kubectl exec ...``
in production) is empty here: the commands run on this machine with the service's settings in the
environment, as they would inside the service's pod. ``test_every_runbook_block_is_exercised``
keeps the list of blocks and the tests in step.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest
import pytest_asyncio
from contractor.application.context import Context
from contractor.bootstrap import definition as contractor
from notification.bootstrap import definition as notification
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from ten99_contracts import Envelope
from ten99_contracts.enrollment_v1 import InvitationExpiredV1
from ten99_testing import wait_until
from ten99_testing.nats_server import NatsServerProcess
from ten99_testing.plugin import drop_database
from ten99_testing.ports import free_port
from ten99_testing.service import INTERNAL_TOKEN, OPERATOR_TOKEN, RunningService, running_service
from ten99_testing.system import ServiceProcess
from ten99kit.bus import ensure_streams
from ten99kit.crypto import FieldCipher, derive_key

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "operations"
TENANT = "co_RUNBOOKRUNBOOKRUNBOOK1"
BLOCK = re.compile(r"^[ \t]*```(?:sh|bash|console) runbook=(?P<id>[\w.-]+)\n(?P<body>.*?)^[ \t]*```", re.S | re.M)

#: every runbook block, and the test that runs it
EXERCISED = {
    "backup.dump": "test_backup_and_restore_of_a_service_database",
    "restore.database": "test_backup_and_restore_of_a_service_database",
    "restore.check": "test_backup_and_restore_of_a_service_database",
    "restore.reset-consumers": "test_backup_and_restore_of_a_service_database",
    "restore.consumers": "test_backup_and_restore_of_a_service_database",
    "jetstream.backup": "test_jetstream_file_store_backup_and_restore",
    "jetstream.restore": "test_jetstream_file_store_backup_and_restore",
    "deadletters.list": "test_dead_letter_inspected_and_replayed",
    "deadletters.ops-list": "test_dead_letter_inspected_and_replayed",
    "deadletters.replay": "test_dead_letter_inspected_and_replayed",
    "deadletters.ops-replay": "test_dead_letter_inspected_and_replayed",
    "deadletters.replay-all": "test_dead_letter_inspected_and_replayed",
    "deadletters.consumers": "test_dead_letter_inspected_and_replayed",
    "incidents.consumers": "test_dead_letter_inspected_and_replayed",
    "incidents.tick": "test_dead_letter_inspected_and_replayed",
    "incidents.migrate-check": "test_dead_letter_inspected_and_replayed",
    "restore.republish": "test_outbox_republished_after_jetstream_lost_it",
    "restore.outbox-backlog": "test_outbox_republished_after_jetstream_lost_it",
    "incidents.outbox": "test_outbox_republished_after_jetstream_lost_it",
    "incidents.deliveries": "test_operator_queries_match_the_schemas",
    "rotate.end-sessions": "test_operator_queries_match_the_schemas",
    "scaling.connections": "test_operator_queries_match_the_schemas",
    "rotate.db-login-role": "test_database_password_rotation_with_two_login_roles",
    "rotate.db-password": "test_database_password_rotation_with_two_login_roles",
    "rotate.tax-id-check": "test_tax_id_key_rotation",
    "rotate.tax-id-reencrypt": "test_tax_id_key_rotation",
}


def runbook_blocks() -> dict[str, str]:
    blocks: dict[str, str] = {}
    for path in sorted(RUNBOOKS.glob("*.md")):
        for m in BLOCK.finditer(path.read_text()):
            assert m["id"] not in blocks, f"runbook block {m['id']} appears twice ({path.name})"
            blocks[m["id"]] = textwrap.dedent(m["body"])  # a block inside a list item is indented
    return blocks


def run_block(block_id: str, env: dict[str, str], *, expect: int = 0) -> str:
    """Run one runbook block with bash (errexit, nounset, pipefail) from the repository root."""
    body = runbook_blocks()[block_id]
    venv_bin = str(Path(sys.executable).parent)
    full_env = {**os.environ, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}", "EXEC": "", **env}
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", body],
        env=full_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert out.returncode == expect, f"runbook block {block_id} exited {out.returncode}:\n{body}\n{out.stdout}\n{out.stderr}"
    return out.stdout


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_every_runbook_block_is_exercised() -> None:
    assert set(runbook_blocks()) == set(EXERCISED)


# -- fixtures ------------------------------------------------------------------------------


@dataclass
class Postgres:
    admin_url: str

    @property
    def libpq(self) -> dict[str, str]:
        """libpq's variables (psql, pg_dump, pg_restore, createdb) for the test server."""
        u = make_url(self.admin_url)
        env = {"PGHOST": u.host or "127.0.0.1", "PGPORT": str(u.port or 5432), "PGUSER": u.username or "postgres"}
        if u.password:
            env["PGPASSWORD"] = u.password
        return env

    def url(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)


@pytest_asyncio.fixture
async def postgres(postgres_url: str) -> AsyncIterator[Postgres]:
    yield Postgres(postgres_url)


@pytest_asyncio.fixture
async def scratch_databases(postgres_url: str) -> AsyncIterator[list[str]]:
    """Names of databases a runbook creates (createdb); dropped afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        await drop_database(postgres_url, make_url(postgres_url).set(database=name).render_as_string(hide_password=False))


@pytest_asyncio.fixture
async def engine_of() -> AsyncIterator[Any]:
    engines: list[AsyncEngine] = []

    def make(url: str) -> AsyncEngine:
        engines.append(create_async_engine(url))
        return engines[-1]

    yield make
    for e in engines:
        await e.dispose()


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def publish_invitation_expired(nats_url: str, contractor_id: str, occurred_at: datetime) -> str:
    """Enrollment's message that an invitation ran out: contractor's roster records it."""
    message = InvitationExpiredV1(invitation_id=f"inv_{uuid.uuid4().hex[:20]}", contractor_id=contractor_id)
    envelope = Envelope(
        id=str(uuid.uuid4()),
        subject=message.SUBJECT,
        occurred_at=occurred_at,
        tenant_id=TENANT,
        aggregate_id=message.invitation_id,
        data=message,
    )
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(message.SUBJECT, msgspec.json.encode(envelope), headers={"Nats-Msg-Id": envelope.id})
    finally:
        await nc.close()
    return envelope.id


@pytest.fixture
def contractor_body() -> dict[str, Any]:
    return {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": f"grace-{uuid.uuid4().hex[:8]}@example.com",
        "tax_identification": "123-45-6789",
        "address": {"line1": "2211 Mission St", "locality": "San Francisco", "region": "CA", "postalcode": "94110"},
    }


async def create_contractor(svc: RunningService, body: dict[str, Any]) -> dict[str, Any]:
    r = await svc.client.post("/v1/contractors", json=body, headers={"x-tenant-id": TENANT})
    assert r.status_code == 200, r.text
    return dict(r.json())


EXPIRED_AT = "SELECT expired_at FROM roster_status WHERE tenant_id = :t AND contractor_id = :c"


# -- backup and restore ----------------------------------------------------------------------


async def test_backup_and_restore_of_a_service_database(
    postgres: Postgres,
    database_factory: Any,
    jetstream_url: str,
    scratch_databases: list[str],
    engine_of: Any,
    contractor_body: dict[str, Any],
    tmp_path: Path,
) -> None:
    """backup-and-restore.md: pg_dump of contractor's database with a contractor in it; a message
    applied after the backup; pg_restore into a new database, migrate --check, consumers reset:
    the restored service has the contractor (tax id still decrypts) and applies the message again."""
    source_url = await database_factory("rb_src")
    restored = f"rb_restored_{uuid.uuid4().hex[:12]}"
    scratch_databases.append(restored)
    backup = tmp_path / "contractor.dump"
    env = {
        **postgres.libpq,
        "SVC": "contractor",
        "DB": make_url(source_url).database or "",
        "BACKUP": str(backup),
        "RESTORED_DB": restored,
        "RESTORED_DB_URL": postgres.url(restored),
        "CONTRACTOR_NATS__URL": jetstream_url,
    }
    async with running_service(contractor, database_url=source_url, nats_url=jetstream_url) as svc:
        person = await create_contractor(svc, contractor_body)
        run_block("backup.dump", env)
        occurred = datetime.now(UTC).replace(microsecond=0)
        await publish_invitation_expired(jetstream_url, person["id"], occurred)
        source = engine_of(source_url)
        await wait_until(lambda: scalar(source, EXPIRED_AT, t=TENANT, c=person["id"]), what="the source applied the message")

    run_block("restore.database", env)
    run_block("restore.check", env)
    restored_db = engine_of(postgres.url(restored))
    assert await scalar(restored_db, EXPIRED_AT, t=TENANT, c=person["id"]) is None  # after the backup: not in it

    deleted = json_lines(run_block("restore.reset-consumers", env))
    assert {d["deleted"] for d in deleted} >= {"contractor__ten99_enrollment_invitation_expired_v1"}

    async with running_service(contractor, database_url=postgres.url(restored), nats_url=jetstream_url) as svc:
        r = await svc.client.get(f"/v1/contractors/{person['id']}", headers={"x-tenant-id": TENANT})
        assert r.status_code == 200, r.text
        assert r.json()["email"] == contractor_body["email"]
        assert r.json()["tax_identification"] == "***-**-6789"
        # the same tax id again is "no change": the restored value decrypts with the configured key
        same = {**contractor_body, "tax_identification": "123-45-6789"}
        assert (
            await svc.client.put(f"/v1/contractors/{person['id']}", json=same, headers={"x-tenant-id": TENANT})
        ).status_code == 200
        applied = await wait_until(
            lambda: scalar(restored_db, EXPIRED_AT, t=TENANT, c=person["id"]), what="the replayed message applied"
        )
        assert applied == occurred
        consumers = await wait_until(
            lambda: asyncio.to_thread(lambda: _caught_up(run_block("restore.consumers", env))), what="the consumers caught up"
        )
        assert any(c["consumer"] == "contractor__ten99_enrollment_invitation_expired_v1" for c in consumers)
    # the messages applied before the backup were dropped by the restored inbox: one row per message
    assert await scalar(restored_db, "SELECT count(*) FROM inbox") == await scalar(
        restored_db, "SELECT count(DISTINCT message_id) FROM inbox"
    )


def _caught_up(output: str) -> list[dict[str, Any]] | None:
    consumers = json_lines(output)
    return consumers if consumers and all(c["pending"] == 0 and c["ack_pending"] == 0 for c in consumers) else None


def test_jetstream_file_store_backup_and_restore(tmp_path: Path) -> None:
    """backup-and-restore.md: a stopped node's file store copied with tar and restored into an
    empty store keeps the streams and their messages."""
    store, restored_store = tmp_path / "store", tmp_path / "restored"
    env = {"JS_BACKUP": str(tmp_path / "jetstream.tgz")}
    server = NatsServerProcess(store).start()
    try:
        asyncio.run(_publish_one(server.url))
    finally:
        server.stop()
    run_block("jetstream.backup", {**env, "JS_STORE": str(store)})
    run_block("jetstream.restore", {**env, "JS_STORE": str(restored_store)})
    again = NatsServerProcess(restored_store).start()
    try:
        assert asyncio.run(_messages_in(again.url, "TEN99_ENROLLMENT")) == 1
    finally:
        again.stop()


async def _publish_one(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        await js.publish(InvitationExpiredV1.SUBJECT, b"{}", headers={"Nats-Msg-Id": str(uuid.uuid4())})
    finally:
        await nc.close()


async def _messages_in(url: str, stream: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    finally:
        await nc.close()


# -- dead letters ------------------------------------------------------------------------------

REFUSE_ROSTER = (
    "CREATE FUNCTION runbook_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN RAISE EXCEPTION 'roster_status is read-only during maintenance'; END $$",
    "CREATE TRIGGER runbook_refuse BEFORE INSERT OR UPDATE ON roster_status FOR EACH ROW EXECUTE FUNCTION runbook_refuse()",
)
ALLOW_ROSTER = ("DROP TRIGGER runbook_refuse ON roster_status", "DROP FUNCTION runbook_refuse()")


@pytest.fixture
def contractor_process(database_url: str, jetstream_url: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    """``python -m contractor all`` as a real process; a failing message is dead-lettered after
    its second delivery."""
    port = free_port()
    env = {
        **os.environ,
        "CONTRACTOR_DB__URL": database_url,
        "CONTRACTOR_NATS__URL": jetstream_url,
        "CONTRACTOR_HTTP__PORT": str(port),
        "CONTRACTOR_INTERNAL_TOKEN": INTERNAL_TOKEN,
        "CONTRACTOR_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "CONTRACTOR_DEVELOPMENT": "true",
        "CONTRACTOR_DATA_DIR": str(tmp_path / "data"),
        "CONTRACTOR_NATS__MAX_DELIVER": "2",
        "CONTRACTOR_NATS__BACKOFF_S": "[0.1]",
        "CONTRACTOR_NATS__FETCH_TIMEOUT_S": "0.2",
    }
    process = ServiceProcess("contractor", port, env, tmp_path / "contractor.log", ROOT)
    process.start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


async def test_dead_letter_inspected_and_replayed(
    contractor_process: ServiceProcess, database_url: str, jetstream_url: str, engine_of: Any, contractor_body: dict[str, Any]
) -> None:
    """dead-letters.md's worked example: a message whose handler fails on every delivery is
    dead-lettered; listed by the CLI and /_ops; the cause fixed; replayed once with effect, and a
    second replay (by id or all) does nothing."""
    import httpx

    db = engine_of(database_url)
    base = contractor_process.url
    headers = {"x-ten99-internal-token": INTERNAL_TOKEN, "x-tenant-id": TENANT}
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        r = await client.post("/v1/contractors", json=contractor_body)
        assert r.status_code == 200, r.text
        person = r.json()
    async with db.begin() as conn:
        for statement in REFUSE_ROSTER:
            await conn.exec_driver_sql(statement)
    occurred = datetime.now(UTC).replace(microsecond=0)
    message_id = await publish_invitation_expired(jetstream_url, person["id"], occurred)
    await wait_until(lambda: scalar(db, "SELECT count(*) FROM dead_letters"), what="the message dead-lettered")

    env = {
        "SVC": "contractor",
        "SERVICE_URL": base,
        "OPERATOR_TOKEN": OPERATOR_TOKEN,
        **{k: v for k, v in contractor_process.env.items() if k.startswith("CONTRACTOR_")},
    }
    [listed] = json_lines(run_block("deadletters.list", env))
    assert listed["subject"] == InvitationExpiredV1.SUBJECT
    assert listed["message_id"] == message_id
    assert listed["deliveries"] == 2
    assert "read-only during maintenance" in listed["error"]
    [shown] = json.loads(run_block("deadletters.ops-list", env))
    assert shown["id"] == listed["id"] and shown["replayed_at"] is None
    assert await scalar(db, EXPIRED_AT, t=TENANT, c=person["id"]) is None

    async with db.begin() as conn:  # the fix: the table writable again
        for statement in ALLOW_ROSTER:
            await conn.exec_driver_sql(statement)
    env["DEAD_LETTER_ID"] = str(listed["id"])
    assert json_lines(run_block("deadletters.replay", env)) == [{"id": listed["id"], "applied": True}]
    assert await scalar(db, EXPIRED_AT, t=TENANT, c=person["id"]) == occurred
    assert await scalar(db, "SELECT count(*) FROM inbox WHERE message_id = :m", m=message_id) == 1

    again = json.loads(run_block("deadletters.ops-replay", env))
    assert again == {"id": listed["id"], "applied": False}
    assert json_lines(run_block("deadletters.replay-all", env)) == []  # nothing left to replay
    assert json_lines(run_block("deadletters.list", env)) == []
    assert await scalar(db, "SELECT count(*) FROM inbox WHERE message_id = :m", m=message_id) == 1

    # the incident checks on the same service: consumers, clock-driven jobs, schema at head
    for block in ("deadletters.consumers", "incidents.consumers"):
        consumers = {c["consumer"]: c for c in json_lines(run_block(block, env))}
        expired = consumers["contractor__ten99_enrollment_invitation_expired_v1"]
        assert expired["subject"] == InvitationExpiredV1.SUBJECT and expired["redelivered"] >= 0
    assert "jobs" in json.loads(run_block("incidents.tick", env))
    run_block("incidents.migrate-check", env)


# -- secret rotation ---------------------------------------------------------------------------


async def test_tax_id_key_rotation(
    database_url: str, jetstream_url: str, engine_of: Any, contractor_body: dict[str, Any]
) -> None:
    """secret-rotation.md: tax ids written under the old key; the new key prepended; still read;
    re-encrypted by the runbook's command; the old key removed; still read, and the stored value
    decrypts with the new key alone."""
    old, new = "old-tax-id-secret-" + uuid.uuid4().hex, "new-tax-id-secret-" + uuid.uuid4().hex
    async with running_service(contractor, database_url=database_url, nats_url=jetstream_url, tax_id_keys=[old]) as svc:
        person = await create_contractor(svc, contractor_body)
    db = engine_of(database_url)
    stored = await scalar(db, "SELECT tax_id_encrypted FROM contractors WHERE id = :i", i=person["id"])

    env = {"CONTRACTOR_DB__URL": database_url, "CONTRACTOR_TAX_ID_KEYS": json.dumps([new, old])}
    stale = json_lines(run_block("rotate.tax-id-check", env, expect=1))
    assert {(s["table"], s["stale"]) for s in stale} == {("contractors", 1), ("import_files", 0)}

    async with running_service(
        contractor, database_url=database_url, nats_url=jetstream_url, tax_id_keys=[new, old]
    ) as svc:  # both keys: the old value still reads
        same = {**contractor_body, "tax_identification": "123-45-6789"}
        r = await svc.client.put(f"/v1/contractors/{person['id']}", json=same, headers={"x-tenant-id": TENANT})
        assert r.status_code == 200, r.text
        done = json_lines(run_block("rotate.tax-id-reencrypt", env))
        assert {(d["table"], d["rewritten"]) for d in done} == {("contractors", 1), ("import_files", 0)}
    assert json_lines(run_block("rotate.tax-id-check", env)) == [
        {"target": "contractor-tax-ids", "table": t, "column": c, "current": n, "rewritten": 0, "stale": 0}
        for t, c, n in (("contractors", "tax_id_encrypted", 1), ("import_files", "content", 0))
    ]
    rewritten = await scalar(db, "SELECT tax_id_encrypted FROM contractors WHERE id = :i", i=person["id"])
    assert rewritten != stored
    assert FieldCipher([derive_key(new, "contractor-tax-id")]).decrypt(rewritten) == "123-45-6789"

    async with running_service(contractor, database_url=database_url, nats_url=jetstream_url, tax_id_keys=[new]) as svc:
        r = await svc.client.put(f"/v1/contractors/{person['id']}", json=same, headers={"x-tenant-id": TENANT})
        assert r.status_code == 200, r.text
        assert r.json()["tax_identification"] == "***-**-6789"


# -- JetStream lost: republish from the outbox ---------------------------------------------------


async def test_outbox_republished_after_jetstream_lost_it(
    postgres: Postgres, database_url: str, jetstream_url: str, contractor_body: dict[str, Any]
) -> None:
    """backup-and-restore.md section 4: contractor's messages published, then the stream lost
    (deleted and created empty); the runbook's UPDATE puts them back in the outbox and the relay publishes the same
    messages again (same ids, same order). The test drives the relay itself (``settle``)."""
    since = datetime.now(UTC).isoformat()
    env = {**postgres.libpq, "DB": make_url(database_url).database or "", "SINCE": since}
    async with running_service(contractor, database_url=database_url, nats_url=jetstream_url, relay=False) as svc:
        await create_contractor(svc, contractor_body)
        await svc.settle()
        assert run_block("restore.outbox-backlog", env).strip() == "0"
        published = await _stream_ids(jetstream_url)
        assert published
        await _lose_streams(jetstream_url)
        assert await _stream_ids(jetstream_url) == []

        run_block("restore.republish", env)
        waiting, oldest = run_block("incidents.outbox", env).strip().split("|")
        assert int(waiting) == len(published) and oldest
        await svc.settle()
        assert run_block("restore.outbox-backlog", env).strip() == "0"
    assert await _stream_ids(jetstream_url) == published


async def _stream_ids(url: str, stream: str = "TEN99_CONTRACTOR") -> list[str]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        state = (await js.stream_info(stream)).state
        if not state.messages:
            return []
        return [
            (await js.get_msg(stream, seq)).headers["Nats-Msg-Id"]  # type: ignore[index]
            for seq in range(state.first_seq, state.last_seq + 1)
        ]
    finally:
        await nc.close()


async def _lose_streams(url: str) -> None:
    """JetStream's data gone: the streams deleted (with their duplicate windows: a purge keeps the
    window, and a republish within 2 minutes would be dropped) and created empty, as at start-up."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            await js.delete_stream(info.config.name or "")
        await ensure_streams(js)
    finally:
        await nc.close()


# -- queries against the schemas they read -------------------------------------------------------


def migrate(service: str, url: str) -> None:
    env = {**os.environ, f"{service.upper()}_DB__URL": url}
    out = subprocess.run(
        [sys.executable, "-m", service, "migrate"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr


async def test_operator_queries_match_the_schemas(postgres: Postgres, database_factory: Any) -> None:
    """The SQL in the runbooks names tables and columns that exist (a renamed column fails here)."""
    notification_url, gateway_url = await database_factory("rb_notif"), await database_factory("rb_gw")
    await asyncio.to_thread(migrate, "notification", notification_url)
    await asyncio.to_thread(migrate, "gateway", gateway_url)
    run_block(
        "incidents.deliveries", {**postgres.libpq, "DB": make_url(notification_url).database or "", "CONTRACTOR_ID": "cn_x"}
    )
    run_block("rotate.end-sessions", {**postgres.libpq, "DB": make_url(gateway_url).database or ""})
    rows = [line.split("|") for line in run_block("scaling.connections", postgres.libpq).splitlines()]
    assert rows and all(len(r) == 3 and int(r[2]) >= 1 for r in rows)


# -- database password rotation ------------------------------------------------------------------


async def test_database_password_rotation_with_two_login_roles(postgres: Postgres, engine_of: Any) -> None:
    """secret-rotation.md section 8: two login roles acting as the owner; the service migrates as
    one and runs as the other; the tables belong to the owner; a password changes with one command."""
    suffix = uuid.uuid4().hex[:8]
    owner, login_a, login_b, database = f"rb_owner_{suffix}", f"rb_a_{suffix}", f"rb_b_{suffix}", f"rb_db_{suffix}"
    admin = engine_of(postgres.admin_url)
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql(f'CREATE ROLE "{owner}"')
        await conn.exec_driver_sql(f'CREATE DATABASE "{database}" OWNER "{owner}"')
    try:
        for login in (login_a, login_b):
            run_block(
                "rotate.db-login-role", {**postgres.libpq, "DB_OWNER": owner, "DB_LOGIN": login, "DB_PASSWORD": uuid.uuid4().hex}
            )
        run_block("rotate.db-password", {**postgres.libpq, "DB_LOGIN": login_b, "DB_PASSWORD": uuid.uuid4().hex})

        as_a = make_url(postgres.url(database)).set(username=login_a, password=None).render_as_string(hide_password=False)
        as_b = make_url(postgres.url(database)).set(username=login_b, password=None).render_as_string(hide_password=False)
        await asyncio.to_thread(migrate, "contractor", as_a)
        env = {"SVC": "contractor", "CONTRACTOR_DB__URL": as_b}
        run_block("incidents.migrate-check", env)
        b = engine_of(as_b)
        async with b.connect() as conn:
            assert (await conn.exec_driver_sql("SELECT current_user, session_user")).one() == (owner, login_b)
        owners = await scalar(b, "SELECT array_agg(DISTINCT tableowner) FROM pg_tables WHERE schemaname = 'public'")
        assert owners == [owner]
    finally:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            for role in (login_a, login_b, owner):
                await conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')


async def _integration_secret(svc: RunningService) -> str:
    r = await svc.client.post("/v1/integrations/creatoriq/secret", headers={"x-tenant-id": TENANT})
    assert r.status_code == 200, r.text
    return str(r.json()["secret"])


async def _webhook_secret(svc: RunningService) -> str:
    r = await svc.client.post(
        "/v1/webhook_endpoints", json={"url": "https://hooks.example.com/ten99"}, headers={"x-tenant-id": TENANT}
    )
    assert r.status_code == 200, r.text
    rotated = await svc.client.post(f"/v1/webhook_endpoints/{r.json()['id']}/secret", headers={"x-tenant-id": TENANT})
    assert rotated.status_code == 200, rotated.text  # the first secret becomes the previous one
    return str(rotated.json()["secret"])


def _contractor_cipher(svc: RunningService) -> FieldCipher:
    return Context.build(svc.db, svc.clock, svc.runtime.settings).secrets


def _notification_cipher(svc: RunningService) -> FieldCipher:
    return svc.runtime.parts.dependencies["endpoints"].cipher  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("target", "definition", "setting", "make_secret", "service_cipher", "tables"),
    [
        (
            "contractor-integration-secrets",
            contractor,
            "integration_secret_keys",
            _integration_secret,
            _contractor_cipher,
            {("integration_secrets", "secret_encrypted"): 1},
        ),
        (
            "notification-webhook-secrets",
            notification,
            "webhook_secret_keys",
            _webhook_secret,
            _notification_cipher,
            {("webhook_endpoints", "secret_encrypted"): 1, ("webhook_endpoints", "previous_secret_encrypted"): 1},
        ),
    ],
    ids=["contractor-integration-secrets", "notification-webhook-secrets"],
)
async def test_secret_keys_rotation_of_the_other_targets(
    database_url: str,
    jetstream_url: str,
    engine_of: Any,
    target: str,
    definition: Any,
    setting: str,
    make_secret: Any,
    service_cipher: Any,
    tables: dict[tuple[str, str], int],
) -> None:
    """secret-rotation.md section 3 for the integration and webhook signing secrets: written under
    the old key, re-encrypted by the script, read by the service with the new key alone (its own
    cipher, so the script derives keys as the service does)."""
    old, new = "old-" + uuid.uuid4().hex, "new-" + uuid.uuid4().hex
    old_keys: dict[str, Any] = {setting: [old]}
    new_keys: dict[str, Any] = {setting: [new]}
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, **old_keys) as svc:
        secret = await make_secret(svc)
    prefix = definition.name.upper()
    env = {**os.environ, f"{prefix}_DB__URL": database_url, f"{prefix}_{setting.upper()}": json.dumps([new, old])}
    script = [sys.executable, str(ROOT / "scripts" / "ops_reencrypt.py"), target]
    done = await asyncio.to_thread(subprocess.run, script, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {(d["table"], d["column"]): d["rewritten"] for d in json_lines(done.stdout)} == tables
    check = await asyncio.to_thread(
        subprocess.run, [*script, "--check"], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr

    db = engine_of(database_url)
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, **new_keys) as svc:
        cipher = service_cipher(svc)
        for table, column in tables:
            stored = await scalar(db, f"SELECT {column} FROM {table}")
            clear = cipher.decrypt(stored)
            assert clear == secret if column == "secret_encrypted" else clear.startswith("whsec_")


# -- token rotation: the three rolls never refuse a token in use -------------------------------


async def test_token_rotation_steps_never_refuse_a_token_in_use(database_url: str, jetstream_url: str) -> None:
    """secret-rotation.md sections 1 and 2: in each roll, pods of the step before and of the step
    after run side by side; every token a gateway (or operator) of either step sends is accepted by
    a service of either step, and after the last step the old token opens nothing."""
    old, new, op_old, op_new = (f"{name}-{uuid.uuid4().hex}" for name in ("old", "new", "op-old", "op-new"))
    steps = [(old, "", op_old, ""), (old, new, op_old, op_new), (new, old, op_new, op_old), (new, "", op_new, "")]
    accepted: dict[tuple[str, str, str, str], dict[str, bool]] = {}
    for step in steps:
        internal, internal_previous, operator, operator_previous = step
        async with running_service(
            contractor,
            database_url=database_url,
            nats_url=jetstream_url,
            consume=False,
            relay=False,
            internal_token=internal,
            internal_token_previous=internal_previous,
            operator_token=operator,
            operator_token_previous=operator_previous,
        ) as svc:
            answers = {}
            for token in (old, new):
                r = await svc.client.get("/v1/contractors", headers={"x-ten99-internal-token": token, "x-tenant-id": TENANT})
                answers[token] = r.status_code == 200
            for token in (op_old, op_new):
                r = await svc.ops.get("/_ops/dead-letters", headers={"x-ten99-operator-token": token})
                answers[token] = r.status_code == 200
            accepted[step] = answers
    for before, after in itertools.pairwise(steps):
        sent = {before[0], after[0], before[2], after[2]}  # what the gateways and operators of either step send
        for service in (before, after):
            assert all(accepted[service][token] for token in sent), (before, after, accepted[service])
    assert accepted[steps[-1]] == {old: False, new: True, op_old: False, op_new: True}
