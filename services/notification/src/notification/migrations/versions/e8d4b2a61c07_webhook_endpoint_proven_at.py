"""webhook endpoints remember their first success since creation or failing (a proven endpoint takes
a larger burst of attempts under way)

Revision ID: e8d4b2a61c07
Revises: c3f1a7d2e9b4
Create Date: 2026-12-07 05:15:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import ten99kit.db
from alembic import op

revision: str = "e8d4b2a61c07"
down_revision: str | Sequence[str] | None = "c3f1a7d2e9b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook_endpoints", sa.Column("proven_at", ten99kit.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("webhook_endpoints", "proven_at")
