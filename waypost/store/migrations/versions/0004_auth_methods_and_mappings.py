"""named outbound authentication methods, and acknowledged delivery ids

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import waypost.store.schema

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_methods",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("tenant_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config_enc", sa.Text(), nullable=False),
        sa.Column("public", sa.Text(), nullable=False),
        sa.Column("created_at", waypost.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", waypost.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_auth_methods_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_methods")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_auth_methods_tenant_id_name")),
    )
    op.create_table(
        "delivery_mappings",
        sa.Column("tenant_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("order_key", sa.String(length=250), nullable=False),
        sa.Column("webhook_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        sa.Column("delivery_cost", sa.Integer(), nullable=True),
        sa.Column("green_delivery", sa.Boolean(), nullable=True),
        sa.Column("fleet_extras", sa.Text(), nullable=True),
        sa.Column("source_delivery_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("updated_at", waypost.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_delivery_mappings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_delivery_mappings_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "order_key", "webhook_id", name=op.f("pk_delivery_mappings")
        ),
    )


def downgrade() -> None:
    op.drop_table("delivery_mappings")
    op.drop_table("auth_methods")
