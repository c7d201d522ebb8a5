"""Named outbound authentication methods, encrypted at rest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from waypost.domain.auth import (
    AuthMethod,
    JwtMethod,
    public_view,
    to_document,
)
from waypost.domain.ids import new_id
from waypost.domain.models import StoredAuthMethod
from waypost.errors import Conflict, ConstraintViolated, NotFound
from waypost.store import schema as t
from waypost.store.core import StoreCore, active, dumps, valid_id
from waypost.store.rows import as_auth_method, as_stored_auth_method

m = t.auth_methods


class AuthMethodQueries(StoreCore):
    async def create_auth_method(
        self, *, tenant_id: str, name: str, method: AuthMethod, now: datetime
    ) -> StoredAuthMethod:
        method_id = new_id()
        try:
            async with self._write() as connection:
                await connection.execute(
                    m.insert().values(
                        id=method_id,
                        tenant_id=tenant_id,
                        name=name,
                        kind=_kind(method),
                        config_enc=self._box.seal(dumps(to_document(method))),
                        public=dumps(public_view(method)),
                        created_at=now,
                        updated_at=now,
                    )
                )
        except ConstraintViolated as exc:
            raise Conflict(f"name: an auth method named {name!r} exists") from exc
        return _view(method_id, name, method, created_at=now, updated_at=now)

    async def list_auth_methods(self, *, tenant_id: str) -> list[StoredAuthMethod]:
        query = m.select().where(m.c.tenant_id == tenant_id).order_by(m.c.created_at, m.c.id)
        async with self._read() as connection:
            return [as_stored_auth_method(row) for row in await connection.execute(query)]

    async def get_auth_method(self, *, tenant_id: str, method_id: str) -> StoredAuthMethod:
        async with self._read() as connection:
            return as_stored_auth_method(await _row(connection, tenant_id, method_id))

    async def auth_method(self, *, tenant_id: str, method_id: str) -> AuthMethod:
        """The method with its secrets, for updating it."""
        async with self._read() as connection:
            row = await _row(connection, tenant_id, method_id)
        return as_auth_method(row, self._box)

    async def update_auth_method(
        self, *, tenant_id: str, method_id: str, name: str, method: AuthMethod, now: datetime
    ) -> StoredAuthMethod:
        try:
            async with self._write() as connection:
                row = await _row(connection, tenant_id, method_id)
                await connection.execute(
                    m.update()
                    .where(m.c.id == method_id)
                    .values(
                        name=name,
                        kind=_kind(method),
                        config_enc=self._box.seal(dumps(to_document(method))),
                        public=dumps(public_view(method)),
                        updated_at=now,
                    )
                )
        except ConstraintViolated as exc:
            raise Conflict(f"name: an auth method named {name!r} exists") from exc
        return _view(method_id, name, method, created_at=row.created_at, updated_at=now)

    async def delete_auth_method(self, *, tenant_id: str, method_id: str, now: datetime) -> None:
        """Delete a method; 409 while an active subscription uses it."""
        async with self._write() as connection:
            await _row(connection, tenant_id, method_id)
            user = (
                await connection.execute(
                    sa.select(t.webhooks.c.id)
                    .where(t.webhooks.c.auth_method_id == method_id, active(now))
                    .limit(1)
                )
            ).first()
            if user is not None:
                raise Conflict(
                    f"auth method {method_id} is used by webhook {user.id}; "
                    "change or delete that subscription first"
                )
            await connection.execute(m.delete().where(m.c.id == method_id))

    async def auth_methods_by_id(self, method_ids: list[str]) -> dict[str, AuthMethod]:
        """Methods with their secrets, for sending."""
        if not method_ids:
            return {}
        async with self._read() as connection:
            rows = await connection.execute(m.select().where(m.c.id.in_(method_ids)))
            return {row.id: as_auth_method(row, self._box) for row in rows}


async def _row(connection: Any, tenant_id: str, method_id: str) -> Any:
    row = None
    if valid_id(method_id):
        row = (
            await connection.execute(
                m.select().where(m.c.id == method_id, m.c.tenant_id == tenant_id)
            )
        ).first()
    if row is None:
        raise NotFound(f"auth method {method_id} not found")
    return row


def _view(
    method_id: str, name: str, method: AuthMethod, *, created_at: datetime, updated_at: datetime
) -> StoredAuthMethod:
    return StoredAuthMethod(
        id=method_id,
        name=name,
        kind=_kind(method),
        public=public_view(method),
        created_at=created_at,
        updated_at=updated_at,
    )


def _kind(method: AuthMethod) -> str:
    return "jwt" if isinstance(method, JwtMethod) else "oauth2"
