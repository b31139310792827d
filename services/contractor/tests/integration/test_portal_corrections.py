"""A contractor's corrections from the portal (enrollment's ContractorDetailsCorrectedV1) become
the company's record of them, as opt-in corrections do: once, the later correction standing,
only in the company the message names."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from contractor_testkit import ADDRESS, NOW, OTHER_TENANT, TENANT, make_contractor
from sqlalchemy import func, select
from ten99_contracts import Address
from ten99_contracts.enrollment_v1 import ContractorDetailsCorrectedV1
from ten99_testing import wait_until
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration

UPDATED = "ten99.contractor.contractor_updated.v1"
MOVED = Address(line1="9 New Rd", line2="Apt 2", locality="Austin", region="TX", postalcode="78701")


def _correction(contractor_id: str, last_name: str, at: datetime, *, address: Address = MOVED) -> ContractorDetailsCorrectedV1:
    return ContractorDetailsCorrectedV1(
        correction_id="dc_0Hh1Ii2Jj3Kk4Ll5Mm6Nn7",
        contractor_id=contractor_id,
        first_name="Ada",
        last_name=last_name,
        phone="+1 512 555 0100",
        address=address,
        corrected_at=at,
    )


async def _applied(svc: RunningService, n: int) -> bool:
    inbox = svc.runtime.definition.metadata.tables["inbox"]
    async with svc.db.session() as s:
        q = select(func.count()).select_from(inbox).where(inbox.c.consumer.like("%contractor_details_corrected%"))
        return bool((await s.execute(q)).scalar_one() == n)


async def test_a_portal_correction_becomes_the_record_once_and_only_in_its_company(svc: RunningService, stream: Any) -> None:
    c = svc.client
    ada = await make_contractor(svc)
    other = await c.post(
        "/v1/contractors",
        headers={"x-tenant-id": OTHER_TENANT},
        json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "address": ADDRESS},
    )
    assert other.status_code == 200, other.text
    at = NOW + timedelta(minutes=5)
    corrected = _correction(ada["id"], "King", at)
    await stream.publish(corrected, occurred_at=at)

    async def updated() -> dict[str, Any] | None:
        got = (await c.get(f"/v1/contractors/{ada['id']}")).json()
        return got if got["last_name"] == "King" else None

    got = await wait_until(updated, what="the correction applied")
    assert got["phone"] == "+1 512 555 0100"
    assert (got["address"]["line1"], got["address"]["line2"], got["address"]["region"]) == ("9 New Rd", "Apt 2", "TX")

    # the same correction again (a new envelope), an older one arriving late, and one naming Ada's
    # id under another company: nothing changes
    await stream.publish(corrected, occurred_at=at)
    await stream.publish(_correction(ada["id"], "Older", NOW + timedelta(minutes=1)), occurred_at=NOW + timedelta(minutes=1))
    await stream.publish(_correction(ada["id"], "Elsewhere", at), tenant_id=OTHER_TENANT, occurred_at=at)
    await stream.publish(_correction(other.json()["id"], "Other", at), occurred_at=at)
    await wait_until(lambda: _applied(svc, 5), what="every correction handled")
    assert (await c.get(f"/v1/contractors/{ada['id']}")).json()["last_name"] == "King"
    theirs = await c.get(f"/v1/contractors/{other.json()['id']}", headers={"x-tenant-id": OTHER_TENANT})
    assert theirs.json()["last_name"] == "Lovelace"
    updates = [m for s, m in await stream.messages() if s == UPDATED]
    assert [(m["tenant_id"], m["data"]["contractor_id"], m["data"]["last_name"]) for m in updates] == [
        (TENANT, ada["id"], "King")
    ]

    # a later correction stands over the earlier one
    later = NOW + timedelta(minutes=9)
    await stream.publish(_correction(ada["id"], "Byron", later, address=Address(**ADDRESS)), occurred_at=later)
    got = await wait_until(lambda: _last_name_is(svc, ada["id"], "Byron"), what="the later correction applied")
    assert got["address"]["region"] == "CA"


async def _last_name_is(svc: RunningService, contractor_id: str, name: str) -> dict[str, Any] | None:
    got: dict[str, Any] = (await svc.client.get(f"/v1/contractors/{contractor_id}")).json()
    return got if got["last_name"] == name else None
