"""Schemathesis hooks that reach the corners of input the default strategies rarely do
(loaded through ``SCHEMATHESIS_HOOKS`` by test_openapi_contract.py).

- every ``date-time`` is drawn from the whole calendar, years 1 to 9999, with offsets
  up to +-23:59 (so that UTC may fall outside years 1 to 9999), or has no zone at all;
- in a query or a JSON body, a URL (``url``, ``auth_url``, ``callback_url``) may become
  a malformed bracketed host, one with CR/LF or a space, an out-of-range port or another
  spelling of a loopback address; a ``limit`` non-ASCII digits; a ``cursor`` a forged
  one; any other string control characters, and any number an integer beyond 64 bits.

On the code before issue 14's fixes, a run of 25 examples an operation finds 500s on
GET /api/v1/deliveries, POST /api/v1/deliveries/replay, GET /api/v1/webhooks and
POST /api/v1/webhooks.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import schemathesis
from hypothesis import strategies as st


def _offset(minutes: int) -> str:
    if minutes == 0:
        return "Z"
    sign = "+" if minutes > 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _cursor(moment: str) -> str:
    raw = json.dumps([moment, "0190f0aa-0000-7000-8000-000000000000"]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


EDGE_TIMES = [
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "2026-11-01T00:00:00",
]
DATE_TIMES = st.sampled_from(EDGE_TIMES) | st.builds(
    lambda moment, offset: moment.isoformat() + offset,
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(_offset) | st.just(""),
)
NASTY_URLS = st.sampled_from(
    [
        "http://[::1/",
        "http://[zzzz]/",
        "http://[127.0.0.1]/",
        "http://exa\r\nmple.com/",
        "http://example.com/a\r\nb",
        "http://example.com/a b",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.0.0.1/",
        "http://127.1/",
        "http://0/",
        "http://example.com:99999/",
        "http://example.com:0/",
    ]
)
NASTY_DIGITS = st.sampled_from(["\u00b9", "\u00b2", "\u2460", "\u0663", "\uff11", "1" * 5000, "+5"])
NASTY_CURSORS = st.sampled_from([*(_cursor(moment) for moment in EDGE_TIMES), "!!!", "\u00e9"])
NASTY_STRINGS = st.sampled_from(["a\r\nb", "a\x00b", "\x7f", " ", "\u2028", "\u00b9", *EDGE_TIMES])
BIG_INTEGERS = st.sampled_from([10**30, 2**64, -(2**63) - 1])
_TARGETED = {"url": NASTY_URLS, "auth_url": NASTY_URLS, "callback_url": NASTY_URLS}
_TARGETED |= {"limit": NASTY_DIGITS, "cursor": NASTY_CURSORS}


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """``(path, leaf)`` of every string and number in a JSON value."""
    if isinstance(value, dict):
        return [leaf for key, child in value.items() for leaf in _leaves(child, (*path, key))]
    if isinstance(value, list):
        return [leaf for at, child in enumerate(value) for leaf in _leaves(child, (*path, at))]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [(path, value)]
    return []


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    return [_replaced(item, rest, new) if at == head else item for at, item in enumerate(value)]


def _with_one_nasty_leaf(value: Any) -> st.SearchStrategy[Any]:
    """``value`` as generated, or with one leaf swapped: a leaf named like a URL, a limit
    or a cursor for its own kind of trouble, any other for control characters (strings)
    or integers beyond 64 bits (numbers)."""
    leaves = _leaves(value)
    targeted = [(path, _TARGETED[path[-1]]) for path, _ in leaves if path and path[-1] in _TARGETED]
    others = [
        (path, NASTY_STRINGS if isinstance(old, str) else BIG_INTEGERS) for path, old in leaves
    ]
    choices = [st.just(value)]
    for pool in (targeted, others):
        if pool:
            choices.append(
                st.sampled_from(pool).flatmap(
                    lambda chosen: chosen[1].map(lambda new: _replaced(value, chosen[0], new))
                )
            )
    return st.one_of(choices)


schemathesis.openapi.format("date-time", DATE_TIMES)


@schemathesis.hook
def flatmap_query(context: Any, query: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    return _with_one_nasty_leaf(query) if query else st.just(query)


@schemathesis.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
    return _with_one_nasty_leaf(body) if isinstance(body, dict | list) else st.just(body)
