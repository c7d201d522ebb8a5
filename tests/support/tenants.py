"""Tenants made straight through the store, with their credentials in plain text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from waypost.domain.keys import issue_key
from waypost.domain.passwords import hash_password
from waypost.store import Store


@dataclass(frozen=True, kw_only=True)
class TenantCredentials:
    tenant_id: str
    email: str
    password: str
    api_key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def make_tenant(
    store: Store, name: str = "acme", email: str | None = None
) -> TenantCredentials:
    key = issue_key()
    email = email or f"{name}-{key.prefix[3:]}@example.com"
    password = "correct horse battery"
    tenant, _user, api_key = await store.create_tenant(
        name=name,
        email=email,
        password_hash=hash_password(password),
        key_prefix=key.prefix,
        key_digest=key.digest,
        now=datetime.now(UTC),
    )
    return TenantCredentials(
        tenant_id=tenant.id,
        email=email.lower(),
        password=password,
        api_key=key.plaintext,
        key_id=api_key.id,
    )
