"""Declining coverage on the opt-in link, through the real use cases on SQLite: once only, no
reminders after, a change of mind while the assignment runs, and nothing to change after its end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from enrollment.adapters.db import invitations
from enrollment.application.declines import DeclineSubmission
from enrollment.application.invitations import current_invitation, expire_due_invitations, send_due_reminders
from enrollment.application.opt_in import ClientInfo, OptInSubmission, decline_opt_in, submit_opt_in, view_opt_in
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
from ten99_contracts.enrollment_v1 import ApplicationCompletedV1, ApplicationDeclinedV1, InvitationReminderDueV1
from ten99kit import ApiError
from ten99kit.clock import SettableClock
from ten99kit.db import Database

CLIENT = ClientInfo(ip_address="203.0.113.9", user_agent="test")
WHO = contractor(1)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with sqlite_database(f"sqlite+aiosqlite:///{tmp_path / 'enrollment.db'}", SettableClock(frozen_at=NOW)) as d:
        await apply(d, company())
        yield d


async def invite(db: Database) -> str:
    # starts in 3 days, ends 30 days later
    await apply(db, envelope(assignment(1, WHO, job(1))))
    view = await current_invitation(db, LINKS, TENANT, WHO.contractor_id)
    return token_of(view.opt_in_url)


def decline(reason: str = "has_own_insurance", note: str | None = "My own policy.") -> DeclineSubmission:
    return DeclineSubmission(reason=reason, note=note)


def form(**kw: Any) -> OptInSubmission:
    return convert(good_form(**kw), OptInSubmission)


def clock_of(db: Database) -> SettableClock:
    clock: SettableClock = db.clock  # type: ignore[assignment]
    return clock


async def test_a_decline_is_recorded_and_published_with_its_reason(db: Database) -> None:
    token = await invite(db)
    page = await decline_opt_in(db, token, decline(note="  My own policy.  "))
    assert page.state == "declined" and page.can_change is True
    assert page.decline_reason == "has_own_insurance" and page.decline_note == "My own policy."
    assert page.declined_at == NOW.isoformat() and page.prefill is not None  # the form, to change their mind
    [message] = await outbox_messages(db, ApplicationDeclinedV1.SUBJECT)
    assert message.tenant_id == TENANT
    assert message.data.contractor_id == WHO.contractor_id and message.data.reason == "has_own_insurance"
    assert message.data.note == "My own policy." and message.data.declined_at == NOW
    assert message.data.assignment_ids == ["an_Assignment00000000001"]
    view = await current_invitation(db, LINKS, TENANT, WHO.contractor_id)
    assert (view.status, view.decline_reason, view.decline_note) == ("declined", "has_own_insurance", "My own policy.")
    assert message.data.invitation_id == view.invitation_id
    shown = await view_opt_in(db, token)
    assert shown.state == "declined" and shown.declined_at == NOW.isoformat() and shown.can_change is True


async def test_declining_twice_changes_nothing(db: Database) -> None:
    token = await invite(db)
    await decline_opt_in(db, token, decline())
    counts = await row_counts(db)
    clock_of(db).freeze(NOW + timedelta(hours=1))
    again = await decline_opt_in(db, token, decline("other", "changed reason"))
    assert again.state == "declined" and again.decline_reason == "has_own_insurance" and again.declined_at == NOW.isoformat()
    assert await row_counts(db) == counts
    assert len(await outbox_messages(db, ApplicationDeclinedV1.SUBJECT)) == 1


@pytest.mark.parametrize(
    ("reason", "note", "field"), [("", None, "reason"), ("maybe", None, "reason"), ("other", "x" * 501, "note")]
)
async def test_a_bad_decline_is_a_400_and_changes_nothing(db: Database, reason: str, note: str | None, field: str) -> None:
    token = await invite(db)
    counts = await row_counts(db)
    with pytest.raises(ApiError) as e:
        await decline_opt_in(db, token, decline(reason, note))
    assert e.value.status_code == 400 and e.value.error_code == "invalid_input"
    assert isinstance(e.value.message, dict) and field in e.value.message
    assert await row_counts(db) == counts
    assert (await view_opt_in(db, token)).state == "open"


async def test_no_reminder_and_no_expiry_after_a_decline(db: Database) -> None:
    token = await invite(db)
    await decline_opt_in(db, token, decline())
    clock = clock_of(db)
    for day in (2, 5, 6, 29):
        clock.freeze(NOW + timedelta(days=day))
        assert await send_due_reminders(db, LINKS, clock.now(), 100) == 0, f"day {day}"
    assert await outbox_messages(db, InvitationReminderDueV1.SUBJECT) == []
    clock.freeze(NOW + timedelta(days=31))  # past the link's 30 days, before the assignment's end
    assert await expire_due_invitations(db, clock.now(), 100) == 0
    async with db.session() as s:
        assert (await s.execute(select(invitations.c.status))).scalar_one() == "declined"
    assert (await view_opt_in(db, token)).can_change is True


async def test_a_pending_link_still_gets_its_reminder(db: Database) -> None:
    """The control of the test above: the same link, not declined, is reminded on day 2."""
    await invite(db)
    clock = clock_of(db)
    clock.freeze(NOW + timedelta(days=2))
    assert await send_due_reminders(db, LINKS, clock.now(), 100) == 1


async def test_a_contractor_who_declined_can_opt_in_after_all(db: Database) -> None:
    token = await invite(db)
    await decline_opt_in(db, token, decline("does_not_want", None))
    clock_of(db).freeze(NOW + timedelta(days=10))
    answer = await submit_opt_in(db, token, form(), CLIENT)
    assert answer.state == "completed"
    [completed] = await outbox_messages(db, ApplicationCompletedV1.SUBJECT)
    assert completed.data.contractor_id == WHO.contractor_id
    assert (await view_opt_in(db, token)).state == "answered"
    assert (await decline_opt_in(db, token, decline())).state == "answered"  # nothing left to decline
    assert len(await outbox_messages(db, ApplicationDeclinedV1.SUBJECT)) == 1


async def test_after_the_assignment_ends_the_answer_can_no_longer_change(db: Database) -> None:
    token = await invite(db)
    await decline_opt_in(db, token, decline())
    clock_of(db).freeze(NOW + timedelta(days=34))  # the assignment ended on day 33
    page = await view_opt_in(db, token)
    assert page.state == "declined" and page.can_change is False and page.prefill is None
    assert page.message is not None and "can no longer be changed" in page.message
    counts = await row_counts(db)
    answer = await submit_opt_in(db, token, form(), CLIENT)
    assert answer.state == "declined"
    assert await row_counts(db) == counts
    assert await outbox_messages(db, ApplicationCompletedV1.SUBJECT) == []
    with pytest.raises(ApiError) as e:
        await decline_opt_in(db, token, decline())
    assert e.value.status_code == 409 and e.value.error_code == "assignment_ended"


async def test_a_decline_after_the_assignment_ended_is_refused(db: Database) -> None:
    token = await invite(db)
    clock_of(db).freeze(NOW + timedelta(days=29, hours=23))  # the link is still valid (30 days)...
    await apply(db, envelope(assignment(1, WHO, job(1), start=NOW.date() - timedelta(days=40), updated=True), version=2))
    counts = await row_counts(db)
    with pytest.raises(ApiError) as e:  # ...but its assignment has ended
        await decline_opt_in(db, token, decline())
    assert e.value.status_code == 409 and e.value.error_code == "assignment_ended"
    assert "can no longer be changed" in str(e.value.message)
    assert await row_counts(db) == counts
    assert await outbox_messages(db, ApplicationDeclinedV1.SUBJECT) == []
