"""a contractor may decline coverage on their opt-in link: when, why and their note

Revision ID: f7a1d3c5b2e4
Revises: e5b2c9a1f0d3
Create Date: 2026-12-07 04:55:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import ten99kit.db
from alembic import op

revision: str = "f7a1d3c5b2e4"
down_revision: str | Sequence[str] | None = "e5b2c9a1f0d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("invitations", sa.Column("declined_at", ten99kit.db.UtcDateTime(timezone=True), nullable=True))
    op.add_column("invitations", sa.Column("decline_reason", sa.String(length=40), nullable=True))
    op.add_column("invitations", sa.Column("decline_note", sa.String(length=500), nullable=True))


def downgrade() -> None:
    op.drop_column("invitations", "decline_note")
    op.drop_column("invitations", "decline_reason")
    op.drop_column("invitations", "declined_at")
