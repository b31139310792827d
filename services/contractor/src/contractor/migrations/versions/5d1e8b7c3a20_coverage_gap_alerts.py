"""coverage-gap alerts sent (one per company and UTC day)

Revision ID: 5d1e8b7c3a20
Revises: 7c2e5d0a9b13
Create Date: 2026-12-07 04:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import ten99kit.db

# revision identifiers, used by Alembic.
revision: str = '5d1e8b7c3a20'
down_revision: Union[str, Sequence[str], None] = '7c2e5d0a9b13'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'coverage_gap_alerts',
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('gap_count', sa.Integer(), nullable=False),
        sa.Column('sent_at', ten99kit.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'day', name=op.f('pk_coverage_gap_alerts')),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('coverage_gap_alerts')
