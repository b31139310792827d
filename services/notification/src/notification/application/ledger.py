"""The audit ledger, built from the bus (docs/audit-ledger.md): every message `domain.ledger`
maps becomes one entry of its company's chain, in the consumer's transaction.

Ordering with concurrent consumers: a message's handler only buffers it; when the unit of work
commits (`UnitOfWork.before_commit`) the buffered messages are appended company by company, in
the order of the company ids, each company's chain head row locked (an upsert of the head row on
PostgreSQL; SQLite serialises writers anyway). Two consumers appending to one company therefore
take turns, and no two wait on each other's companies (no deadlock). The snapshots that tell
what changed are read and written under the same lock.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from ten99_contracts import Envelope
from ten99kit import Command, Database, Runtime, UnitOfWork
from ten99kit.db import dialect_insert

from ..adapters.db import ledger_entries, ledger_heads, ledger_snapshots
from ..domain.ledger import GENESIS, Change, LedgerEntry, change_of, diff, entry_hash, instant

__all__ = ["LEDGER_VERIFY", "Break", "Ledger", "verify_chain"]

#: entries read per query when verifying
_PAGE = 1000


class Ledger:
    def __init__(self) -> None:
        self._pending: weakref.WeakKeyDictionary[UnitOfWork, list[tuple[Envelope[Any], Change]]] = weakref.WeakKeyDictionary()

    async def on_message(self, uow: UnitOfWork, envelope: Envelope[Any]) -> None:
        change = change_of(envelope)
        if change is None:
            return
        pending = self._pending.get(uow)
        if pending is None:
            pending = self._pending[uow] = []

            async def append() -> None:
                await self._append(uow, self._pending.pop(uow, []))

            uow.before_commit(append)
        pending.append((envelope, change))

    async def _append(self, uow: UnitOfWork, pending: list[tuple[Envelope[Any], Change]]) -> None:
        by_company: dict[str, list[tuple[Envelope[Any], Change]]] = {}
        for envelope, change in pending:
            by_company.setdefault(envelope.tenant_id, []).append((envelope, change))
        for tenant_id in sorted(by_company):
            await _append_to_chain(uow, tenant_id, by_company[tenant_id])


async def _append_to_chain(uow: UnitOfWork, tenant_id: str, changes: list[tuple[Envelope[Any], Change]]) -> None:
    """``changes`` at the end of the company's chain, oldest first, with the snapshots they change:
    the same seven statements at most whether the batch holds one entry or a hundred."""
    session, dialect = uow.session, uow.db.dialect
    seq, prev_hash = await _locked_head(session, dialect, tenant_id)
    known = set(
        (
            await session.execute(
                select(ledger_entries.c.envelope_id).where(
                    ledger_entries.c.envelope_id.in_([envelope.id for envelope, _ in changes])
                )
            )
        ).scalars()
    )
    fresh = sorted(((e, c) for e, c in changes if e.id not in known), key=lambda pair: pair[0].occurred_at)
    if not fresh:
        return
    now = uow.clock.now()
    snapshots = await _snapshots(session, tenant_id, {change.entity_id for _, change in fresh})
    stored = set(snapshots)
    rows: list[dict[str, Any]] = []
    for envelope, change in fresh:
        seq += 1
        key = (change.kind, change.entity_id)
        before_all = snapshots.get(key, {})
        before, after = diff(before_all, change.fields)
        snapshots[key] = {**before_all, **change.fields}
        rows.append(_entry(tenant_id, seq, prev_hash, envelope, change, before, after, now))
        prev_hash = rows[-1]["hash"]
    await session.execute(ledger_entries.insert(), rows)
    touched = {(change.kind, change.entity_id) for _, change in fresh}
    await _save_snapshots(session, tenant_id, {k: snapshots[k] for k in touched}, stored, now)
    await session.execute(update(ledger_heads).where(ledger_heads.c.tenant_id == tenant_id).values(seq=seq, hash=prev_hash))


async def _locked_head(session: Any, dialect: str, tenant_id: str) -> tuple[int, str]:
    """The company's chain head (seq, hash), created at genesis if new, and locked until the
    transaction ends: one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (a no-op update of an
    existing head locks its row as ``SELECT ... FOR UPDATE`` would, and returns its latest version)."""
    head = (
        await session.execute(
            dialect_insert(ledger_heads, dialect)
            .values(tenant_id=tenant_id, seq=0, hash=GENESIS)
            .on_conflict_do_update(index_elements=[ledger_heads.c.tenant_id], set_={"seq": ledger_heads.c.seq})
            .returning(ledger_heads.c.seq, ledger_heads.c.hash)
        )
    ).one()
    return int(head.seq), str(head.hash)


async def _snapshots(session: Any, tenant_id: str, entity_ids: set[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored snapshot of each entity, by (kind, id)."""
    found = await session.execute(
        select(ledger_snapshots.c.entity_kind, ledger_snapshots.c.entity_id, ledger_snapshots.c.fields).where(
            ledger_snapshots.c.tenant_id == tenant_id, ledger_snapshots.c.entity_id.in_(sorted(entity_ids))
        )
    )
    return {(row.entity_kind, row.entity_id): dict(row.fields or {}) for row in found}


