"""Secrets at rest: Fernet encryption with the key from ``WAYPOST_SECRET_KEY``.

On SQLite, a missing key is generated once and kept in a file beside the
database (mode 0600) with a warning, so ``make run`` works out of the box; on
PostgreSQL the key must be set, because every api and worker host needs the
same one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from waypost.config import Settings
from waypost.errors import ConfigurationError, StoreError

log = logging.getLogger(__name__)


class SecretBox:
    """Encrypts and decrypts the secrets waypost stores (header values, auth secrets)."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()
        try:
            self._fernet = Fernet(self._key)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                "WAYPOST_SECRET_KEY: not a Fernet key (urlsafe base64 of 32 bytes); "
                "make one with `waypost secret-key`"
            ) from exc

    def derive(self, purpose: str) -> bytes:
        """A key for ``purpose`` (e.g. signing links), derived so it reveals nothing of
        the encryption key and differs per purpose."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).digest()

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise StoreError(
                "a stored secret cannot be decrypted: WAYPOST_SECRET_KEY is not the key it "
                "was written with"
            ) from exc


def new_secret_key() -> str:
    return Fernet.generate_key().decode()


def _key_file(database_url: str) -> Path:
    database = Path(database_url.split(":///", 1)[1])
    return database.with_name(database.name + ".secret-key")


def load_secret_box(settings: Settings) -> SecretBox:
    """The box for ``settings``: the configured key, or on SQLite the stored/generated one."""
    if settings.secret_key:
        return SecretBox(settings.secret_key)
    if not settings.is_sqlite:
        raise ConfigurationError(
            "WAYPOST_SECRET_KEY is required with PostgreSQL (every host needs the same key); "
            "make one with `waypost secret-key`"
        )
    path = _key_file(settings.database_url)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(new_secret_key())
        log.warning("secret_key_generated path=%s (set WAYPOST_SECRET_KEY to manage it)", path)
    return SecretBox(path.read_text().strip())
