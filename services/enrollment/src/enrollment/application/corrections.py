"""A contractor correcting their details from the portal (issue 15), for one company at a time.

The portal session names an email; the company must have a (non-deleted) contractor under that
email, else 404 as for a company that does not exist, so the answer tells nothing about other
people. The fields are those the opt-in form lets a contractor correct (name, phone, mailing
address), checked by the same rules (`opt_in_form.check_details`); never the email (it signs
them in) nor a tax id. A correction is recorded and ``ContractorDetailsCorrectedV1`` emitted in
one transaction (the outbox); the contractor service then takes it as it takes opt-in
corrections. Sending the same details again (a double click, a reload) records nothing and emits
nothing: they are compared with the latest correction, or with the company's record once that is
newer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from ten99_contracts import Address, actor_of
from ten99_contracts.enrollment_v1 import ContractorDetailsCorrectedV1
from ten99kit import Database, NotFound
from ten99kit.ids import is_id, new_id
from ten99kit.logging import bind_actor

from ..adapters.db import contractors, portal_corrections
from .opt_in_form import ADDRESS_FIELDS, ContactDetails, DetailsInput, check_details
from .portal import session_of

__all__ = ["CorrectedDetails", "correct_details"]

_NOT_YOURS = "You have no details at this company."


class CorrectedDetails(msgspec.Struct, kw_only=True):
    """The contractor's details as the company will have them."""

    #: the correction sent to the company; None when the details were already these
    correction_id: str | None
    changed: bool
    first_name: str
    last_name: str
    phone: str | None
    address: Address
    corrected_at: datetime | None


def _address(value: dict[str, Any] | None) -> dict[str, Any]:
    given = value or {}
    return {k: (given.get(k) or ("US" if k == "country" else None)) for k in ADDRESS_FIELDS}


def _as_tuple(first: str, last: str, phone: str | None, address: dict[str, Any] | None) -> tuple[Any, ...]:
    return (first, last, phone or None, tuple(_address(address).items()))


async def _contractor(session: Any, tenant_id: str, email: str) -> Any:
    """The company's contractor under the session's email, locked so that two submissions of the
    same details record one correction."""
    row = (
        (
            await session.execute(
                select(contractors)
                .where(
                    contractors.c.tenant_id == tenant_id,
                    func.lower(contractors.c.email) == email,
                    contractors.c.deleted_at.is_(None),
                )
                .order_by(contractors.c.contractor_id)
                .limit(1)
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(_NOT_YOURS)
    return row


async def _unchanged(session: Any, contractor: Any, details: ContactDetails) -> bool:
    """Whether the company has (or is about to have) exactly these details."""
    latest = (
        (
            await session.execute(
                select(portal_corrections)
                .where(
                    portal_corrections.c.tenant_id == contractor["tenant_id"],
                    portal_corrections.c.contractor_id == contractor["contractor_id"],
                )
                .order_by(portal_corrections.c.corrected_at.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    held = latest if latest is not None and latest["corrected_at"] >= contractor["observed_at"] else contractor
    wanted = _as_tuple(details.first_name, details.last_name, details.phone, details.address)
    return _as_tuple(held["first_name"], held["last_name"], held["phone"], held["address"]) == wanted


def _answer(details: ContactDetails, correction_id: str | None, at: datetime | None) -> CorrectedDetails:
    return CorrectedDetails(
        correction_id=correction_id,
        changed=correction_id is not None,
        first_name=details.first_name,
        last_name=details.last_name,
        phone=details.phone,
        address=msgspec.convert(_address(details.address), Address),
        corrected_at=at,
    )


async def correct_details(db: Database, session_token: str, tenant_id: str, form: DetailsInput) -> CorrectedDetails:
    """Record the portal session's contractor's correction at ``tenant_id`` and tell the company
    (ContractorDetailsCorrectedV1), unless the details are already these."""
    async with db.uow() as uow:
        now = uow.clock.now()
        who = await session_of(uow.session, session_token, now)
        if not is_id(tenant_id, "co"):
            raise NotFound(_NOT_YOURS)
        contractor = await _contractor(uow.session, tenant_id, who.email)
        details = check_details(form, contractor)
        if await _unchanged(uow.session, contractor, details):
            return _answer(details, None, None)
        correction_id = new_id("dc")
        row = {
            "id": correction_id,
            "tenant_id": tenant_id,
            "contractor_id": contractor["contractor_id"],
            "email": who.email,
            "first_name": details.first_name,
            "last_name": details.last_name,
            "phone": details.phone,
            "address": _address(details.address),
            "corrected_at": now,
        }
        await uow.session.execute(portal_corrections.insert().values(**row))
        answer = _answer(details, correction_id, now)
        earlier = (
            select(func.count())
            .select_from(portal_corrections)
            .where(portal_corrections.c.tenant_id == tenant_id, portal_corrections.c.contractor_id == contractor["contractor_id"])
        )
        bind_actor(actor_of("contractor", str(contractor["contractor_id"])))  # the portal's contractor asked
        uow.emit(
            ContractorDetailsCorrectedV1(
                correction_id=correction_id,
                contractor_id=contractor["contractor_id"],
                first_name=answer.first_name,
                last_name=answer.last_name,
                phone=answer.phone,
                address=answer.address,
                corrected_at=now,
            ),
            tenant_id=tenant_id,
            aggregate_id=contractor["contractor_id"],
            aggregate_version=(await uow.session.execute(earlier)).scalar_one(),
        )
        await uow.commit()
    return answer
