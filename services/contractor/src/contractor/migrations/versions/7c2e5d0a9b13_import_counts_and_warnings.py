"""import counts (unchanged rows) and implausible-pay warnings the user confirms

Revision ID: 7c2e5d0a9b13
Revises: 4f972a051ebd
Create Date: 2026-12-07 04:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '7c2e5d0a9b13'
down_revision: Union[str, Sequence[str], None] = '4f972a051ebd'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('import_batches') as batch:
        batch.alter_column('status', existing_type=sa.String(length=16), type_=sa.String(length=24), existing_nullable=False)
        batch.add_column(sa.Column('rows_unchanged', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('rows_warned', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('warnings_decision', sa.String(length=16), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('import_batches') as batch:
        batch.drop_column('warnings_decision')
        batch.drop_column('rows_warned')
        batch.drop_column('rows_unchanged')
        batch.alter_column('status', existing_type=sa.String(length=24), type_=sa.String(length=16), existing_nullable=False)
