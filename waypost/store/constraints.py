"""The database's integrity errors as waypost's ``ConstraintViolated``, where they enter.

A unique key, foreign key or NOT NULL violation reaches the store as SQLAlchemy's
``IntegrityError`` on either database. The store's operations that expect one (a
duplicate e-mail, an auth method's name, an idempotency key stored by a concurrent
request) catch ``ConstraintViolated`` and say what clashed; any other is answered 409.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from waypost.errors import ConstraintViolated


def violated(exc: IntegrityError) -> ConstraintViolated:
    """The error to raise ``from exc``. Its reason names the driver's error class only:
    the driver's message quotes the values of the clashing key."""
    orig = exc.orig
    cause = type(getattr(orig, "__cause__", None) or orig or exc).__name__
    return ConstraintViolated(f"the database refused a write that breaks a constraint: {cause}")
