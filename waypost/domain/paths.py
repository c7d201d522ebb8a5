"""Paths into event data, shared by routing filters and field selection.

Grammar: keys joined by ``.`` (``customer.external_id``), ``[N]`` for an array
index (``way_points[0].city``, no negative indexes), ``[*]`` for every element
(``way_points[*].zipcode``, nestable: ``a[*].b[*].c``), ``["any key"]`` for keys
that are not identifiers (``\\"`` and ``\\\\`` escape inside the quotes), and,
for field selection only, a final brace group naming several keys of one object
(``task_inventories[*].{name,quantity}``). A key is ``[A-Za-z_][A-Za-z0-9_-]*``
and a path starts with a key. A parsed path is a tuple of frozen steps, so it
is hashable and compares equal to the same path however it was spelled.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from waypost.errors import ValidationFailed

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_DIGITS = re.compile(r"[0-9]+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Key:
    """``.name`` or ``["name"]``: a key of an object."""

    name: str


@dataclass(frozen=True)
class Index:
    """``[N]``: one element of an array, counted from 0."""

    position: int


@dataclass(frozen=True)
class Every:
    """``[*]``: each element of an array."""


@dataclass(frozen=True)
class Keys:
    """``{a,b}``: several keys of one object (selection only, always last)."""

    names: tuple[str, ...]


Step = Key | Index | Every | Keys
Path = tuple[Step, ...]


def _error(text: str, position: int, expected: str) -> ValidationFailed:
    return ValidationFailed(f"invalid path {text!r} at position {position}: expected {expected}")


def _closing(text: str, position: int) -> int:
    """The position after the ``]`` expected at ``position``."""
    if not text.startswith("]", position):
        raise _error(text, position, "']'")
    return position + 1


def _bracket(text: str, position: int) -> tuple[Step, int]:
    """Parse ``[...]`` starting at the ``[`` at ``position``."""
    inside = position + 1
    if text.startswith("*", inside):
        return Every(), _closing(text, inside + 1)
    if match := _DIGITS.match(text, inside):
        return Index(int(match.group(0))), _closing(text, match.end())
    if match := _QUOTED.match(text, inside):
        return Key(_ESCAPE.sub(r"\1", match.group(1))), _closing(text, match.end())
    if text.startswith('"', inside):
        raise _error(text, len(text), "a closing '\"'")
    if text.startswith("-", inside):
        raise _error(text, inside, "an index of 0 or more (negative indexes are not allowed)")
    raise _error(text, inside, "an index, '*' or a quoted key")


def _braces(text: str, position: int) -> tuple[Keys, int]:
    """Parse the final ``{a,b}`` starting at the ``{`` at ``position``."""
    names: list[str] = []
    cursor = position + 1
    while True:
        while text.startswith(" ", cursor):
            cursor += 1
        match = _IDENTIFIER.match(text, cursor)
        if match is None:
            raise _error(text, cursor, "a key inside {...}")
        names.append(match.group(0))
        cursor = match.end()
        while text.startswith(" ", cursor):
            cursor += 1
        if text.startswith("}", cursor):
            break
        if not text.startswith(",", cursor):
            raise _error(text, cursor, "',' or '}'")
        cursor += 1
    if cursor + 1 != len(text):
        raise _error(text, cursor + 1, "the end of the path after {...}")
    return Keys(tuple(dict.fromkeys(names))), cursor + 1


def _key(text: str, position: int, allow_braces: bool) -> tuple[Step, int]:
    """Parse the key expected at ``position`` (after ``.`` or at the start)."""
    if match := _IDENTIFIER.match(text, position):
        return Key(match.group(0)), match.end()
    if text.startswith("{", position):
        if allow_braces:
            return _braces(text, position)
        raise _error(text, position, "a key ({...} is only allowed in payload fields)")
    if position == len(text) and position:
        raise _error(text, position, "a key after '.'")
    raise _error(text, position, "a key")


def parse_path(text: str, *, allow_braces: bool = False) -> Path:
    """Parse ``text``; a malformed path raises ValidationFailed naming the position.

    ``allow_braces`` admits the final ``{a,b}`` group of field selection.
    """
    if text.startswith('["'):
        first, position = _bracket(text, 0)
    else:
        first, position = _key(text, 0, allow_braces)
    steps: list[Step] = [first]
    while position < len(text):
        if text.startswith(".", position):
            step, position = _key(text, position + 1, allow_braces)
        elif text.startswith("[", position):
            step, position = _bracket(text, position)
        else:
            raise _error(text, position, "'.' or '['")
        steps.append(step)
    return tuple(steps)


def _walk(step: Step, value: Any) -> Iterator[Any]:
    if isinstance(step, Key):
        if isinstance(value, Mapping) and step.name in value:
            yield value[step.name]
    elif isinstance(step, Index):
        if isinstance(value, list) and step.position < len(value):
            yield value[step.position]
    elif isinstance(step, Every):
        if isinstance(value, list):
            yield from value
    elif isinstance(value, Mapping):
        for name in step.names:
            if name in value:
                yield value[name]


def resolve(path: Path, data: Any) -> list[Any]:
    """Every value ``path`` reaches in ``data``, in document order; empty when none.

    A step that does not fit the value (a key of a list, an index of an
    object, anything below a string) reaches nothing rather than raising.
    """
    values = [data]
    for step in path:
        values = [found for value in values for found in _walk(step, value)]
        if not values:
            break
    return values
