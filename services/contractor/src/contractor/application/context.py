"""What the use cases of this service need, built once in `bootstrap`: the database (units of
work), the clock, the ciphers for tax ids and integration secrets, the settings, and the signal
that wakes the import worker."""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import text
from ten99kit import Database, UnitOfWork
from ten99kit.clock import Clock
from ten99kit.crypto import FieldCipher, derive_key

from ..settings import ContractorSettings

__all__ = ["Context", "lock_intake"]


@dataclass
class Context:
    db: Database
    clock: Clock
    settings: ContractorSettings
    tax_ids: FieldCipher
    secrets: FieldCipher
    import_wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def build(cls, db: Database, clock: Clock, settings: ContractorSettings) -> Context:
        return cls(
            db=db,
            clock=clock,
            settings=settings,
            tax_ids=FieldCipher([derive_key(k.get_secret_value(), "contractor-tax-id") for k in settings.tax_id_keys]),
            secrets=FieldCipher(
                [derive_key(k.get_secret_value(), "contractor-integration-secret") for k in settings.integration_secret_keys]
            ),
        )

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return self.clock.now().date()


async def lock_intake(uow: UnitOfWork, tenant_id: str) -> None:
    """Serialise the paths that create entities and jobs by natural key (imports, integrations) per
    company, so that two of them never create the same end client twice. Held until commit."""
    if uow.db.is_postgres:
        key = zlib.crc32(f"contractor-intake:{tenant_id}".encode())
        await uow.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
