"""Use cases for companies, dashboard users and their sessions.

A company is created with its first (owner) user in one transaction, which also emits
`CompanyCreatedV1` through the outbox (the other services learn the company's name and owner
email from it). Logins are counted: after ``max_failures`` wrong passwords in a row the account
is locked for ``lockout_s``. Sessions live server-side; the cookie holds a random token whose hash
is the session's key.

A failed login tells nothing about the account (account enumeration): an unknown email, a wrong
password and a locked account get the one same `LoginFailed` message, and each costs the same
work (a password hash verification, then the failure counted by email, which changes no row when
there is no such user). ``LoginFailed.locked`` is for the logs, never for the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from ten99_contracts.gateway_v1 import CompanyCreatedV1, UserAddedV1
from ten99kit import Database, new_id

from ..adapters.db import companies, sessions, users
from ..adapters.passwords import Passwords
from ..domain.accounts import (
    ROLES,
    AccountError,
    decide_login_failure,
    hash_secret,
    is_locked,
    new_session_token,
    normalize_email,
    session_is_live,
    validate_company_name,
    validate_password,
)
from ..settings import LoginSettings, SessionSettings

__all__ = [
    "Company",
    "CurrentUser",
    "LoginFailed",
    "NewSession",
    "add_user",
    "create_company",
    "find_user_by_email",
    "get_company",
    "list_users",
    "log_in",
    "log_out",
    "purge_expired_sessions",
    "resolve_session",
]

#: how often a session's last_seen_at is written (not on every request)
_TOUCH_EVERY = timedelta(seconds=60)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def login_failed_message(settings: LoginSettings) -> str:
    """The answer to every failed login, whatever failed: it must not tell whether the email is known."""
    minutes = max(1, settings.lockout_s // 60)
    return (
        f"Wrong email or password. After {settings.max_failures} failed attempts in a row, "
        f"logging in is paused for {minutes} minute(s)."
    )


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    owner_email: str


@dataclass(frozen=True)
class CurrentUser:
    """Who is logged in, for the dashboard: the company id is the tenant of every service call."""

    user_id: str
    email: str
    role: str
    company_id: str
    company_name: str
    csrf_token: str


@dataclass(frozen=True)
class NewSession:
    token: str
    csrf_token: str
    user: CurrentUser


class LoginFailed(Exception):
    """A login was refused. ``message`` is the same for every cause; ``locked`` (the account is or
    just got locked) is for logs and tests only: showing it would reveal that the account exists."""

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.locked = locked


async def create_company(db: Database, passwords: Passwords, *, name: str, email: str, password: str) -> tuple[Company, bool]:
    """Create a company and its owner. Returns ``(company, created)``; if a user with this email
    already exists, nothing changes and their company is returned with ``created=False``."""
    name = validate_company_name(name)
    email = _checked_email(email)
    validate_password(password)
    existing = await find_user_by_email(db, email)
    if existing is not None:
        company = await get_company(db, str(existing["tenant_id"]))
        assert company is not None
        return company, False
    password_hash = await passwords.hash(password)
    now = db.clock.now()
    company_id = new_id("co")
    async with db.uow() as uow:
        await uow.session.execute(
            companies.insert().values(id=company_id, tenant_id=company_id, name=name, owner_email=email, created_at=now)
        )
        owner_id = new_id("us")
        await uow.session.execute(
            users.insert().values(
                id=owner_id,
                tenant_id=company_id,
                email=email,
                password_hash=password_hash,
                role="owner",
                failed_logins=0,
                created_at=now,
            )
        )
        uow.emit(
            CompanyCreatedV1(company_id=company_id, name=name, owner_email=email),
            tenant_id=company_id,
            aggregate_id=company_id,
            aggregate_version=1,
        )
        uow.emit(UserAddedV1(user_id=owner_id, email=email, role="owner"), tenant_id=company_id, aggregate_id=owner_id)
        await uow.commit()
    return Company(id=company_id, name=name, owner_email=email), True


async def add_user(db: Database, passwords: Passwords, *, company_id: str, email: str, password: str, role: str) -> str:
    """Add a dashboard user to a company (Settings → Team)."""
    email = _checked_email(email)
    validate_password(password)
    if role not in ROLES:
        raise AccountError("Choose a role", "role")
    if await find_user_by_email(db, email) is not None:
        raise AccountError("A user with this email already exists", "email")
    password_hash = await passwords.hash(password)
    user_id = new_id("us")
    async with db.uow() as uow:
        await uow.session.execute(
            users.insert().values(
                id=user_id,
                tenant_id=company_id,
                email=email,
                password_hash=password_hash,
                role=role,
                failed_logins=0,
                created_at=db.clock.now(),
            )
        )
        uow.emit(UserAddedV1(user_id=user_id, email=email, role=role), tenant_id=company_id, aggregate_id=user_id)
        await uow.commit()
    return user_id


def _checked_email(email: str) -> str:
    """`normalize_email`, and no control characters (PostgreSQL refuses NUL in text: a 500)."""
    value = normalize_email(email)
    if _CONTROL.search(value):
        raise AccountError("Enter a valid email address", "email")
    return value


async def find_user_by_email(db: Database, email: str) -> dict[str, object] | None:
    if _CONTROL.search(email or ""):
        return None
    async with db.reads() as s:
        row = (await s.execute(select(users).where(users.c.email == email.strip().lower()))).mappings().first()
    return dict(row) if row else None


async def get_company(db: Database, company_id: str) -> Company | None:
    async with db.reads() as s:
        row = (await s.execute(select(companies).where(companies.c.id == company_id))).mappings().first()
    return Company(id=row["id"], name=row["name"], owner_email=row["owner_email"]) if row else None


async def list_users(db: Database, company_id: str) -> list[dict[str, object]]:
    async with db.reads() as s:
        rows = await s.execute(
            select(users.c.id, users.c.email, users.c.role, users.c.last_login_at, users.c.created_at)
            .where(users.c.tenant_id == company_id)
            .order_by(users.c.created_at)
        )
        return [dict(r) for r in rows.mappings()]


async def log_in(
    db: Database,
    passwords: Passwords,
    settings: LoginSettings,
    session_settings: SessionSettings,
    *,
    email: str,
    password: str,
    ip: str | None = None,
    user_agent: str | None = None,
) -> NewSession:
    """Check the password and open a session, or raise `LoginFailed` (counting the failure).

    Unknown email, wrong password, locked account: the same message and the same work (see the
    module's docstring), so neither the answer nor its time tells whether the account exists."""
    failed = login_failed_message(settings)
    # looked up as stored, not checked again: an account made under older address rules signs in
    email = (email or "").strip().lower()
    if not email or _CONTROL.search(email):
        await passwords.verify(None, password or "")
        raise LoginFailed(failed)
    now = db.clock.now()
    user = await find_user_by_email(db, email)
    # verified whatever the account's state (unknown: against a dummy hash), before any decision
    ok = await passwords.verify(str(user["password_hash"]) if user is not None else None, password or "")
    if user is not None:
        locked_until = user["locked_until"]
        assert locked_until is None or isinstance(locked_until, datetime)
        if is_locked(locked_until, now):  # even the right password
            raise LoginFailed(failed, locked=True)
    if user is None or not ok:
        locked = await _count_failure(db, settings, email, now)
        raise LoginFailed(failed, locked=locked)
    async with db.uow() as uow:
        values: dict[str, object] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
        if passwords.needs_rehash(str(user["password_hash"])):
            values["password_hash"] = await passwords.hash(password)
        await uow.session.execute(update(users).where(users.c.id == user["id"]).values(**values))
        token = new_session_token()
        csrf = new_session_token()
        await uow.session.execute(
            sessions.insert().values(
                token_hash=hash_secret(token),
                tenant_id=user["tenant_id"],
                user_id=user["id"],
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(seconds=session_settings.absolute_timeout_s),
                ip=(ip or "")[:64] or None,
                user_agent=(user_agent or "")[:300] or None,
            )
        )
        await uow.commit()
    company = await get_company(db, str(user["tenant_id"]))
    assert company is not None
    current = CurrentUser(
        user_id=str(user["id"]),
        email=email,
        role=str(user["role"]),
        company_id=company.id,
        company_name=company.name,
        csrf_token=csrf,
    )
    return NewSession(token=token, csrf_token=csrf, user=current)


async def _count_failure(db: Database, settings: LoginSettings, email: str, now: datetime) -> bool:
    """Count a failed login against ``email``; whether the account got locked. The same statement
    runs for an unknown email (it changes no row), so that the two cost the same."""
    async with db.uow() as uow:
        # counted in the database (not read-modify-write), so parallel guesses all count
        counted = (
            await uow.session.execute(
                update(users)
                .where(users.c.email == email)
                .values(failed_logins=users.c.failed_logins + 1)
                .returning(users.c.id, users.c.failed_logins)
            )
        ).first()
        locked = False
        if counted is not None:
            decision = decide_login_failure(
                int(counted.failed_logins) - 1,
                now,
                max_failures=settings.max_failures,
                lockout=timedelta(seconds=settings.lockout_s),
            )
            if decision.locked_until is not None:
                await uow.session.execute(
                    update(users).where(users.c.id == counted.id).values(failed_logins=0, locked_until=decision.locked_until)
                )
                locked = True
        await uow.commit()
    return locked


async def resolve_session(db: Database, session_settings: SessionSettings, token: str | None) -> CurrentUser | None:
    """The logged-in user for a session cookie, or None (unknown, expired or idle too long)."""
    if not token or len(token) > 200:
        return None
    now = db.clock.now()
    key = hash_secret(token)
    async with db.session() as s:
        row = (
            (
                await s.execute(
                    select(
                        sessions.c.tenant_id,
                        sessions.c.user_id,
                        sessions.c.csrf_token,
                        sessions.c.last_seen_at,
                        sessions.c.expires_at,
                        users.c.email,
                        users.c.role,
                        companies.c.name.label("company_name"),
                    )
                    .join(users, users.c.id == sessions.c.user_id)
                    .join(companies, companies.c.id == users.c.tenant_id)
                    .where(sessions.c.token_hash == key)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        if not session_is_live(
            last_seen_at=row["last_seen_at"],
            expires_at=row["expires_at"],
            now=now,
            idle_timeout=timedelta(seconds=session_settings.idle_timeout_s),
        ):
            await s.execute(delete(sessions).where(sessions.c.token_hash == key))
            await s.commit()
            return None
        if now - row["last_seen_at"] >= _TOUCH_EVERY:
            await s.execute(update(sessions).where(sessions.c.token_hash == key).values(last_seen_at=now))
            await s.commit()
    return CurrentUser(
        user_id=row["user_id"],
        email=row["email"],
        role=row["role"],
        company_id=row["tenant_id"],
        company_name=row["company_name"],
        csrf_token=row["csrf_token"],
    )


async def log_out(db: Database, token: str | None) -> None:
    if not token:
        return
    async with db.session() as s:
        await s.execute(delete(sessions).where(sessions.c.token_hash == hash_secret(token)))
        await s.commit()


async def purge_expired_sessions(db: Database, session_settings: SessionSettings, now: datetime) -> int:
    """Clock-driven: delete sessions past their absolute expiry or idle too long."""
    idle_cutoff = now - timedelta(seconds=session_settings.idle_timeout_s)
    async with db.session() as s:
        result = await s.execute(
            delete(sessions).where((sessions.c.expires_at <= now) | (sessions.c.last_seen_at <= idle_cutoff))
        )
        await s.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
