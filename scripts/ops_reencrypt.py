"""Re-encrypt stored secrets under the first key of their key list (the last step of a key rotation).

    python scripts/ops_reencrypt.py <target> [--check] [--batch N]
    kubectl -n ten99 exec -i deploy/contractor-worker -- python - contractor-tax-ids < scripts/ops_reencrypt.py

Targets (each reads the database URL and the key list from the variables the service itself reads,
so inside a service's pod it needs no arguments but the target):

    contractor-tax-ids              CONTRACTOR_TAX_ID_KEYS: contractors' tax ids, pending import files
    contractor-integration-secrets  CONTRACTOR_INTEGRATION_SECRET_KEYS: integrations' signing secrets
    notification-webhook-secrets    NOTIFICATION_WEBHOOK_SECRET_KEYS: webhook endpoints' signing secrets
                                    (current and, during a company's own rotation, previous)

A value already under the first key is left alone, so the command can run again at any time (and
while the service runs: each row is rewritten only if it still holds the value read, so a value the
service wrote meanwhile wins). ``--check`` rewrites nothing and exits 1 while any value is not under
the first key: run it before removing an old key from the list. One JSON line per column is printed.
A value no key decrypts stops the command (exit 2) before anything of that batch is written.

Service-agnostic on purpose: it needs only ten99kit, SQLAlchemy and the database driver, which the
service image has, so it can be piped into a running pod (the image carries no scripts/).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import and_, column, select, table, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.sql.expression import ColumnClause, ColumnElement
from ten99kit.crypto import derive_key


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    #: columns that identify a row (the primary key)
    key: tuple[str, ...]
    column: str
    #: stored as bytes (LargeBinary) rather than text
    binary: bool = False


@dataclass(frozen=True)
class Target:
    prefix: str
    keys_setting: str
    #: the purpose the service derives its Fernet keys with (``derive_key(secret, purpose)``)
    purpose: str
    columns: tuple[EncryptedColumn, ...]


TARGETS = {
    "contractor-tax-ids": Target(
        "CONTRACTOR_",
        "TAX_ID_KEYS",
        "contractor-tax-id",
        (
            EncryptedColumn("contractors", ("pk",), "tax_id_encrypted"),
            # an upload waiting to be imported is sealed with the tax-id keys (it may hold tax ids)
            EncryptedColumn("import_files", ("import_id",), "content", binary=True),
        ),
    ),
    "contractor-integration-secrets": Target(
        "CONTRACTOR_",
        "INTEGRATION_SECRET_KEYS",
        "contractor-integration-secret",
        (EncryptedColumn("integration_secrets", ("tenant_id", "provider"), "secret_encrypted"),),
    ),
    "notification-webhook-secrets": Target(
        "NOTIFICATION_",
        "WEBHOOK_SECRET_KEYS",
        "notification-webhook-secret",
        (
            EncryptedColumn("webhook_endpoints", ("seq",), "secret_encrypted"),
            # the secret a company replaced, still accepted by its receivers for 24 hours
            EncryptedColumn("webhook_endpoints", ("seq",), "previous_secret_encrypted"),
        ),
    ),
}


class Undecryptable(Exception):
    pass


@dataclass
class Ciphers:
    primary: Fernet
    every: MultiFernet

    @classmethod
    def from_environment(cls, target: Target) -> Ciphers:
        name = f"{target.prefix}{target.keys_setting}"
        raw = os.environ.get(name)
        if not raw:
            raise SystemExit(f"{name} is not set")
        secrets = json.loads(raw)
        if not isinstance(secrets, list) or not secrets or not all(isinstance(s, str) and s for s in secrets):
            raise SystemExit(f"{name} must be a JSON list of non-empty strings")
        fernets = [Fernet(derive_key(s, target.purpose)) for s in secrets]
        return cls(fernets[0], MultiFernet(fernets))

    def needs_rotation(self, token: bytes) -> bool:
        try:
            self.primary.decrypt(token)
            return False
        except InvalidToken:
            pass
        try:
            self.every.decrypt(token)
        except InvalidToken:
            raise Undecryptable from None
        return True


@dataclass
class Counts:
    current: int = 0
    rewritten: int = 0
    stale: int = 0


def _as_token(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


async def _column(conn: AsyncConnection, spec: EncryptedColumn, ciphers: Ciphers, check: bool, batch: int) -> Counts:
    keys: list[ColumnClause[Any]] = [column(k) for k in spec.key]
    value: ColumnClause[Any] = column(spec.column)
    source = table(spec.table, *keys, value)
    counts = Counts()
    last: tuple[Any, ...] | None = None
    while True:
        query = select(*keys, value).where(value.is_not(None)).order_by(*keys).limit(batch)
        if last is not None:
            query = query.where(_after(keys, last))
        rows = (await conn.execute(query)).all()
        if not rows:
            return counts
        last = tuple(rows[-1][: len(keys)])
        for row in rows:
            stored = row[len(keys)]
            try:
                stale = ciphers.needs_rotation(_as_token(stored))
            except Undecryptable:
                where = ", ".join(f"{k}={v}" for k, v in zip(spec.key, row, strict=False))
                raise SystemExit(f"{spec.table}.{spec.column} ({where}): no key in the list decrypts it") from None
            if not stale:
                counts.current += 1
            elif check:
                counts.stale += 1
            else:
                fresh = ciphers.every.rotate(_as_token(stored))
                new_value: str | bytes = fresh if spec.binary else fresh.decode()
                match = and_(*(k == row[i] for i, k in enumerate(keys)), value == stored)
                done = await conn.execute(update(source).where(match).values({spec.column: new_value}))
                counts.rewritten += done.rowcount
        await conn.commit()


def _after(keys: list[ColumnClause[Any]], last: tuple[Any, ...]) -> ColumnElement[bool]:
    """Rows after ``last`` in key order (a row-value comparison works on PostgreSQL and SQLite)."""
    return tuple_(*keys) > tuple_(*last)


async def reencrypt(target_name: str, check: bool, batch: int) -> int:
    target = TARGETS[target_name]
    url = os.environ.get(f"{target.prefix}DB__URL")
    if not url:
        raise SystemExit(f"{target.prefix}DB__URL is not set")
    ciphers = Ciphers.from_environment(target)
    engine = create_async_engine(url)
    stale = 0
    try:
        async with engine.connect() as conn:
            for spec in target.columns:
                counts = await _column(conn, spec, ciphers, check, batch)
                stale += counts.stale
                line = {"target": target_name, "table": spec.table, "column": spec.column, **counts.__dict__}
                print(json.dumps(line), flush=True)
    finally:
        await engine.dispose()
    return 1 if stale else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 while a value is under an older key")
    parser.add_argument("--batch", type=int, default=500, help="rows per transaction")
    args = parser.parse_args(argv)
    return asyncio.run(reencrypt(args.target, args.check, args.batch))


if __name__ == "__main__":
    sys.exit(main())
