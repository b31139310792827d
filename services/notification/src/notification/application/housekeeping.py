"""Clock-driven housekeeping: attached files of finished deliveries are dropped after the
retention period, and the development catcher keeps only its newest messages."""

from __future__ import annotations

from datetime import datetime, timedelta

from ten99kit import Database, ScheduledJob

from ..adapters.catcher import MailboxReader
from ..adapters.deliveries import purge_attachments

__all__ = ["housekeeping_job"]


def housekeeping_job(
    db: Database, *, attachment_retention_days: float, mailbox: MailboxReader | None, catcher_keep: int
) -> ScheduledJob:
    async def run(now: datetime) -> int:
        done = await purge_attachments(db, now - timedelta(days=attachment_retention_days))
        if mailbox is not None:
            done += await mailbox.keep_newest(catcher_keep)
        return done

    return ScheduledJob("notification_housekeeping", run)
