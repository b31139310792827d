"""The coverage-gap rule (`contractor.application.alerts.gap_filter`) at its boundaries, in UTC
days, on the embedded SQLite engine: rows written straight into the tables, the rule's own SQL
read back. Today is 2026-11-02: starting today to 2026-11-05 (three days) is a gap, 2026-11-06
(four days) is not; opted-in and covered contractors are not gaps; cancelled, deleted, started
and ended assignments are not gaps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest_asyncio
from contractor.adapters.db import assignments, contractors, entities, jobs, metadata, roster_status
from contractor.application.alerts import GAP_STATUSES, WITHIN_DAYS, read_gaps
from contractor.application.context import Context
from contractor.settings import ContractorSettings
from ten99kit import Database
from ten99kit.clock import SettableClock
from ten99kit.db import create_engine
from ten99kit.settings import DatabaseSettings

NOW = datetime(2026, 11, 2, 23, 59, tzinfo=UTC)  # late in the UTC day: the day is still the 2nd
TODAY = NOW.date()
TENANT = "co_AAAAAAAAAAAAAAAAAAAAAA"
OTHER = "co_BBBBBBBBBBBBBBBBBBBBBB"


@pytest_asyncio.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[Context]:
    clock = SettableClock(frozen_at=NOW)
    db = Database(create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'rule.db'}")), clock, "contractor")
    await db.create_all(metadata)
    try:
        yield Context.build(db, clock, ContractorSettings())
    finally:
        await db.dispose()


class World:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.n = 0

    async def add(self, start: int, *, end: int = 30, roster: str | None = None, tenant: str = TENANT, **a: Any) -> str:
        """A contractor with one assignment starting ``start`` days from today, and a roster
        status (None: not invited)."""
        self.n += 1
        n, at = self.n, NOW - timedelta(days=1)
        cid, jid, eid, aid = f"cn_{n:022d}", f"jb_{n:022d}", f"en_{n:022d}", f"an_{n:022d}"
        async with self.ctx.db.uow() as uow:
            s = uow.session
            await s.execute(
                entities.insert().values(
                    id=eid, tenant_id=tenant, name="Nike", name_key="nike", required_coverage=[], aggregate_limit=0,
                    occurrence_limit=0, created_at=at, updated_at=at,
                )
            )  # fmt: skip
            await s.execute(
                contractors.insert().values(
                    id=cid, tenant_id=tenant, first_name=f"P{n}", last_name="L", email=f"p{n}@x.test", email_key=f"p{n}@x.test",
                    custom_metadata={}, source="api", version=1, created_at=at, updated_at=at,
                )
            )  # fmt: skip
            await s.execute(
                jobs.insert().values(
                    id=jid, tenant_id=tenant, entity_id=eid, category_code="jc_x", name="Job", description="", wage=1,
                    wage_type="flatfee", custom_metadata={}, version=1, created_at=at, updated_at=at,
                )
            )  # fmt: skip
            if roster == "covered":  # covered: coverage bound to this assignment, unless the test says otherwise
                a.setdefault("coverage_bound_at", NOW)
            values = {
                "id": aid, "tenant_id": tenant, "contractor_id": cid, "job_id": jid, "dedupe_key": aid, "coverage_types": [],
                "effective_date": TODAY + timedelta(days=start), "end_date": TODAY + timedelta(days=end), "status": "pending",
                "source": "api", "version": 1, "created_at": at, "updated_at": at, **a,
            }  # fmt: skip
            await s.execute(assignments.insert().values(**values))
            facts = {
                None: {},
                "invited": {"invited_at": at},
                "expired": {"invited_at": at, "expired_at": NOW},
                "ineligible": {"invited_at": at, "ineligible_at": NOW},
                "opted_in": {"invited_at": at, "opted_in_at": NOW},
                "covered": {"invited_at": at, "opted_in_at": NOW, "covered_at": NOW},
                "own_insurance": {"own_insurance_at": NOW},
                "declined": {"invited_at": at, "declined_at": NOW, "decline_reason": "has_own_insurance"},
                "declined_then_invited": {"invited_at": NOW, "declined_at": at},
            }[roster]
            if facts:
                await s.execute(roster_status.insert().values(tenant_id=tenant, contractor_id=cid, **facts))
            await uow.commit()
        return aid


async def gaps(ctx: Context, tenant: str = TENANT) -> set[str]:
    return {g.assignment_id for g in (await read_gaps(ctx, tenant, limit=500, offset=0)).gaps}


async def test_starts_within_three_utc_days_is_a_gap_four_is_not(ctx: Context) -> None:
    w = World(ctx)
    within = [await w.add(d) for d in range(WITHIN_DAYS + 1)]  # today .. in 3 days
    in_four = await w.add(WITHIN_DAYS + 1)
    started = await w.add(-1)
    assert await gaps(ctx) == set(within)
    assert in_four not in await gaps(ctx) and started not in await gaps(ctx)
    # the next UTC day (one minute later): today's assignment has started, the four-day one is now in three
    ctx.clock.freeze(NOW + timedelta(minutes=1))  # type: ignore[attr-defined]
    assert await gaps(ctx) == set(within[1:]) | {in_four}


async def test_opted_in_or_covered_is_not_a_gap_other_statuses_are(ctx: Context) -> None:
    w = World(ctx)
    by_status = {s: await w.add(1, roster=s) for s in ("invited", "expired", "ineligible", "opted_in", "covered")}
    not_invited = await w.add(1)
    assert await gaps(ctx) == {by_status["invited"], by_status["expired"], by_status["ineligible"], not_invited}
    assert set(GAP_STATUSES) == {"not_invited", "invited", "expired", "ineligible"}


async def test_covered_elsewhere_is_a_gap_where_this_assignment_is_not_covered(ctx: Context) -> None:
    """A contractor covered for some work (ten99 coverage or an approved certificate of their own)
    is a gap for an assignment with neither coverage bound nor their certificate covering it."""
    w = World(ctx)
    bound = await w.add(1, roster="covered")
    unbound = await w.add(1, roster="covered", coverage_bound_at=None)  # a later one needing a new opt-in
    own = await w.add(1, roster="own_insurance", own_insurance_upload_id="ci_0000000000000000000001")
    beyond_own = await w.add(1, roster="own_insurance")  # the approved certificate does not cover this one
    assert await gaps(ctx) == {unbound, beyond_own}
    assert bound and own


async def test_cancelled_deleted_and_ended_assignments_are_not_gaps(ctx: Context) -> None:
    w = World(ctx)
    live = await w.add(2)
    await w.add(2, status="cancelled", cancelled_at=NOW)
    await w.add(2, deleted_at=NOW)
    await w.add(-10, end=-1)  # ended yesterday
    assert await gaps(ctx) == {live}


async def test_another_company_s_gaps_are_not_listed(ctx: Context) -> None:
    w = World(ctx)
    mine = await w.add(1)
    theirs = await w.add(1, tenant=OTHER)
    assert await gaps(ctx) == {mine} and await gaps(ctx, OTHER) == {theirs}
    page = await read_gaps(ctx, TENANT, limit=0, offset=0)
    assert (page.count, page.gaps, page.day) == (1, [], date(2026, 11, 2).isoformat())


async def test_a_declined_contractor_is_not_a_gap_until_invited_again(ctx: Context) -> None:
    """They said no: no alert for them (the roster shows "Declined"); a newer invitation asks again."""
    w = World(ctx)
    declined = await w.add(1, roster="declined")
    asked_again = await w.add(1, roster="declined_then_invited")
    assert await gaps(ctx) == {asked_again}
    assert declined not in await gaps(ctx) and "declined" not in GAP_STATUSES
