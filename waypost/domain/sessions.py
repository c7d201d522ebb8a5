"""Sign-in tokens of tenant users (Bringg's ``POST /tokens``): signed, expiring, stateless.

Any api process can check one with the key derived from ``WAYPOST_SECRET_KEY``;
nothing is stored, so a token lives until it expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt


@dataclass(frozen=True, kw_only=True)
class Session:
    user_id: str
    tenant_id: str


def issue(key: bytes, session: Session, *, now: datetime, lifetime: timedelta) -> str:
    claims = {
        "sub": session.user_id,
        "tid": session.tenant_id,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "typ": "session",
    }
    return jwt.encode(claims, key, algorithm="HS256")


def read(key: bytes, token: str) -> Session | None:
    """The session a token stands for, or ``None`` if it is expired, altered or not one."""
    try:
        claims = jwt.decode(token, key, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != "session":
        return None
    return Session(user_id=str(claims["sub"]), tenant_id=str(claims["tid"]))
