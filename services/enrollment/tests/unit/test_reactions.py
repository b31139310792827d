"""Reactions to the contractor context's messages, on SQLite: batches, order of arrival, replays."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from enrollment.adapters.db import assignments, contractors, invitations
from enrollment.application.invitations import current_invitation
from enrollment_support import (
    LINKS,
    NOW,
    TENANT,
    TODAY,
    apply,
    apply_batch,
    assignment,
    contractor,
    envelope,
    job,
    outbox_messages,
    row_counts,
    sqlite_database,
)
from sqlalchemy import select
from ten99_contracts.contractor_v1 import AssignmentExtendedV1, ContractorUpdatedV1
from ten99_contracts.enrollment_v1 import InvitationExpiredV1, InvitationIssuedV1
from ten99kit.clock import SettableClock
from ten99kit.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with sqlite_database(f"sqlite+aiosqlite:///{tmp_path / 'enrollment.db'}", SettableClock(frozen_at=NOW)) as d:
        yield d


async def test_a_batch_gives_each_contractor_one_invitation_listing_all_their_assignments(db: Database) -> None:
    ada, bob = contractor(1), contractor(2)
    batch = [envelope(assignment(n, ada if n % 2 else bob, job(n))) for n in range(1, 7)]
    await apply_batch(db, *batch)
    issued = {e.data.contractor_id: e.data.assignment_ids for e in await outbox_messages(db, InvitationIssuedV1.SUBJECT)}
    assert issued == {
        ada.contractor_id: [assignment(n, ada, job(n)).assignment_id for n in (1, 3, 5)],
        bob.contractor_id: [assignment(n, bob, job(n)).assignment_id for n in (2, 4, 6)],
    }
    # the same messages again (an operator's replay): nothing new
    counts = await row_counts(db)
    await apply_batch(db, *batch)
    assert await row_counts(db) == counts


async def test_an_update_that_overtakes_its_creation_wins(db: Database) -> None:
    ada = contractor(1)
    later = TODAY + timedelta(days=9)
    update = envelope(assignment(1, ada, job(1), start=later, updated=True), version=2)
    create = envelope(assignment(1, ada, job(1)), version=1)
    await apply(db, update, create)
    async with db.session() as s:
        row = (await s.execute(select(assignments))).mappings().one()
    assert row["effective_date"] == later and row["version"] == 2 and row["enrollment"] == "invited"
    assert len(await outbox_messages(db, InvitationIssuedV1.SUBJECT)) == 1
    # an extension moves the end later, never earlier
    aid = row["assignment_id"]
    for end in (later + timedelta(days=60), later + timedelta(days=40)):
        ext = AssignmentExtendedV1(
            assignment_id=aid, contractor_id=ada.contractor_id, previous_end_date=row["end_date"], end_date=end
        )
        await apply(db, envelope(ext, version=3))
    async with db.session() as s:
        assert (await s.execute(select(assignments.c.end_date))).scalar_one() == later + timedelta(days=60)


async def test_the_newest_contractor_details_win_whatever_the_order(db: Database) -> None:
    ada = contractor(1)
    await apply(db, envelope(assignment(1, ada, job(1)), at=NOW))
    newer = ContractorUpdatedV1(contractor_id=ada.contractor_id, first_name="Augusta", last_name="King", email=ada.email)
    older = ContractorUpdatedV1(contractor_id=ada.contractor_id, first_name="Old", last_name="Name", email=ada.email)
    await apply(
        db, envelope(newer, version=3, at=NOW + timedelta(minutes=5)), envelope(older, version=2, at=NOW - timedelta(minutes=5))
    )
    async with db.session() as s:
        row = (await s.execute(select(contractors))).mappings().one()
    assert (row["first_name"], row["last_name"]) == ("Augusta", "King")


async def test_a_link_that_ran_out_unrecorded_is_closed_and_replaced(db: Database) -> None:
    ada = contractor(1)
    await apply(db, envelope(assignment(1, ada, job(1))))
    clock: SettableClock = db.clock  # type: ignore[assignment]
    clock.freeze(NOW + timedelta(days=31))  # the expiry job has not run
    await apply(db, envelope(assignment(2, ada, job(2), start=TODAY + timedelta(days=35))))
    assert len(await outbox_messages(db, InvitationExpiredV1.SUBJECT)) == 1
    issued = await outbox_messages(db, InvitationIssuedV1.SUBJECT)
    assert len(issued) == 2 and issued[1].data.assignment_ids == [assignment(2, ada, job(2)).assignment_id]
    view = await current_invitation(db, LINKS, TENANT, ada.contractor_id)
    assert view.status == "pending" and view.invitation_id == issued[1].data.invitation_id
    async with db.session() as s:
        assert sorted((await s.execute(select(invitations.c.status))).scalars()) == ["expired", "pending"]


async def test_an_assignment_cancelled_in_an_update_is_never_invited(db: Database) -> None:
    await apply(db, envelope(assignment(1, contractor(1), job(1), status="cancelled", updated=True)))
    assert await outbox_messages(db, InvitationIssuedV1.SUBJECT) == []
    # and a late creation does not bring it back
    await apply(db, envelope(assignment(1, contractor(1), job(1)), version=5))
    assert await outbox_messages(db, InvitationIssuedV1.SUBJECT) == []
