"""request_keys: a public API create's idempotency key -> what it made, in the create's transaction

Revision ID: 3f6a9c1d2e71
Revises: 12b24b69dbb4
Create Date: 2026-12-06 22:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import ten99kit.db

# revision identifiers, used by Alembic.
revision: str = '3f6a9c1d2e71'
down_revision: Union[str, Sequence[str], None] = '12b24b69dbb4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('request_keys',
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('resource_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', ten99kit.db.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'key', name=op.f('pk_request_keys'))
    )
    op.create_index('ix_request_keys_created_at', 'request_keys', ['created_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_request_keys_created_at', table_name='request_keys')
    op.drop_table('request_keys')
