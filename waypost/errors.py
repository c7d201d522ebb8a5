"""The one exception tree of waypost.

Everything waypost raises on purpose derives from ``WaypostError``; driver and
HTTP-library errors are wrapped where they enter (``raise ... from exc``). The
API turns each class into Event Cast's error body ``{"uuid", "status",
"reason"}`` with the class's ``status``.

    WaypostError                 500
    ├── ValidationFailed         400  bad input, the reason names the field
    ├── AuthenticationFailed     401  missing, wrong or mismatched credential
    ├── Forbidden                403  authenticated, but lacking a scope
    │   └── LinkRefused          403  a report's download link expired, was altered, or
    │                                 is for another report
    ├── NotFound                 404  unknown id, or another tenant's
    ├── Conflict                 409  duplicate subscription, object in use
    │   └── ConstraintViolated   409  the database refused a write that breaks one of its
    │                                 constraints (a key stored already); the store's
    │                                 operations that expect one say which
    ├── RateLimited              429  a tenant exceeded a limit
    ├── ConfigurationError       500  bad settings (raised at start-up)
    ├── StoreError               500  the database failed
    │   └── DatabaseUnavailable  503  the database cannot be reached or the connection was
    │                                 lost: try again after ``retry_after`` seconds
    ├── Unsendable               500  a stored subscription or auth method cannot make a
    │                                 request (saved before a rule refused it): the
    │                                 attempt fails with the reason, never an API answer
    └── TokenUnavailable         500  an OAuth2 token endpoint gave no token: the attempt
                                      is retried, never an API answer

A class with a ``retry_after`` also sends it as the ``Retry-After`` header.
"""

from __future__ import annotations


class WaypostError(Exception):
    """Root of every error waypost raises on purpose."""

    status: int = 500
    retry_after: int | None = None

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ValidationFailed(WaypostError):
    status = 400


class AuthenticationFailed(WaypostError):
    status = 401


class Forbidden(WaypostError):
    status = 403


class LinkRefused(Forbidden):
    """The reason says whether the link expired or is not valid, and nothing more."""


class NotFound(WaypostError):
    status = 404


class Conflict(WaypostError):
    status = 409


class ConstraintViolated(Conflict):
    """Raised by the store for the database's integrity errors, most often a unique key
    that another write stored first (a race no check before it can rule out)."""


class RateLimited(WaypostError):
    status = 429

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class ConfigurationError(WaypostError):
    status = 500


class StoreError(WaypostError):
    status = 500


class DatabaseUnavailable(StoreError):
    """Down, restarting, refusing connections, out of connections, or locked by another
    process: nothing is wrong with the request, and the same request can succeed later."""

    status = 503
    retry_after = 2


class Unsendable(WaypostError):
    """The reason names the field or header at fault, never a header value."""

    status = 500


class TokenUnavailable(WaypostError):
    """The token endpoint did not give a token; the reason names it and why."""

    status = 500
