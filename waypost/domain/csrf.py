"""CSRF tokens of the dashboard's forms: an HMAC of what the browser's cookie holds.

A form's token is bound to the session token (or, before sign-in, to a random
nonce in its own cookie), so a page of another site, which can make the
browser send the cookie but cannot read it, cannot produce the token.
"""

from __future__ import annotations

import hashlib
import hmac


def csrf_token(key: bytes, binding: str) -> str:
    """The token a form carries for the cookie value ``binding``."""
    return hmac.new(key, binding.encode(), hashlib.sha256).hexdigest()


def csrf_valid(key: bytes, binding: str | None, given: str | None) -> bool:
    """Whether ``given`` is the token of ``binding``; false when either is missing."""
    if not binding or not given:
        return False
    return hmac.compare_digest(csrf_token(key, binding), given)
