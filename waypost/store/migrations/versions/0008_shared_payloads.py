"""A delivery whose body is its event's data stores no copy of it

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.alter_column("payload", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    op.execute(
        "UPDATE deliveries SET payload = "
        "(SELECT data FROM events WHERE events.id = deliveries.event_id) WHERE payload IS NULL"
    )
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.alter_column("payload", existing_type=sa.Text(), nullable=False)
