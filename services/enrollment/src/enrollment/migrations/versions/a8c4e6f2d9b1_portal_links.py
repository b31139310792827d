"""portal sign-in links: one row per request (the token's hash when the email was known) and the
portal session a used link opened (its hash)

Revision ID: a8c4e6f2d9b1
Revises: f7a1d3c5b2e4
Create Date: 2026-12-07 05:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import ten99kit.db
from alembic import op

revision: str = "a8c4e6f2d9b1"
down_revision: str | Sequence[str] | None = "f7a1d3c5b2e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_links",
        sa.Column("id", ten99kit.db.PublicId(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", ten99kit.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ten99kit.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", ten99kit.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("session_hash", sa.String(length=64), nullable=True),
        sa.Column("session_expires_at", ten99kit.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_links_token_hash")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_portal_links_session_hash")),
    )
    op.create_index("ix_portal_links_email", "portal_links", ["email", "created_at"])
    op.create_index("ix_portal_links_client", "portal_links", ["client", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_portal_links_client", table_name="portal_links")
    op.drop_index("ix_portal_links_email", table_name="portal_links")
    op.drop_table("portal_links")
