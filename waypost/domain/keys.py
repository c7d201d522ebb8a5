"""API keys: how they look, and how they are hashed for storage."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

KEY_PREFIX = "wp_"
_VISIBLE = 12


@dataclass(frozen=True, kw_only=True)
class IssuedKey:
    """A freshly made key: ``plaintext`` is shown once, only ``prefix`` and ``digest`` are kept."""

    plaintext: str
    prefix: str
    digest: str


def digest(plaintext: str) -> str:
    """SHA-256 hex of a key: keys carry 256 random bits, so a fast hash is safe."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def issue_key() -> IssuedKey:
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    return IssuedKey(plaintext=plaintext, prefix=plaintext[:_VISIBLE], digest=digest(plaintext))
