"""Each attempt's request headers, secrets masked

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: attempts made before this revision have no record of their headers.
    with op.batch_alter_table("attempts") as batch_op:
        batch_op.add_column(sa.Column("request_headers", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch_op:
        batch_op.drop_column("request_headers")
