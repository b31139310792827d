"""Rules for companies, dashboard users, sessions and API keys: no I/O here."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ten99kit.emails import InvalidEmail, parse_email

__all__ = [
    "ROLES",
    "AccountError",
    "LoginDecision",
    "decide_login_failure",
    "hash_secret",
    "is_locked",
    "new_api_key",
    "new_session_token",
    "normalize_email",
    "session_is_live",
    "validate_company_name",
    "validate_password",
]

ROLES = ("owner", "member")


class AccountError(ValueError):
    """Bad input for an account operation; ``field`` names the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def normalize_email(email: str) -> str:
    """The address in its stored form (the kit's one parsing of email addresses)."""
    try:
        return parse_email(email)
    except InvalidEmail:
        raise AccountError("Enter a valid email address", "email") from None


def validate_password(password: str) -> str:
    if len(password or "") < 10:
        raise AccountError("The password must have at least 10 characters", "password")
    if len(password) > 512:
        raise AccountError("The password is too long", "password")
    return password


def validate_company_name(name: str) -> str:
    value = (name or "").strip()
    if not value or len(value) > 200:
        raise AccountError("Enter the company's name (at most 200 characters)", "name")
    return value


def hash_secret(value: str) -> str:
    """Hash of a high-entropy secret (session token, API key). Not for passwords."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_key(prefix: str) -> tuple[str, str]:
    """A new API key and how it is shown afterwards (its start and its last four characters)."""
    secret = secrets.token_urlsafe(32).replace("-", "x").replace("_", "y")  # 256 bits, alphanumeric
    key = f"{prefix}{secret}"
    return key, f"{prefix}{secret[:4]}…{secret[-4:]}"


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now


@dataclass(frozen=True)
class LoginDecision:
    failed_logins: int
    locked_until: datetime | None


def decide_login_failure(failed_logins: int, now: datetime, *, max_failures: int, lockout: timedelta) -> LoginDecision:
    """After a wrong password: count it, and lock the account once ``max_failures`` are reached."""
    failures = failed_logins + 1
    if failures >= max_failures:
        return LoginDecision(failed_logins=0, locked_until=now + lockout)
    return LoginDecision(failed_logins=failures, locked_until=None)


def session_is_live(*, last_seen_at: datetime, expires_at: datetime, now: datetime, idle_timeout: timedelta) -> bool:
    """A session lives until its absolute expiry, and ends earlier after ``idle_timeout`` unused."""
    return now < expires_at and now - last_seen_at < idle_timeout
