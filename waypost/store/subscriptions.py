"""Webhook subscriptions and the routing index beside them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from waypost.domain.ids import new_id
from waypost.domain.models import (
    Header,
    ListedSubscription,
    SendTarget,
    Subscription,
    SubscriptionSpec,
)
from waypost.errors import Conflict, NotFound
from waypost.store import schema as t
from waypost.store.core import StoreCore, active, dumps, valid_id
from waypost.store.engine import Connection
from waypost.store.rows import as_send_target, as_subscription

LIST_PAGE = 1000
"""Rows per page of a listing: each page is one await, and one chunk of the response."""


class SubscriptionQueries(StoreCore):
    async def create_subscriptions(
        self,
        *,
        tenant_id: str,
        authenticator: str,
        specs: Sequence[SubscriptionSpec],
        now: datetime,
    ) -> list[Subscription]:
        """Create every subscription in ``specs`` or none (409 if one duplicates an active one).

        The specs of one call share url and event topics (one API request), so the
        duplicate check is one indexed query for the whole batch.
        """
        if not specs:
            return []
        created = [_new_subscription(tenant_id, authenticator, spec, now) for spec in specs]
        async with self._write() as connection:
            await self._check_duplicates(connection, tenant_id, specs, now)
            await connection.execute(
                t.webhooks.insert(),
                [
                    self._subscription_values(sub, spec)
                    for sub, spec in zip(created, specs, strict=True)
                ],
            )
            await connection.execute(
                t.webhook_topics.insert(),
                [
                    {
                        "webhook_id": sub.id,
                        "topic": topic,
                        "tenant_id": tenant_id,
                        "tracking_key": spec.tracking_id or "",
                    }
                    for sub, spec in zip(created, specs, strict=True)
                    for topic in _topics(spec)
                ],
            )
        return created

    async def _check_duplicates(
        self,
        connection: Connection,
        tenant_id: str,
        specs: Sequence[SubscriptionSpec],
        now: datetime,
    ) -> None:
        url, topics = specs[0].url, _topics(specs[0])
        if any(spec.url != url or _topics(spec) != topics for spec in specs):
            raise ValueError("one create call takes specs of one url and one set of topics")
        tracking_keys = sorted({spec.tracking_id or "" for spec in specs})
        await self._dialect.lock_subscription_keys(connection, tenant_id, tracking_keys, url)
        clash = (
            await connection.execute(
                sa.select(t.webhooks.c.id, t.webhook_topics.c.tracking_key)
                .join(t.webhook_topics, t.webhook_topics.c.webhook_id == t.webhooks.c.id)
                .where(
                    t.webhook_topics.c.tenant_id == tenant_id,
                    t.webhook_topics.c.tracking_key.in_(tracking_keys),
                    t.webhook_topics.c.topic.in_(topics),
                    t.webhooks.c.url == url,
                    active(now),
                )
                .limit(1)
            )
        ).first()
        if clash is not None:
            raise Conflict(
                f"Webhook of similar subscription already exists: {clash.id} "
                f"(trackingId {clash.tracking_key or '(any)'}, same url and an event group "
                "in common)"
            )

    def _subscription_values(
        self, subscription: Subscription, spec: SubscriptionSpec
    ) -> dict[str, Any]:
        headers = [{"key": header.key, "value": header.value} for header in spec.headers]
        return {
            "id": subscription.id,
            "tenant_id": subscription.tenant_id,
            "authenticator": subscription.authenticator,
            "tracking_id": subscription.tracking_id,
            "url": subscription.url,
            "content_type": subscription.content_type,
            "header_keys": dumps(subscription.header_keys),
            "headers_enc": self._box.seal(dumps(headers)),
            "event_groups": dumps(subscription.event_groups),
            "event_types": dumps(subscription.event_types),
            "filters": dumps(subscription.filters) if subscription.filters else None,
            "fields": dumps(subscription.fields) if subscription.fields is not None else None,
            "auth_method_id": subscription.auth_method_id,
            "success_codes": subscription.success_codes,
            "retry_delays": (
                dumps(subscription.retry_delays) if subscription.retry_delays is not None else None
            ),
            "retry_jitter": subscription.retry_jitter,
            "require_ack": subscription.require_ack,
            "send_traceparent": subscription.send_traceparent,
            "secret_enc": self._box.seal(spec.secret),
            "created_at": subscription.created_at,
            "expires_at": subscription.expires_at,
        }

    async def iter_subscriptions(
        self, *, tenant_id: str, limit: int, now: datetime
    ) -> AsyncIterator[Subscription]:
        """Active subscriptions, newest first, streamed so memory stays flat for 150,000."""
        query = (
            sa.select(*_SUBSCRIPTION_COLUMNS)
            .where(t.webhooks.c.tenant_id == tenant_id, active(now))
            .order_by(t.webhooks.c.created_at.desc(), t.webhooks.c.id.desc())
            .limit(limit)
            .execution_options(yield_per=1000)
        )
        async with self._read() as connection:
            result = await connection.stream(query)
            # A page per await, not a row: each await of the stream is a greenlet switch.
            async for page in result.partitions(1000):
                for row in page:
                    yield as_subscription(row)

    async def list_subscriptions(
        self, *, tenant_id: str, limit: int, now: datetime, fields: Sequence[str]
    ) -> AsyncIterator[Sequence[ListedSubscription]]:
        """Active subscriptions, newest first, a page of rows at a time: memory stays flat
        for 150,000. Each row holds the raw values of ``fields`` (``Subscription``'s
        attribute names: which ones, and in what order, is the API's choice) in their
        order: ids and times as text made by the database, since their Python type
        processors were most of the listing's time per row, the times UTC and beginning
        ``YYYY-MM-DD HH:MM:SS``; JSON as its stored text, NULL or empty for none; every
        other value as ``Subscription`` holds it."""
        c = t.webhooks.c
        query = (
            sa.select(*(self._listed_column(name) for name in fields))
            .where(c.tenant_id == tenant_id, active(now))
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(limit)
            .execution_options(yield_per=LIST_PAGE)
        )
        async with self._read() as connection:
            result = await connection.stream(query)
            async for page in result.partitions(LIST_PAGE):
                # SQLAlchemy's rows, which unpack as the tuples they are typed as here.
                yield cast(Sequence[ListedSubscription], page)

    def _listed_column(self, name: str) -> sa.ColumnElement[Any]:
        """The column a listing reads for a ``Subscription`` attribute, by its type."""
        column = _LISTABLE_COLUMNS.get(name)
        if column is None:
            raise ValueError(f"a listing has no subscription field {name!r}")
        if isinstance(column.type, sa.Uuid):
            return self._dialect.id_text(column)
        if isinstance(column.type, t.UTCDateTime):
            return self._dialect.utc_text(column)
        return column

    async def get_subscription(
        self, *, tenant_id: str, subscription_id: str, now: datetime
    ) -> Subscription:
        async with self._read() as connection:
            return await self._fetch_subscription(connection, tenant_id, subscription_id, now)

    async def _fetch_subscription(
        self, connection: Connection, tenant_id: str, subscription_id: str, now: datetime
    ) -> Subscription:
        if valid_id(subscription_id):
            row = (
                await connection.execute(
                    sa.select(*_SUBSCRIPTION_COLUMNS).where(
                        t.webhooks.c.id == subscription_id,
                        t.webhooks.c.tenant_id == tenant_id,
                        active(now),
                    )
                )
            ).first()
            if row is not None:
                return as_subscription(row)
        raise NotFound("Webhook not found (not registered?)")

    async def send_target(
        self, *, tenant_id: str, subscription_id: str, now: datetime
    ) -> SendTarget:
        """The subscription with its headers and signing secrets decrypted, for sending."""
        async with self._read() as connection:
            subscription = await self._fetch_subscription(
                connection, tenant_id, subscription_id, now
            )
            row = (
                await connection.execute(
                    sa.select(*_SECRET_COLUMNS)
                    .select_from(_WITH_AUTH)
                    .where(t.webhooks.c.id == subscription_id)
                )
            ).one()
        return as_send_target(subscription, row, self._box, now)

    async def send_targets(
        self, *, subscription_ids: Sequence[str], now: datetime
    ) -> dict[str, SendTarget]:
        """Active subscriptions among ``subscription_ids``, ready to send; ended ones are absent."""
        query = (
            sa.select(*_SUBSCRIPTION_COLUMNS, *_SECRET_COLUMNS)
            .select_from(_WITH_AUTH)
            .where(t.webhooks.c.id.in_(list(subscription_ids)), active(now))
        )
        async with self._read() as connection:
            rows = (await connection.execute(query)).all()
        return {row.id: as_send_target(as_subscription(row), row, self._box, now) for row in rows}

    async def change_auth(
        self,
        *,
        tenant_id: str,
        subscription_id: str,
        auth_method_id: str | None,
        headers: Sequence[Header] | None,
        now: datetime,
        send_traceparent: bool | None = None,
    ) -> Subscription:
        """Set the subscription's auth method (``None``: none), and its static headers
        unless ``headers`` is ``None``, and ``send_traceparent`` unless ``None``."""
        values: dict[str, Any] = {"auth_method_id": auth_method_id}
        if send_traceparent is not None:
            values["send_traceparent"] = send_traceparent
        if headers is not None:
            values["header_keys"] = dumps([header.key for header in headers])
            values["headers_enc"] = self._box.seal(
                dumps([{"key": header.key, "value": header.value} for header in headers])
            )
        async with self._write() as connection:
            await self._fetch_subscription(connection, tenant_id, subscription_id, now)
            await connection.execute(
                t.webhooks.update().where(t.webhooks.c.id == subscription_id).values(**values)
            )
            return await self._fetch_subscription(connection, tenant_id, subscription_id, now)

    async def set_fields(
        self,
        *,
        tenant_id: str,
        subscription_id: str,
        fields: tuple[str, ...] | None,
        now: datetime,
    ) -> Subscription:
        """Change which payload fields a subscription receives; ``None``: the default data."""
        async with self._write() as connection:
            await self._fetch_subscription(connection, tenant_id, subscription_id, now)
            await connection.execute(
                t.webhooks.update()
                .where(t.webhooks.c.id == subscription_id)
                .values(fields=dumps(fields) if fields is not None else None)
            )
            return await self._fetch_subscription(connection, tenant_id, subscription_id, now)

    async def rotate_secret(
        self,
        *,
        tenant_id: str,
        subscription_id: str,
        secret: str,
        previous_until: datetime,
        now: datetime,
    ) -> None:
        """Sign with ``secret`` from now on, and with the current one until ``previous_until``."""
        async with self._write() as connection:
            await self._fetch_subscription(connection, tenant_id, subscription_id, now)
            await connection.execute(
                t.webhooks.update()
                .where(t.webhooks.c.id == subscription_id)
                .values(
                    previous_secret_enc=t.webhooks.c.secret_enc,
                    previous_secret_until=previous_until,
                    secret_enc=self._box.seal(secret),
                )
            )

    async def delete_subscription(
        self, *, tenant_id: str, subscription_id: str, now: datetime
    ) -> Subscription:
        """End a subscription: it is no longer listed, matched or delivered to."""
        async with self._write() as connection:
            subscription = await self._fetch_subscription(
                connection, tenant_id, subscription_id, now
            )
            await self._end_subscriptions(connection, [subscription_id], now)
        return subscription

    async def count_subscriptions(self, *, tenant_id: str, now: datetime) -> int:
        async with self._read() as connection:
            return int(
                (
                    await connection.execute(
                        sa.select(sa.func.count())
                        .select_from(t.webhooks)
                        .where(t.webhooks.c.tenant_id == tenant_id, active(now))
                    )
                ).scalar_one()
            )


_SUBSCRIPTION_COLUMNS = [
    column
    for column in t.webhooks.c
    if column.name
    not in {"headers_enc", "secret_enc", "previous_secret_enc", "previous_secret_until"}
]


# What a listing may read: a subscription's own columns, never its secrets.
_LISTABLE_COLUMNS = {column.name: column for column in _SUBSCRIPTION_COLUMNS}

_SECRET_COLUMNS = (
    t.webhooks.c.headers_enc,
    t.webhooks.c.secret_enc,
    t.webhooks.c.previous_secret_enc,
    t.webhooks.c.previous_secret_until,
    t.auth_methods.c.kind.label("auth_kind"),
    t.auth_methods.c.config_enc.label("auth_config_enc"),
)
_WITH_AUTH = t.webhooks.outerjoin(
    t.auth_methods, t.auth_methods.c.id == t.webhooks.c.auth_method_id
)


def _topics(spec: SubscriptionSpec) -> list[str]:
    return list(dict.fromkeys((*spec.event_groups, *spec.event_types)))


def _new_subscription(
    tenant_id: str, authenticator: str, spec: SubscriptionSpec, now: datetime
) -> Subscription:
    return Subscription(
        id=new_id(),
        tenant_id=tenant_id,
        authenticator=authenticator,
        tracking_id=spec.tracking_id,
        url=spec.url,
        content_type=spec.content_type,
        header_keys=tuple(header.key for header in spec.headers),
        event_groups=spec.event_groups,
        event_types=spec.event_types,
        filters=spec.filters,
        fields=spec.fields,
        auth_method_id=spec.auth_method_id,
        success_codes=spec.success_codes,
        retry_delays=spec.retry_delays,
        retry_jitter=spec.retry_jitter,
        require_ack=spec.require_ack,
        send_traceparent=spec.send_traceparent,
        created_at=now,
        expires_at=spec.expires_at,
        ended_at=None,
    )