async def _save_snapshots(
    session: Any, tenant_id: str, snapshots: dict[tuple[str, str], dict[str, Any]], stored: set[tuple[str, str]], now: datetime
) -> None:
    """Each entity's snapshot brought up to date: one ``INSERT`` for the new ones, one ``UPDATE``
    (executed for many) for the others."""
    new = [
        {"tenant_id": tenant_id, "entity_kind": kind, "entity_id": id_, "fields": fields, "updated_at": now}
        for (kind, id_), fields in snapshots.items()
        if (kind, id_) not in stored
    ]
    if new:
        await session.execute(ledger_snapshots.insert(), new)
    changed = [{"k": kind, "i": id_, "f": fields, "u": now} for (kind, id_), fields in snapshots.items() if (kind, id_) in stored]
    if changed:
        await session.execute(
            update(ledger_snapshots)
            .where(
                ledger_snapshots.c.tenant_id == tenant_id,
                ledger_snapshots.c.entity_kind == bindparam("k"),
                ledger_snapshots.c.entity_id == bindparam("i"),
            )
            .values(fields=bindparam("f"), updated_at=bindparam("u")),
            changed,
        )


def _entry(
    tenant_id: str,
    seq: int,
    prev_hash: str,
    envelope: Envelope[Any],
    change: Change,
    before: dict[str, Any],
    after: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """The entry row of ``change`` at ``seq``, its hash included."""
    entry = LedgerEntry(
        tenant_id=tenant_id,
        seq=seq,
        occurred_at=instant(envelope.occurred_at),
        actor=envelope.actor,
        entity_kind=change.kind,
        entity_id=change.entity_id,
        contractor_id=change.contractor_id,
        action=change.action,
        subject=envelope.subject,
        before=before,
        after=after,
        correlation_id=envelope.correlation_id,
        envelope_id=envelope.id,
        prev_hash=prev_hash,
    )
    row = {name: getattr(entry, name) for name in entry.__struct_fields__}
    return {**row, "occurred_at": envelope.occurred_at, "recorded_at": now, "hash": entry_hash(entry)}


# -- verifying --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """The first entry of a company's chain that does not hold (or the head, if entries are missing at the end)."""

    tenant_id: str
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"{self.tenant_id} entry {self.seq}: {self.problem}"


def _as_entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        tenant_id=row.tenant_id,
        seq=int(row.seq),
        occurred_at=instant(row.occurred_at),
        actor=row.actor,
        entity_kind=row.entity_kind,
        entity_id=row.entity_id,
        contractor_id=row.contractor_id,
        action=row.action,
        subject=row.subject,
        before=row.before,
        after=row.after,
        correlation_id=row.correlation_id,
        envelope_id=row.envelope_id,
        prev_hash=row.prev_hash,
    )


async def _rows(db: Database, tenant_id: str) -> AsyncIterator[Any]:
    after = 0
    while True:
        async with db.session() as s:
            page = (
                await s.execute(
                    select(ledger_entries)
                    .where(ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.seq > after)
                    .order_by(ledger_entries.c.seq)
                    .limit(_PAGE)
                )
            ).all()
        for row in page:
            yield row
        if len(page) < _PAGE:
            return
        after = int(page[-1].seq)


async def _verify_company(db: Database, tenant_id: str, head: Any) -> Break | None:
    expected_seq, prev_hash = 1, GENESIS
    async for row in _rows(db, tenant_id):
        if int(row.seq) != expected_seq:
            return Break(tenant_id, expected_seq, f"missing (the next entry is {row.seq})")
        if row.prev_hash != prev_hash:
            return Break(tenant_id, expected_seq, "prev_hash is not the hash of the entry before it")
        if entry_hash(_as_entry(row)) != row.hash:
            return Break(tenant_id, expected_seq, "altered (its hash does not match its contents)")
        expected_seq, prev_hash = expected_seq + 1, row.hash
    if head is not None and (int(head.seq) != expected_seq - 1 or head.hash != prev_hash):
        return Break(tenant_id, expected_seq, f"missing (the chain's head is entry {head.seq})")
    return None


async def verify_chain(db: Database, tenant_id: str | None = None) -> tuple[int, list[Break]]:
    """Check every company's chain (or one's): how many companies were checked, and the first
    break of each company whose chain does not hold."""
    async with db.session() as s:
        query = select(ledger_heads.c.tenant_id, ledger_heads.c.seq, ledger_heads.c.hash).order_by(ledger_heads.c.tenant_id)
        if tenant_id is not None:
            query = query.where(ledger_heads.c.tenant_id == tenant_id)
        heads = {row.tenant_id: row for row in (await s.execute(query)).all()}
        tenants_query = select(ledger_entries.c.tenant_id).distinct()
        if tenant_id is not None:
            tenants_query = tenants_query.where(ledger_entries.c.tenant_id == tenant_id)
        tenants = set(heads) | set((await s.execute(tenants_query)).scalars())
    breaks = [found for tenant in sorted(tenants) if (found := await _verify_company(db, tenant, heads.get(tenant)))]
    return len(tenants), breaks


def _verify_arguments(parser: Any) -> None:
    parser.add_argument("--tenant", help="check one company's chain (default: every company's)")


async def _verify(runtime: Runtime, args: Any) -> int:
    checked, breaks = await verify_chain(runtime.db, args.tenant)
    for found in breaks:
        print(f"ledger broken: {found}", file=sys.stderr)
    if not breaks:
        print(f"ledger intact: {checked} compan{'y' if checked == 1 else 'ies'} checked")
    return 1 if breaks else 0


#: ``python -m notification ledger-verify [--tenant co_...]``: exit 1 naming each company's first broken entry
LEDGER_VERIFY = Command(
    help="verify the audit ledger's hash chains; exits 1 naming the first broken entry of each company",
    arguments=_verify_arguments,
    run=_verify,
)
