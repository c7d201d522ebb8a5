"""JSON request bodies whose numbers are stored and sent exactly as they were posted.

orjson, which parses every JSON body, reads an integer beyond 64 bits as a float
(``1000000000000000000000000000000`` would be stored as ``1e+30``), and refuses
``NaN``, ``Infinity``, ``-Infinity`` and numbers beyond a double (``1e400``) only as
malformed JSON; the standard library takes them all (and orjson would write a NaN back
as ``null``). None of them can reach a receiver unchanged, so all are refused, naming
where they are: integers must lie between -2**63 and 2**64 - 1 (signed or unsigned 64
bits, which orjson keeps exactly); anything larger belongs in a string. Fractions are
doubles, as JSON parsers everywhere read them.

The check is cheap because a number out of range needs many digits: one pass of
``bytes.translate`` (about a third of orjson's own parse) turns every digit into ``0``
and what may come just before a number (``:``, ``,``, ``[``, ``-``, whitespace) into
``:``, and a number of 19 digits or more (the shortest integer out of range,
-9223372036854775809, has 19) then shows as ``:`` and 19 zeros. Digits inside a string
(a barcode, a tracking number) follow a quote or a letter, so they rarely do. Only a
body that shows one is parsed again, by the standard library, whose integers are exact,
to tell where it is; and only a malformed body with ``NaN`` or ``Infinity`` in it, or a
number orjson found too large, is parsed again to say where that is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import orjson

from waypost.errors import ValidationFailed

INT_MIN = -(2**63)
INT_MAX = 2**64 - 1
_SCAN = bytes.maketrans(b"0123456789,[- \t\r\n", b"0" * 10 + b":" * 7)
_LONG_DIGITS = b"0" * len(str(INT_MIN)[1:])
_LONG_NUMBER = b":" + _LONG_DIGITS


def parse_json(body: bytes) -> Any:
    """``body`` parsed; ``ValidationFailed`` naming where a number cannot be kept exactly,
    ``orjson.JSONDecodeError`` (a ``json.JSONDecodeError``) if it is not JSON."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if b"NaN" in body or b"Infinity" in body or "infinity" in exc.msg:
            _explain_malformed(body)
        raise
    scanned = body.translate(_SCAN)
    if _LONG_NUMBER in scanned or scanned.startswith(_LONG_DIGITS):
        try:
            exact = json.loads(body)
        except RecursionError as exc:
            # orjson allows 1,024 levels, the standard library about as many as the stack.
            raise ValidationFailed("body: nested too deeply to check its numbers") from exc
        _refuse_inexact(exact)
    return value


def _explain_malformed(body: bytes) -> None:
    """A body orjson refused may still be JSON to the standard library, with a NaN or an
    Infinity in it: then the refusal says where; else orjson's error stands."""
    try:
        lenient = json.loads(body)
    except (ValueError, RecursionError):
        return
    _refuse_inexact(lenient)


def _refuse_inexact(value: Any) -> None:
    """Raise ``ValidationFailed`` at the first number in ``value`` JSON cannot carry."""
    pending: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, dict):
            pending.extend(((*path, key), child) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            pending.extend(
                ((*path, index), child) for index, child in reversed(list(enumerate(item)))
            )
        elif isinstance(item, int) and not INT_MIN <= item <= INT_MAX:
            raise ValidationFailed(
                f"{location(path)}: integer beyond 64 bits (from {INT_MIN} to {INT_MAX}); "
                "send it as a string"
            )
        elif isinstance(item, float) and math.isnan(item):
            raise ValidationFailed(f"{location(path)}: NaN is not a JSON number")
        elif isinstance(item, float) and math.isinf(item):
            raise ValidationFailed(
                f"{location(path)}: Infinity, or a number too large for a double, "
                "is not a JSON number"
            )


MAX_NAME = 64
"""Longest key named in a reason: a key is the client's own text, up to the whole body (a
10 MB unknown key came back as a 10 MB reason)."""


def location(path: Sequence[str | int]) -> str:
    """``("events", 0, "data", "id")`` → ``events[0].data.id``; the root is ``body``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = str(part)
            name = name if len(name) <= MAX_NAME else name[:MAX_NAME] + "..."
            text += f".{name}" if text else name
    return text or "body"
