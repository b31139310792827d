"""webhook endpoints keep the secret before a rotation, which signs beside the new one for a day

Revision ID: c3f1a7d2e9b4
Revises: dbabb465a5f7
Create Date: 2026-12-07 04:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import ten99kit.db
from alembic import op

revision: str = "c3f1a7d2e9b4"
down_revision: str | Sequence[str] | None = "dbabb465a5f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook_endpoints", sa.Column("previous_secret_encrypted", sa.Text(), nullable=True))
    op.add_column("webhook_endpoints", sa.Column("previous_secret_until", ten99kit.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("webhook_endpoints", "previous_secret_until")
    op.drop_column("webhook_endpoints", "previous_secret_encrypted")
