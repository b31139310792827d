"""The relay keeps a redacted copy of a published message's secrets (a contract's ``SECRET_FIELDS``:
an opt-in link) in the outbox, never the secret, while JetStream received it whole; on PostgreSQL
(marks on the next read, or on close) and on SQLite (marks at once)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import nats
import pytest
from demo import definition
from sqlalchemy import select
from ten99_contracts.enrollment_v1 import InvitationIssuedV1
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_testing.service import running_service
from ten99kit import Database
from ten99kit.redaction import redact_secret, redacted_payload

pytestmark = pytest.mark.integration

TOKEN = "Zk3pQ9vXb2Lm8Rt4Yw6Hn1Cd5Fg7Js0Ka3Ue9Oi2Bzxq"
URL = f"http://gw.test/opt-in/{TOKEN}"


def invitation(n: int) -> InvitationIssuedV1:
    return InvitationIssuedV1(
        invitation_id=f"inv_{n}",
        contractor_id=f"cn_{n}",
        email=f"c{n}@example.com",
        first_name="Ada",
        last_name="Lovelace",
        opt_in_url=f"{URL}{n}",
        expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        assignment_ids=[f"an_{n}"],
    )


async def write_invitation_and_company(db: Database, n: int) -> None:
    async with db.uow() as uow:
        uow.emit(invitation(n), tenant_id="co_1", aggregate_id=f"inv_{n}")
        uow.emit(
            CompanyCreatedV1(company_id=f"co_{n}", name=f"c{n}", owner_email="o@example.com"), tenant_id="co_1", aggregate_id="x"
        )
        await uow.commit()


async def outbox_rows(db: Database) -> dict[str, Any]:
    t = db.outbox_table
    async with db.session() as s:
        rows = (await s.execute(select(t.c.subject, t.c.payload, t.c.sent_at).order_by(t.c.id))).all()
    return {msgspec.json.decode(r.payload)["data"].get("opt_in_url") or r.subject: r for r in rows}


async def stream_urls(nats_url: str) -> list[str]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("TEN99_ENROLLMENT")
        return [
            msgspec.json.decode((await js.get_msg("TEN99_ENROLLMENT", seq)).data)["data"]["opt_in_url"]
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
        ]
    finally:
        await nc.close()


def test_a_redacted_copy_keeps_where_the_link_points_and_everything_else() -> None:
    assert redact_secret(URL) == "http://gw.test/opt-in/[redacted]…Bzxq"
    assert redact_secret(redact_secret(URL)) == redact_secret(URL)
    assert redact_secret("http://gw.test/opt-in/short") == "http://gw.test/opt-in/[redacted]"
    raw = msgspec.json.encode({"id": "m1", "data": {"opt_in_url": URL, "unknown_field": [1, 2]}, "tenant_id": "co_1"})
    redacted = redacted_payload(raw, ["opt_in_url"])
    assert redacted is not None and TOKEN not in redacted.decode()
    assert msgspec.json.decode(redacted) == {
        "id": "m1",
        "data": {"opt_in_url": "http://gw.test/opt-in/[redacted]…Bzxq", "unknown_field": [1, 2]},
        "tenant_id": "co_1",
    }
    assert redacted_payload(raw, ["absent"]) is None


async def test_postgres_sent_rows_keep_no_secret_and_an_unmarked_row_is_republished_whole(
    database_url: str, jetstream_url: str
) -> None:
    async with running_service(definition, database_url=database_url, nats_url=jetstream_url, relay=False, consume=False) as svc:
        relay = svc.runtime.relay
        await write_invitation_and_company(svc.db, 1)
        assert await relay.publish_batch() == 2
        # published, not marked yet (the mark rides on the next read): the row is still whole, so
        # that a relay dying now republishes a working link
        before = await outbox_rows(svc.db)
        assert before[f"{URL}1"].sent_at is None
        await relay._resign()
        assert await relay.publish_batch() == 2
        # the next read marks them sent and redacts the invitation's link in the same statement
        assert await relay.publish_batch() == 0
        after = await outbox_rows(svc.db)
        [invitation_row] = [r for r in after.values() if r.subject == InvitationIssuedV1.SUBJECT]
        assert invitation_row.sent_at is not None and TOKEN not in invitation_row.payload.decode()
        sent = msgspec.json.decode(invitation_row.payload)
        assert sent["data"]["opt_in_url"] == redact_secret(f"{URL}1")
        assert sent["data"]["email"] == "c1@example.com" and sent["data"]["assignment_ids"] == ["an_1"]
        company_row = after[CompanyCreatedV1.SUBJECT]
        assert company_row.sent_at is not None and company_row.payload == before[CompanyCreatedV1.SUBJECT].payload
        # JetStream got the link whole (once: the republish was a duplicate)
        assert await stream_urls(jetstream_url) == [f"{URL}1"]

        # the marks still pending when the relay stops are made, redacting too
        await write_invitation_and_company(svc.db, 2)
        assert await relay.publish_batch() == 2
        await relay.close()
        rows = await outbox_rows(svc.db)
        assert all(r.sent_at is not None and TOKEN not in r.payload.decode() for r in rows.values())
        assert await stream_urls(jetstream_url) == [f"{URL}1", f"{URL}2"]


async def test_sqlite_sent_rows_keep_no_secret(sqlite_url: str, jetstream_url: str) -> None:
    async with running_service(definition, database_url=sqlite_url, nats_url=jetstream_url, relay=False, consume=False) as svc:
        await write_invitation_and_company(svc.db, 1)
        assert await svc.runtime.relay.publish_batch() == 2
        rows = await outbox_rows(svc.db)
        assert all(r.sent_at is not None and TOKEN not in r.payload.decode() for r in rows.values())
        assert msgspec.json.decode(rows[redact_secret(f"{URL}1")].payload)["data"]["first_name"] == "Ada"
        assert await stream_urls(jetstream_url) == [f"{URL}1"]
