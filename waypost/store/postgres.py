"""PostgreSQL specifics: advisory locks and ``FOR UPDATE SKIP LOCKED`` claims."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from waypost.store.base import Store
from waypost.store.engine import Connection


class PostgresStore(Store):
    async def _lock_subscription_keys(
        self, connection: Connection, tenant_id: str, tracking_keys: Sequence[str], url: str
    ) -> None:
        # Two api processes creating the same subscription at once must not both pass the
        # duplicate check; the locks are held until the transaction ends, and taken in
        # sorted order so two overlapping batches cannot deadlock.
        keys = sorted(f"{tenant_id}|{key}|{url}" for key in tracking_keys)
        await connection.execute(
            sa.text(
                "SELECT count(pg_advisory_xact_lock(hashtext(key))) "
                "FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS k(key, n)"
            ),
            {"keys": keys},
        )

    def _due_ids(self, limit: int, now: datetime) -> sa.ScalarSelect[Any]:
        # SKIP LOCKED: concurrent workers each take different rows instead of queueing.
        return self._due_select(limit, now).with_for_update(skip_locked=True).scalar_subquery()
