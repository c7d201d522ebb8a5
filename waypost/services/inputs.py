"""Field types of request bodies and query strings shared by several routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator

from waypost.domain.times import to_utc

Instant = Annotated[datetime, AfterValidator(to_utc)]
"""An ISO 8601 time with a zone, as UTC; without a zone, or beyond what the databases
store, it is a 400 naming the field."""
