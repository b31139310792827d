"""The details a contractor gives about themselves becoming the company's record of them: those
they confirm or correct on the opt-in form (enrollment's ApplicationCompletedV1) and those they
correct later in the portal (ContractorDetailsCorrectedV1). One rule for both, in
`take_contractor_details`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import msgspec
from sqlalchemy import bindparam, select, update
from ten99_contracts import Address, Envelope
from ten99_contracts.enrollment_v1 import ContractorDetailsCorrectedV1
from ten99kit import UnitOfWork, get_logger

from ..adapters.db import contractors
from ..domain import values
from .messages import emit_contractor

log = get_logger("contractor.details")

__all__ = ["ContractorDetails", "on_contractor_details_corrected", "take_contractor_details"]


class ContractorDetails(Protocol):
    """What both messages carry about the contractor (the fields a contractor may correct)."""

    @property
    def contractor_id(self) -> str: ...
    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def address(self) -> Address | None: ...


_CONTRACTOR_LOCKED = (
    select(contractors).where(contractors.c.tenant_id == bindparam("tid"), contractors.c.id == bindparam("cid")).with_for_update()
)


def _given(details: ContractorDetails) -> dict[str, Any]:
    given: dict[str, Any] = {"first_name": details.first_name[:100], "last_name": details.last_name[:100]}
    if details.phone:
        given["phone"] = details.phone[:40]
    if details.address is not None:
        try:
            given["address"] = values.parse_address(msgspec.to_builtins(details.address))
        except values.Invalid as e:
            log.warning("contractor.confirmed_address_ignored", contractor_id=details.contractor_id, reason=str(e))
    return given


async def take_contractor_details(uow: UnitOfWork, tenant_id: str, details: ContractorDetails, at: datetime) -> None:
    """What the contractor confirmed or corrected at ``at`` (name, phone, mailing address) becomes
    their record in ``tenant_id``, announced with ContractorUpdated, unless the record changed at or
    after ``at`` (a later edit by the company, or a later correction, stands). The record's
    ``updated_at`` becomes ``at``, so of two corrections applied in either order the later one
    stands, and applying one again changes nothing."""
    params = {"tid": tenant_id, "cid": details.contractor_id}
    current = (await uow.session.execute(_CONTRACTOR_LOCKED, params)).mappings().first()
    if current is None or current["updated_at"] >= at:
        return
    changes = {k: val for k, val in _given(details).items() if val and current[k] != val}
    if not changes:
        return
    changes["version"] = current["version"] + 1
    changes["updated_at"] = at
    await uow.session.execute(
        update(contractors)
        .where(contractors.c.tenant_id == tenant_id, contractors.c.id == details.contractor_id)
        .values(**changes)
    )
    emit_contractor(uow, {**current, **changes}, created=False)


async def on_contractor_details_corrected(uow: UnitOfWork, envelope: Envelope[ContractorDetailsCorrectedV1]) -> None:
    """A correction from the portal: taken as opt-in corrections are."""
    await take_contractor_details(uow, envelope.tenant_id, envelope.data, envelope.occurred_at)
