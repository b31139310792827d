"""insured_corrections: a company's correction kept until the contractor's policy exists

Revision ID: 7c1e5a2b9d40
Revises: 4d938a091888
Create Date: 2026-11-29 12:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import ten99kit.db
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '7c1e5a2b9d40'
down_revision: Union[str, Sequence[str], None] = '4d938a091888'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('insured_corrections',
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('contractor_id', sa.String(length=40), nullable=False),
    sa.Column('insured_first_name', sa.String(length=200), nullable=True),
    sa.Column('insured_last_name', sa.String(length=200), nullable=True),
    sa.Column('insured_email', sa.String(length=320), nullable=True),
    sa.Column('insured_phone', sa.String(length=40), nullable=True),
    sa.Column('insured_address', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('insured_as_of', ten99kit.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'contractor_id', name=op.f('pk_insured_corrections'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('insured_corrections')
