"""the roster hears declines (ApplicationDeclinedV1): when, why and the contractor's note

Revision ID: b8d2f4a6c1e3
Revises: 9a41d7e3c2f5
Create Date: 2026-12-07 04:50:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import ten99kit.db
from alembic import op

revision: str = "b8d2f4a6c1e3"
down_revision: str | Sequence[str] | None = "9a41d7e3c2f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("roster_status", sa.Column("declined_at", ten99kit.db.UtcDateTime(timezone=True), nullable=True))
    op.add_column("roster_status", sa.Column("decline_reason", sa.String(length=40), nullable=True))
    op.add_column("roster_status", sa.Column("decline_note", sa.String(length=500), nullable=True))


def downgrade() -> None:
    op.drop_column("roster_status", "decline_note")
    op.drop_column("roster_status", "decline_reason")
    op.drop_column("roster_status", "declined_at")
