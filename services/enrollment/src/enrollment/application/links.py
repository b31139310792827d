"""Opt-in links as configured: token issue and recomputation, lifetime and reminder schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ten99kit.db import Row

from ..domain.tokens import IssuedToken, issue_token, recompute_token
from ..settings import EnrollmentSettings

__all__ = ["OptInLinks"]


@dataclass(frozen=True)
class OptInLinks:
    secret: str
    base_url: str
    ttl: timedelta
    reminder_days: tuple[int, ...]

    @classmethod
    def from_settings(cls, settings: EnrollmentSettings) -> OptInLinks:
        return cls(
            secret=settings.token_secret.get_secret_value(),
            base_url=settings.opt_in_base_url,
            ttl=timedelta(days=settings.invitation_ttl_days),
            reminder_days=tuple(settings.reminder_days),
        )

    def issue(self, invitation_id: str) -> IssuedToken:
        return issue_token(self.secret, invitation_id)

    def url(self, token: str) -> str:
        return f"{self.base_url}/opt-in/{token}"

    def url_of(self, invitation: Row) -> str | None:
        """The invitation's link, recomputed (None if the secret was rotated since issue)."""
        token = recompute_token(self.secret, invitation["id"], invitation["nonce"], invitation["token_hash"])
        return self.url(token) if token else None

    def reminder_at(self, issued_at: datetime, expires_at: datetime, slot: int) -> datetime | None:
        """When reminder number ``slot + 1`` is due, or None if there is none before expiry."""
        if slot >= len(self.reminder_days):
            return None
        due = issued_at + timedelta(days=self.reminder_days[slot])
        return due if due < expires_at else None

    def slots_due(self, issued_at: datetime, now: datetime) -> int:
        """How many reminder slots have come due by ``now``."""
        return sum(1 for d in self.reminder_days if issued_at + timedelta(days=d) <= now)
