"""The database schema, one definition for SQLite and PostgreSQL.

Alembic migrations in ``store/migrations`` build exactly this schema; a test
compares the two. Every table carries ``tenant_id`` and every query filters on
it, so a tenant can never reach another tenant's rows.

Sizing notes (see the README's "Scale" section): deliveries and attempts are
the big tables (millions of rows); the dispatcher claims through a partial
index that only holds pending rows, so its cost does not grow with history.
Routing reads ``webhook_topics`` by (tenant, topic, tracking key), so it costs
one index range per event, whatever the number of subscriptions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases.

    PostgreSQL keeps ``timestamptz``; SQLite has no time type, so the value is
    stored as naive UTC text in one fixed format, which keeps comparisons and
    ordering correct as plain string comparisons.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Id = sa.Uuid(as_uuid=False)
"""Identifiers are UUIDs: native ``uuid`` on PostgreSQL, 32 hex chars on SQLite."""

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    # E-mail is the sign-in name (and Bring's X-Mybring-API-Uid), so it is unique across tenants.
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "tenant_id"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    # SHA-256 of the whole key: keys are 256-bit random, so a slow hash adds nothing.
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Index(None, "tenant_id"),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("authenticator", sa.String(40), nullable=False),
    sa.Column("tracking_id", sa.String(250), nullable=True),
    sa.Column("url", sa.String(250), nullable=False),
    sa.Column("content_type", sa.String(40), nullable=False),
    sa.Column("header_keys", sa.Text, nullable=False),
    sa.Column("headers_enc", sa.Text, nullable=False),
    sa.Column("event_groups", sa.Text, nullable=False),
    sa.Column("event_types", sa.Text, nullable=False),
    sa.Column("filters", sa.Text, nullable=True),
    sa.Column("fields", sa.Text, nullable=True),
    sa.Column("auth_method_id", Id, nullable=True),
    sa.Column("success_codes", sa.String(8), nullable=False),
    sa.Column("retry_delays", sa.Text, nullable=True),
    sa.Column("retry_jitter", sa.Float, nullable=False, server_default="0"),
    sa.Column("require_ack", sa.Boolean, nullable=False),
    sa.Column("secret_enc", sa.Text, nullable=False),
    sa.Column("previous_secret_enc", sa.Text, nullable=True),
    sa.Column("previous_secret_until", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("ended_at", UTCDateTime, nullable=True),
    sa.Column("send_traceparent", sa.Boolean, nullable=False, server_default=sa.false()),
    # Listing is "newest first" per tenant; id breaks ties between equal timestamps.
    sa.Index(None, "tenant_id", "created_at", "id"),
)

webhook_topics = sa.Table(
    "webhook_topics",
    metadata,
    sa.Column("webhook_id", Id, sa.ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("topic", sa.String(100), primary_key=True),
    sa.Column("tenant_id", Id, nullable=False),
    # '' means "every entity": an empty string rather than NULL keeps matching one IN list.
    sa.Column("tracking_key", sa.String(250), nullable=False),
    sa.Index(None, "tenant_id", "topic", "tracking_key"),
)
"""One row per (subscription, event group or type): the routing index."""

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("tracking_id", sa.String(250), nullable=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("idempotency_key", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "idempotency_key"),
    sa.Index(None, "tenant_id", "created_at"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, nullable=False),
    sa.Column("event_id", Id, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("webhook_id", Id, sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("tracking_id", sa.String(250), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempt_count", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    # Set while a dispatcher holds the delivery; its results only count if it still does.
    sa.Column("lease_owner", sa.String(64), nullable=True),
    # NULL: the body is the event's data as it is (most deliveries), which is not copied.
    sa.Column("payload", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("ack_delivery_id", sa.String(200), nullable=True),
    sa.Column("ack_error_message", sa.Text, nullable=True),
    # The ingest span's W3C traceparent, while tracing is on: its attempts' parent.
    sa.Column("traceparent", sa.String(55), nullable=True),
    # The dispatcher's queue: only pending rows are in it, ordered by due time.
    sa.Index(
        "ix_deliveries_due",
        "next_attempt_at",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
    sa.Index(None, "tenant_id", "created_at", "id"),
    sa.Index(None, "tenant_id", "status", "finished_at"),
    sa.Index(None, "webhook_id", "created_at"),
    sa.Index(None, "event_id"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "delivery_id", Id, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("response_headers", sa.Text, nullable=False),
    sa.Column("response_excerpt", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    # What was sent, as ``[[name, value], ...]`` with secret values masked
    # (``domain/masking.py``); NULL for attempts older than this column.
    sa.Column("request_headers", sa.Text, nullable=True),
    sa.Index(None, "delivery_id", "number"),
)

custom_event_types = sa.Table(
    "custom_event_types",
    metadata,
    sa.Column(
        "tenant_id",
        Id,
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("group_name", sa.String(100), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.String(1000), nullable=False),
    sa.Column("schema", sa.Text, nullable=False),
    sa.Column("example", sa.Text, nullable=False),
    sa.Column("default_fields", sa.Text, nullable=False),
    sa.Column("trigger_on_change", sa.String(200), nullable=True),
    sa.Column("trigger_entity", sa.String(100), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# The last seen value of each watched field of each entity: the memory behind
# "fires only when the field changes". One row per (entity, watched field).
entity_fields = sa.Table(
    "entity_fields",
    metadata,
    sa.Column(
        "tenant_id",
        Id,
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("kind", sa.String(100), primary_key=True),
    sa.Column("entity_id", sa.String(250), primary_key=True),
    sa.Column("field", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

auth_methods = sa.Table(
    "auth_methods",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    # The whole method, secrets included, encrypted; ``public`` is what the API shows.
    sa.Column("config_enc", sa.Text, nullable=False),
    sa.Column("public", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "name"),
)

# Bringg's acknowledgement ID mapping: the external system's delivery_id for an order
# (the event's tracking id, else its data's ``id``), per subscription.
delivery_mappings = sa.Table(
    "delivery_mappings",
    metadata,
    sa.Column(
        "tenant_id",
        Id,
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("order_key", sa.String(250), primary_key=True),
    sa.Column(
        "webhook_id",
        Id,
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("delivery_id", sa.String(200), nullable=False),
    sa.Column("delivery_cost", sa.Integer, nullable=True),
    sa.Column("green_delivery", sa.Boolean, nullable=True),
    sa.Column("fleet_extras", sa.Text, nullable=True),
    sa.Column("source_delivery_id", Id, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Undelivered Webhooks Reports: requested through the API, built once by a worker.
reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_date", UTCDateTime, nullable=False),
    sa.Column("end_date", UTCDateTime, nullable=False),
    sa.Column("webhook_types", sa.Text, nullable=True),
    sa.Column("keywords", sa.Text, nullable=False),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("callback_url", sa.String(2000), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("row_count", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("notified_at", UTCDateTime, nullable=True),
    sa.Index(None, "status", "created_at"),
    sa.Index(None, "tenant_id", "created_at"),
)

# A built report's CSV, gzip-compressed, in parts of about a megabyte: any api process
# can stream it, and a report of a million rows never sits in one process's memory.
report_parts = sa.Table(
    "report_parts",
    metadata,
    sa.Column("report_id", Id, sa.ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# OAuth 2.0 clients of the API (client-credentials grant), with the scopes they may get.
api_clients = sa.Table(
    "api_clients",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False, unique=True),
    sa.Column("secret_digest", sa.String(64), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.Index(None, "tenant_id"),
)
