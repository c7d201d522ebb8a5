"""JSON in and out with orjson (the fastest JSON encoder for Python)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import AfterValidator
from starlette.responses import Response


def _storable(value: dict[str, Any]) -> dict[str, Any]:
    """Refuse what parses but cannot be stored or sent again: integers beyond 64 bits and
    strings with lone surrogates."""
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"not storable JSON: {exc}") from exc
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_storable)]
"""A JSON object from a request that waypost can store and send byte for byte."""


class Json(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
