"""undelivered webhooks reports

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import waypost.store.schema

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Time = waypost.store.schema.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("tenant_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_date", Time(timezone=True), nullable=False),
        sa.Column("end_date", Time(timezone=True), nullable=False),
        sa.Column("webhook_types", sa.Text(), nullable=True),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("callback_url", sa.String(length=2000), nullable=True),
        sa.Column("created_at", Time(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", Time(timezone=True), nullable=True),
        sa.Column("finished_at", Time(timezone=True), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("notified_at", Time(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_reports_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reports_status_created_at"), ["status", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reports_tenant_id_created_at"), ["tenant_id", "created_at"], unique=False
        )
    op.create_table(
        "report_parts",
        sa.Column("report_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_parts_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "seq", name=op.f("pk_report_parts")),
    )


def downgrade() -> None:
    op.drop_table("report_parts")
    op.drop_table("reports")
