"""traces: the ingest span kept with each delivery; traceparent to receivers per subscription

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("traceparent", sa.String(55), nullable=True))
    op.add_column(
        "webhooks",
        sa.Column("send_traceparent", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("send_traceparent")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("traceparent")
