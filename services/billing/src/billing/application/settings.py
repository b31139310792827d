"""Use cases for a company's billing settings (``GET|PUT /v1/settings``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from ten99_contracts.billing_v1 import BillingSettingsUpdatedV1
from ten99kit import Database, InvalidInput, insert_ignore

from ..adapters.db import billing_settings, companies
from ..domain.settings import BillingSettingsValues, InvalidSettings, SettingsChange, apply_change, validate_change
from ..settings import BillingDefaults

__all__ = ["CompanyBilling", "get_settings", "load_company_billing", "update_settings"]


@dataclass(frozen=True)
class CompanyBilling:
    settings: BillingSettingsValues
    company_name: str | None
    settings_version: int = 0
    updated_at: datetime | None = None


async def load_company_billing(
    session: AsyncSession, tenant_ids: Iterable[str], defaults: BillingDefaults
) -> dict[str, CompanyBilling]:
    """Settings (with defaults) and company facts of several companies, in two queries."""
    ids = sorted(set(tenant_ids))
    if not ids:
        return {}
    company_rows = {
        r.tenant_id: r for r in (await session.execute(select(companies).where(companies.c.tenant_id.in_(ids)))).all()
    }
    setting_rows = {
        r.tenant_id: r
        for r in (await session.execute(select(billing_settings).where(billing_settings.c.tenant_id.in_(ids)))).all()
    }
    out: dict[str, CompanyBilling] = {}
    for tenant in ids:
        company = company_rows.get(tenant)
        row = setting_rows.get(tenant)
        values = BillingSettingsValues(
            billing_email=row.billing_email if row else None,
            premium_payer=row.premium_payer if row else defaults.premium_payer,
            platform_fee_bps=row.platform_fee_bps if row else defaults.platform_fee_bps,
            owner_email=company.owner_email if company else None,
        )
        out[tenant] = CompanyBilling(
            values, company.name if company else None, row.version if row else 0, row.updated_at if row else None
        )
    return out


async def get_settings(db: Database, tenant_id: str, defaults: BillingDefaults) -> CompanyBilling:
    async with db.reads() as session:
        return (await load_company_billing(session, [tenant_id], defaults))[tenant_id]


async def update_settings(db: Database, tenant_id: str, requested: SettingsChange, defaults: BillingDefaults) -> CompanyBilling:
    """Validate and apply a PUT; emits ``BillingSettingsUpdatedV1`` when something changed."""
    try:
        change = validate_change(requested)
    except InvalidSettings as e:
        raise InvalidInput(e.errors) from None
    async with db.uow() as uow:
        now = uow.clock.now()
        # make sure the company has a row, then lock it: two PUTs apply one after the other
        await uow.session.execute(
            insert_ignore(billing_settings, uow.db.dialect).values(
                tenant_id=tenant_id,
                billing_email=None,
                premium_payer=defaults.premium_payer,
                platform_fee_bps=defaults.platform_fee_bps,
                version=0,
                updated_at=now,
            )
        )
        row = (
            await uow.session.execute(select(billing_settings).where(billing_settings.c.tenant_id == tenant_id).with_for_update())
        ).one()
        current = (await load_company_billing(uow.session, [tenant_id], defaults))[tenant_id]
        new = apply_change(current.settings, change)
        if new == current.settings:
            return current  # nothing changed: no message (leaving rolls the placeholder row back)
        version = row.version + 1
        await uow.session.execute(
            billing_settings.update()
            .where(billing_settings.c.tenant_id == tenant_id)
            .values(
                billing_email=new.billing_email,
                premium_payer=new.premium_payer,
                platform_fee_bps=new.platform_fee_bps,
                version=version,
                updated_at=now,
            )
        )
        uow.emit(
            BillingSettingsUpdatedV1(
                billing_email=new.effective_billing_email,
                premium_payer=new.premium_payer,
                platform_fee_bps=new.platform_fee_bps,
            ),
            tenant_id=tenant_id,
            aggregate_id=tenant_id,
            aggregate_version=version,
        )
        await uow.commit()
        return CompanyBilling(new, current.company_name, version, now)
