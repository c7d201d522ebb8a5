"""Log lines as JSON objects (``WAYPOST_LOG_FORMAT=json``) or, by default, as text.

waypost's log messages are written as ``event key=value ...`` (``attempt_recorded
delivery_id=... attempt=2 status_code=503``), so the JSON formatter needs no change to
any call: the first word is the ``event`` and each ``key=value`` becomes a field. Lines
of other libraries (uvicorn's) keep their text in ``message`` under ``event: "log"``.
Messages never carry secrets in the first place: that is the rule for every log call,
whatever the format.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import orjson
from uvicorn.config import LOGGING_CONFIG

from waypost.config import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_EVENT = re.compile(r"[a-z][a-z0-9_]*")
# A field starts at a space followed by ``name=``; its value runs to the next field.
_FIELD = re.compile(r" ([a-z_][a-z0-9_]*)=")
_NUMBERS = frozenset({"attempt", "status_code", "duration_ms", "count", "port"})


def fields_of(message: str) -> dict[str, Any]:
    """``event key=value ...`` as a dict; a message of another shape as ``message``."""
    event, _, rest = message.partition(" ")
    if not _EVENT.fullmatch(event) or (rest and not rest.partition("=")[0].isidentifier()):
        return {"event": "log", "message": message}
    found: dict[str, Any] = {"event": event}
    rest = " " + rest
    names = list(_FIELD.finditer(rest))
    for index, name in enumerate(names):
        end = names[index + 1].start() if index + 1 < len(names) else len(rest)
        found[name.group(1)] = _value(name.group(1), rest[name.end() : end])
    return found


def _value(name: str, text: str) -> Any:
    if text == "None":
        return None
    if name in _NUMBERS:
        try:
            return float(text) if "." in text else int(text)
        except ValueError:
            return text
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``event`` and the fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            **fields_of(record.getMessage()),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure_logging(settings: Settings) -> None:
    """The root logger's one handler, in the format ``settings`` asks for."""
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def uvicorn_log_config(settings: Settings) -> dict[str, Any] | None:
    """uvicorn's own handlers for text; none for JSON, so its lines reach the root's."""
    return None if settings.log_format == "json" else LOGGING_CONFIG
