"""contractor emails in their one stored form: lower-cased

Contractors imported before the kit's parse_email lower-cased every address kept the spelling of
the file ("ADA@EXAMPLE.COM"), and the dashboard showed it so (issue 15). Their matching key
(email_key) was always case-insensitive, so lower-casing the address changes no match.

Revision ID: 9a41d7e3c2f5
Revises: 5d1e8b7c3a20
Create Date: 2026-12-07 04:30:00

"""
from typing import Sequence, Union

from alembic import op

# revision identifiers, used by Alembic.
revision: str = '9a41d7e3c2f5'
down_revision: Union[str, Sequence[str], None] = '5d1e8b7c3a20'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade data: every stored address lower-cased."""
    op.execute("UPDATE contractors SET email = lower(email) WHERE email <> lower(email)")


def downgrade() -> None:
    """The original spellings are not kept: nothing to undo."""
