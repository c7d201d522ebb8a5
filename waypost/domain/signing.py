"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

``webhook-signature`` is ``v1,<base64 HMAC-SHA256>`` over ``"{id}.{timestamp}.{body}"``,
keyed with the base64-decoded part of a ``whsec_`` secret. During a rotation both the
new and the old secret sign, space-separated, so receivers can switch at leisure.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Sequence

from waypost.errors import ValidationFailed

PREFIX = "whsec_"


def generate_secret(random_bytes: bytes | None = None) -> str:
    """A new ``whsec_`` secret of 32 random bytes."""
    return PREFIX + base64.b64encode(random_bytes or os.urandom(32)).decode()


def _key(secret: str) -> bytes:
    try:
        key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except binascii.Error as exc:
        raise ValidationFailed("secret: not base64 after whsec_") from exc
    return key


def validate_secret(secret: str) -> None:
    if not secret.startswith(PREFIX):
        raise ValidationFailed("secret: must start with whsec_")
    if not 24 <= len(_key(secret)) <= 64:
        raise ValidationFailed("secret: must hold 24 to 64 bytes")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret given."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets),
    }
