"""Input shared by both HTTP edges: field types of request bodies and query strings, and
the wording of pydantic's errors, for the API's 400s and the dashboard's form errors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator

from waypost.domain.json_numbers import location
from waypost.domain.times import to_utc

Instant = Annotated[datetime, AfterValidator(to_utc)]
"""An ISO 8601 time with a zone, as UTC; without a zone, or beyond what the databases
store, it is a 400 naming the field."""


def _location(loc: Sequence[Any]) -> str:
    """``("body", "configuration", "headers", 0, "key")`` → ``configuration.headers[0].key``."""
    return location(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)


def validation_reason(errors: Sequence[Any]) -> str:
    """The first of pydantic's ``errors()`` as ``field.path: message``."""
    first = errors[0]
    if first.get("type") == "json_invalid":
        return "malformed JSON body"
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{_location(first.get('loc', ()))}: {message}"
