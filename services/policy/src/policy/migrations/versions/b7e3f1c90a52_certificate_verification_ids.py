"""certificates.verification_id: the key of a certificate's public status page (live certificates)

Revision ID: b7e3f1c90a52
Revises: 1812d2b80f4b
Create Date: 2026-12-07 04:00:00.000000

Certificates issued before this revision keep NULL: their PDF prints no verification URL, so
there is nothing to look up.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = 'b7e3f1c90a52'
down_revision: Union[str, Sequence[str], None] = '1812d2b80f4b'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('certificates') as batch:
        batch.add_column(sa.Column('verification_id', sa.String(length=40), nullable=True))
    op.create_index(op.f('ix_certificates_verification_id'), 'certificates', ['verification_id'], unique=True)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_certificates_verification_id'), table_name='certificates')
    with op.batch_alter_table('certificates') as batch:
        batch.drop_column('verification_id')
