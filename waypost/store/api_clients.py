"""OAuth 2.0 clients of the API: their secrets only as digests, like API keys."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from waypost.domain.ids import new_id
from waypost.domain.models import ApiClient
from waypost.errors import NotFound
from waypost.store import schema as t
from waypost.store.core import StoreCore, dumps, valid_id
from waypost.store.rows import as_api_client

c = t.api_clients


class ApiClientQueries(StoreCore):
    async def create_api_client(
        self,
        *,
        tenant_id: str,
        client_id: str,
        secret_digest: str,
        name: str,
        scopes: tuple[str, ...],
        now: datetime,
    ) -> ApiClient:
        client = ApiClient(
            id=new_id(),
            tenant_id=tenant_id,
            client_id=client_id,
            secret_digest=secret_digest,
            name=name,
            scopes=scopes,
            created_at=now,
            revoked_at=None,
        )
        async with self._write() as connection:
            await connection.execute(
                c.insert().values(
                    id=client.id,
                    tenant_id=tenant_id,
                    client_id=client_id,
                    secret_digest=secret_digest,
                    name=name,
                    scopes=dumps(scopes),
                    created_at=now,
                )
            )
        return client

    async def api_client(self, client_id: str) -> ApiClient | None:
        """An active client by its client id, for the token endpoint."""
        async with self._read() as connection:
            row = (
                await connection.execute(
                    c.select().where(c.c.client_id == client_id, c.c.revoked_at.is_(None))
                )
            ).first()
        return as_api_client(row) if row is not None else None

    async def list_api_clients(self, *, tenant_id: str) -> list[ApiClient]:
        query = c.select().where(c.c.tenant_id == tenant_id).order_by(c.c.created_at, c.c.id)
        async with self._read() as connection:
            return [as_api_client(row) for row in await connection.execute(query)]

    async def revoke_api_client(self, *, tenant_id: str, client_uuid: str, now: datetime) -> None:
        done = None
        if valid_id(client_uuid):
            async with self._write() as connection:
                done = await connection.execute(
                    c.update()
                    .where(c.c.id == client_uuid, c.c.tenant_id == tenant_id)
                    .values(revoked_at=sa.func.coalesce(c.c.revoked_at, now))
                )
        if done is None or done.rowcount == 0:
            raise NotFound(f"API client {client_uuid} not found")
