"""Clock-driven housekeeping: attached files of finished deliveries are dropped after the
retention period, public events (with their finished webhook deliveries and attempts) after
theirs (30 days), and the development catcher keeps only its newest messages."""

from __future__ import annotations

from datetime import datetime, timedelta

from ten99kit import Database, ScheduledJob

from ..adapters.catcher import MailboxReader
from ..adapters.deliveries import purge_attachments
from ..adapters.webhook_store import purge_events

__all__ = ["housekeeping_job"]


def housekeeping_job(
    db: Database,
    *,
    attachment_retention_days: float,
    event_retention_days: float = 30.0,
    mailbox: MailboxReader | None,
    catcher_keep: int,
) -> ScheduledJob:
    async def run(now: datetime) -> int:
        done = await purge_attachments(db, now - timedelta(days=attachment_retention_days))
        done += await purge_events(db, now - timedelta(days=event_retention_days))
        if mailbox is not None:
            done += await mailbox.keep_newest(catcher_keep)
        return done

    return ScheduledJob("notification_housekeeping", run)
