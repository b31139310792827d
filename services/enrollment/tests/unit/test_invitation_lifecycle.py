"""The link's lifecycle through the real use cases, on SQLite (the embedded default's engine):
hash-only storage, expiry, revocation on reissue, single use, reminders, and the opt-in form."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from enrollment.adapters.db import invitations, metadata
from enrollment.application.invitations import current_invitation, expire_due_invitations, reissue_invitation, send_due_reminders
from enrollment.application.opt_in import ClientInfo, OptInSubmission, submit_opt_in, view_opt_in
from enrollment_support import (
    LINKS,
    NOW,
    TENANT,
    apply,
    assignment,
    company,
    contractor,
    envelope,
    good_form,
    job,
    outbox_messages,
    row_counts,
    sqlite_database,
    token_of,
)
from msgspec import convert
from sqlalchemy import select
from ten99_contracts.enrollment_v1 import (
    ApplicationCompletedV1,
    InvitationExpiredV1,
    InvitationIssuedV1,
    InvitationReminderDueV1,
    InvitationRevokedV1,
)
from ten99kit import ApiError
from ten99kit.clock import SettableClock
from ten99kit.db import Database

CLIENT = ClientInfo(ip_address="203.0.113.9", user_agent="test")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with sqlite_database(f"sqlite+aiosqlite:///{tmp_path / 'enrollment.db'}", SettableClock(frozen_at=NOW)) as d:
        await apply(d, company())
        yield d


async def invite(db: Database, n: int = 1) -> str:
    who = contractor(n)
    await apply(db, envelope(assignment(n, who, job(n))))
    view = await current_invitation(db, LINKS, TENANT, who.contractor_id)
    return token_of(view.opt_in_url)


def form(**kw: Any) -> OptInSubmission:
    return convert(good_form(**kw), OptInSubmission)


async def test_only_the_hash_and_nonce_are_stored_never_the_token(db: Database) -> None:
    token = await invite(db)
    [issued] = await outbox_messages(db, InvitationIssuedV1.SUBJECT)
    assert issued.data.opt_in_url == f"http://gw.test/opt-in/{token}"
    async with db.session() as s:
        for table in metadata.tables.values():
            if table.name == "outbox":
                continue  # the email message carries the link, by design (internal only)
            for row in (await s.execute(select(table))).all():
                assert all(token not in str(v) for v in row), f"token found in {table.name}"


async def test_the_link_expires_after_the_configured_days(db: Database) -> None:
    token = await invite(db)
    clock: SettableClock = db.clock  # type: ignore[assignment]
    clock.freeze(NOW + timedelta(days=30) - timedelta(seconds=1))
    assert (await view_opt_in(db, token)).state == "open"
    clock.freeze(NOW + timedelta(days=30))
    page = await view_opt_in(db, token)
    assert page.state == "expired" and page.prefill is None  # before the job ran, too
    assert (await submit_opt_in(db, token, form(), CLIENT)).state == "expired"
    assert await expire_due_invitations(db, clock.now(), 100) == 1
    assert await expire_due_invitations(db, clock.now(), 100) == 0
    assert len(await outbox_messages(db, InvitationExpiredV1.SUBJECT)) == 1
    assert (await current_invitation(db, LINKS, TENANT, contractor(1).contractor_id)).status == "expired"


async def test_reissuing_revokes_the_old_link(db: Database) -> None:
    old = await invite(db)
    view = await reissue_invitation(db, LINKS, TENANT, contractor(1).contractor_id)
    new = token_of(view.opt_in_url)
    assert new != old and view.status == "pending" and view.assignment_ids == [assignment(1, contractor(1), job(1)).assignment_id]
    assert (await view_opt_in(db, old)).state == "revoked"
    assert (await submit_opt_in(db, old, form(), CLIENT)).state == "revoked"
    assert (await view_opt_in(db, new)).state == "open"
    [revoked] = await outbox_messages(db, InvitationRevokedV1.SUBJECT)
    assert revoked.data.replaced_by == view.invitation_id
    issued = await outbox_messages(db, InvitationIssuedV1.SUBJECT)
    assert [e.data.reissue for e in issued] == [False, True]


async def test_a_link_is_answered_once(db: Database) -> None:
    token = await invite(db)
    first = await submit_opt_in(db, token, form(), CLIENT)
    assert first.state == "completed" and first.session_id.startswith("ias_")
    counts = await row_counts(db)
    again = await submit_opt_in(db, token, form(first="Someone", last="Else"), CLIENT)
    assert again.state == "answered" and again.session_id == first.session_id
    assert await row_counts(db) == counts
    assert len(await outbox_messages(db, ApplicationCompletedV1.SUBJECT)) == 1
    assert (await view_opt_in(db, token)).state == "answered"


async def test_unknown_and_malformed_links_are_404(db: Database) -> None:
    for token in ("nope", "A" * 43):
        with pytest.raises(ApiError) as e:
            await view_opt_in(db, token)
        assert e.value.status_code == 404


async def test_reminders_come_at_2_and_5_days_once_each(db: Database) -> None:
    await invite(db)
    clock: SettableClock = db.clock  # type: ignore[assignment]
    for day, expected in [(1, 0), (2, 1), (2, 0), (4, 0), (5, 1), (5, 0), (20, 0)]:
        clock.freeze(NOW + timedelta(days=day))
        assert await send_due_reminders(db, LINKS, clock.now(), 100) == expected, f"day {day}"
    reminders = await outbox_messages(db, InvitationReminderDueV1.SUBJECT)
    assert [r.data.reminder_number for r in reminders] == [1, 2]
    async with db.session() as s:
        assert (await s.execute(select(invitations.c.reminders_sent))).scalar_one() == 2


async def test_a_late_worker_sends_one_reminder_not_a_burst(db: Database) -> None:
    await invite(db)
    clock: SettableClock = db.clock  # type: ignore[assignment]
    clock.freeze(NOW + timedelta(days=6))
    assert await send_due_reminders(db, LINKS, clock.now(), 100) == 1
    assert await send_due_reminders(db, LINKS, clock.now(), 100) == 0
    [reminder] = await outbox_messages(db, InvitationReminderDueV1.SUBJECT)
    assert reminder.data.reminder_number == 2


async def test_no_reminder_after_the_answer(db: Database) -> None:
    token = await invite(db)
    await submit_opt_in(db, token, form(), CLIENT)
    clock: SettableClock = db.clock  # type: ignore[assignment]
    clock.freeze(NOW + timedelta(days=6))
    assert await send_due_reminders(db, LINKS, clock.now(), 100) == 0
