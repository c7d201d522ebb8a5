"""Tenants, their users and their API keys."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from waypost.domain.ids import new_id
from waypost.domain.models import ApiKey, Principal, Tenant, User
from waypost.errors import Conflict, ConstraintViolated, NotFound
from waypost.store import schema as t
from waypost.store.core import StoreCore, valid_id
from waypost.store.engine import Connection
from waypost.store.rows import as_api_key, as_principal, as_tenant, as_user


class AccountQueries(StoreCore):
    async def create_tenant(
        self,
        *,
        name: str,
        email: str,
        password_hash: str,
        key_prefix: str,
        key_digest: str,
        now: datetime,
    ) -> tuple[Tenant, User, ApiKey]:
        """A tenant, its first admin user and that user's first API key, all or nothing."""
        tenant = Tenant(id=new_id(), name=name, created_at=now)
        user = User(
            id=new_id(),
            tenant_id=tenant.id,
            email=email.lower(),
            password_hash=password_hash,
            is_admin=True,
            created_at=now,
        )
        try:
            async with self._write() as connection:
                await connection.execute(
                    t.tenants.insert(), {"id": tenant.id, "name": name, "created_at": now}
                )
                await connection.execute(
                    t.users.insert(),
                    {
                        "id": user.id,
                        "tenant_id": tenant.id,
                        "email": user.email,
                        "password_hash": password_hash,
                        "is_admin": True,
                        "created_at": now,
                    },
                )
                key = await self._insert_key(
                    connection, tenant.id, user.id, "initial", key_prefix, key_digest, now
                )
        except ConstraintViolated as exc:
            raise Conflict(f"a user with e-mail {user.email} already exists") from exc
        return tenant, user, key

    async def _insert_key(
        self,
        connection: Connection,
        tenant_id: str,
        user_id: str | None,
        name: str,
        prefix: str,
        key_digest: str,
        now: datetime,
    ) -> ApiKey:
        key = ApiKey(
            id=new_id(),
            tenant_id=tenant_id,
            user_id=user_id,
            name=name,
            prefix=prefix,
            created_at=now,
            revoked_at=None,
        )
        await connection.execute(
            t.api_keys.insert(),
            {
                "id": key.id,
                "tenant_id": tenant_id,
                "user_id": user_id,
                "name": name,
                "prefix": prefix,
                "key_hash": key_digest,
                "created_at": now,
            },
        )
        return key

    async def get_tenant(self, tenant_id: str) -> Tenant:
        if not valid_id(tenant_id):
            raise NotFound(f"tenant {tenant_id} not found")
        async with self._read() as connection:
            row = (
                await connection.execute(sa.select(t.tenants).where(t.tenants.c.id == tenant_id))
            ).first()
        if row is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return as_tenant(row)

    async def create_api_key(
        self, *, tenant_id: str, name: str, prefix: str, key_digest: str, now: datetime
    ) -> ApiKey:
        await self.get_tenant(tenant_id)
        async with self._write() as connection:
            admin = (
                await connection.execute(
                    sa.select(t.users.c.id)
                    .where(t.users.c.tenant_id == tenant_id, t.users.c.is_admin.is_(True))
                    .order_by(t.users.c.created_at)
                    .limit(1)
                )
            ).scalar()
            return await self._insert_key(
                connection, tenant_id, admin, name, prefix, key_digest, now
            )

    async def list_api_keys(self, tenant_id: str) -> list[ApiKey]:
        await self.get_tenant(tenant_id)
        async with self._read() as connection:
            rows = await connection.execute(
                sa.select(t.api_keys)
                .where(t.api_keys.c.tenant_id == tenant_id)
                .order_by(t.api_keys.c.created_at)
            )
            return [as_api_key(row) for row in rows]

    async def revoke_api_key(self, *, tenant_id: str, key_id: str, now: datetime) -> ApiKey:
        if not valid_id(key_id):
            raise NotFound(f"API key {key_id} not found")
        async with self._write() as connection:
            await connection.execute(
                t.api_keys.update()
                .where(
                    t.api_keys.c.id == key_id,
                    t.api_keys.c.tenant_id == tenant_id,
                    t.api_keys.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            row = (
                await connection.execute(
                    sa.select(t.api_keys).where(
                        t.api_keys.c.id == key_id, t.api_keys.c.tenant_id == tenant_id
                    )
                )
            ).first()
        if row is None:
            raise NotFound(f"API key {key_id} not found")
        return as_api_key(row)

    async def principal_for_key(self, key_digest: str) -> Principal | None:
        """The caller behind an API key digest, or ``None`` for an unknown or revoked key."""
        async with self._read() as connection:
            row = (
                await connection.execute(
                    sa.select(t.api_keys.c.id, t.api_keys.c.tenant_id, t.api_keys.c.user_id).where(
                        t.api_keys.c.key_hash == key_digest, t.api_keys.c.revoked_at.is_(None)
                    )
                )
            ).first()
        if row is None:
            return None
        return as_principal(row)

    async def user_by_email(self, email: str) -> User | None:
        return await self._user(t.users.c.email == email.strip().lower())

    async def user_by_id(self, *, tenant_id: str, user_id: str) -> User | None:
        """The tenant's user, or ``None`` (also for another tenant's user, or a deleted one)."""
        if not valid_id(user_id):
            return None
        return await self._user(t.users.c.id == user_id, t.users.c.tenant_id == tenant_id)

    async def _user(self, *conditions: sa.ColumnElement[bool]) -> User | None:
        async with self._read() as connection:
            row = (await connection.execute(sa.select(t.users).where(*conditions))).first()
        if row is None:
            return None
        return as_user(row)
