"""Opt-in links are not kept in clear once sent: the invitation row keeps only the token's hash (and
the nonce the profile page recomputes the link from, with the secret in settings), and an outbox
row that carried a link keeps a redacted copy once the relay published it. The link the email
carries and the profile page shows still works."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
import nats
import pytest
from enrollment.adapters.db import invitations, outbox
from enrollment.application.invitations import send_due_reminders
from enrollment.domain.tokens import hash_token
from enrollment_support import LINKS, NOW, TENANT, assignment, company, contractor, envelope, job, token_of
from sqlalchemy import func, select
from ten99_contracts import decode_envelope
from ten99_contracts.enrollment_v1 import InvitationIssuedV1, InvitationReminderDueV1
from ten99_testing import wait_until
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration


async def count(svc: RunningService, query: Any) -> int:
    async with svc.db.session() as s:
        return int((await s.execute(query)).scalar_one())


async def all_marked_sent(svc: RunningService, subjects: set[str]) -> bool:
    """The running relay published and marked every row (marks ride on its next read, <= 0.2 s)."""
    async with svc.db.session() as s:
        rows = (await s.execute(select(outbox.c.subject, outbox.c.sent_at))).all()
    return subjects <= {r.subject for r in rows} and all(r.sent_at is not None for r in rows)


async def stream(nats_url: str, subject: str) -> list[Any]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("TEN99_ENROLLMENT")
        messages = [await js.get_msg("TEN99_ENROLLMENT", seq) for seq in range(info.state.first_seq, info.state.last_seq + 1)]
        return [decode_envelope(m.data, m.subject) for m in messages if m.subject == subject]
    finally:
        await nc.close()


async def test_a_published_invitation_and_reminder_keep_no_link_in_the_outbox(svc: RunningService, jetstream_url: str) -> None:
    ada = contractor(1)
    nc = await nats.connect(jetstream_url)
    try:
        for env in (company(), envelope(assignment(1, ada, job(1)))):
            await nc.jetstream().publish(env.subject, msgspec.json.encode(env), headers={"Nats-Msg-Id": env.id})
    finally:
        await nc.close()
    await wait_until(lambda: _issued(svc))
    # a reminder is due two days later: it carries the link too
    svc.clock.freeze(NOW + timedelta(days=2, minutes=1))
    assert await send_due_reminders(svc.db, LINKS, svc.clock.now(), 100) == 1
    await wait_until(lambda: all_marked_sent(svc, {InvitationIssuedV1.SUBJECT, InvitationReminderDueV1.SUBJECT}))

    # the profile page shows the working link
    r = await svc.client.get("/v1/invitations/current", params={"contractor": ada.contractor_id}, headers={"x-tenant-id": TENANT})
    assert r.status_code == 200, r.text
    url = r.json()["opt_in_url"]
    token = token_of(url)
    assert (await svc.client.get(f"/v1/opt-in/{token}")).json()["state"] == "open"
    # JetStream carried it whole to notification, in the invitation and in the reminder
    [issued] = await stream(jetstream_url, InvitationIssuedV1.SUBJECT)
    [reminder] = await stream(jetstream_url, InvitationReminderDueV1.SUBJECT)
    assert issued.data.opt_in_url == reminder.data.opt_in_url == url

    # the outbox keeps a redacted copy: where the link pointed and the token's last four characters
    async with svc.db.session() as s:
        rows = (await s.execute(select(outbox.c.subject, outbox.c.payload))).all()
    assert rows and all(token not in bytes(r.payload).decode() for r in rows)
    by_subject = {r.subject: decode_envelope(r.payload, r.subject) for r in rows}
    for subject in (InvitationIssuedV1.SUBJECT, InvitationReminderDueV1.SUBJECT):
        kept = by_subject[subject].data
        assert kept.opt_in_url == f"http://gw.test/opt-in/[redacted]…{token[-4:]}"
        assert kept.email == ada.email and kept.invitation_id == issued.data.invitation_id

    # the invitation row keeps the token's hash, never the token
    async with svc.db.session() as s:
        [row] = (await s.execute(select(invitations))).mappings().all()
    assert row["token_hash"] == hash_token(token)
    assert all(token not in str(value) for value in row.values())


async def _issued(svc: RunningService) -> bool:
    return await count(svc, select(func.count()).select_from(invitations)) >= 1
