"""deleted contractors (ContractorDeletedV1) are kept with deleted_at

Revision ID: e5b2c9a1f0d3
Revises: d4a3775c8dfe
Create Date: 2026-12-07 04:05:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import ten99kit.db
from alembic import op

revision: str = "e5b2c9a1f0d3"
down_revision: str | Sequence[str] | None = "d4a3775c8dfe"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contractors", sa.Column("deleted_at", ten99kit.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("contractors", "deleted_at")
