"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

``webhook-signature`` is ``v1,<base64 HMAC-SHA256>`` over ``"{id}.{timestamp}.{body}"``,
keyed with the base64-decoded part of a ``whsec_`` secret. During a rotation both the
new and the old secret sign, space-separated, so receivers can switch at leisure.
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Sequence
from functools import lru_cache

PREFIX = "whsec_"


def generate_secret(random_bytes: bytes | None = None) -> str:
    """A new ``whsec_`` secret of 32 random bytes."""
    return PREFIX + base64.b64encode(random_bytes or os.urandom(32)).decode()


@lru_cache(maxsize=4096)
def _key(secret: str) -> bytes:
    """Decoded once per secret: every delivery to a subscription is signed with its key."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    # hmac.digest is OpenSSL's one-shot HMAC: no Python HMAC object per signature.
    digest = hmac.digest(_key(secret), signed, "sha256")
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
