"""Conditional routing: a subscription's ``filters``, all of which must hold.

Each condition is ``{field, op, value}``; ``field`` is a path (see ``paths``,
without ``{...}``), ``op`` defaults to ``eq``. Semantics, chosen so that
evaluating a filter never raises, whatever the event data:

- Several values: a path with ``[*]`` holds when ANY value it reaches
  satisfies the operator. ``ne`` is exactly ``not eq`` and ``not_in`` exactly
  ``not in``, so with ``[*]`` they hold when NO reached value equals.
- Missing fields: a path that reaches nothing makes ``eq``, ``in``, ``gt``,
  ``gte``, ``lt``, ``lte`` and ``contains`` false and ``ne`` and ``not_in``
  true. ``exists`` (``value`` true by default) holds when the path reaches
  something, ``exists: false`` when it reaches nothing; a field present with
  ``null`` exists (test ``ne: null`` for "has a value").
- Equality compares JSON values strictly: numbers numerically
  (``2899 == 2899.0``), booleans only with booleans (``true`` never equals
  ``1``), objects and arrays element by element under the same rules. One
  coercion: a string filter value equals a number field when the string is a
  JSON number of that value (``"2899"`` matches ``2899``), because Bringg's
  routing form has the user type the target value as text. The reverse (a
  number filter value, a string field) does not match.
- Ordering (``gt``, ``gte``, ``lt``, ``lte``) compares numbers with numbers and
  ISO 8601 timestamps (``2022-11-29T12:15:11.205Z``, ``...+02:00``) with
  timestamps, as instants; a timestamp without an offset is UTC. Any other
  pairing (a numeric string, a date against a number) is false.
- ``contains`` holds when a string field contains the string value as a
  substring, or an array field has an element equal to the value (as ``eq``).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from waypost.domain.paths import Path, parse_path, resolve
from waypost.errors import ValidationFailed

Test = Callable[[Any], bool]


class FilterOp(StrEnum):
    """A filter operator, spelled as the API takes it."""

    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    EXISTS = "exists"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    CONTAINS = "contains"


_ORDERING: dict[FilterOp, Callable[[Any, Any], bool]] = {
    FilterOp.GT: operator.gt,
    FilterOp.GTE: operator.ge,
    FilterOp.LT: operator.lt,
    FilterOp.LTE: operator.le,
}
_NEGATED = {FilterOp.NE: FilterOp.EQ, FilterOp.NOT_IN: FilterOp.IN}
_KNOWN_OPS = frozenset(op.value for op in FilterOp)
_KNOWN = ", ".join(op.value for op in FilterOp)
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
# fromisoformat alone also takes compact forms such as "20221129T1215", which
# would turn ordinary digit strings into dates; insist on the extended form.
_TIMESTAMP_PREFIX = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:$|[T ])")


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One validated ``{field, op, value}`` of a subscription's filters."""

    field: str
    op: FilterOp
    value: Any


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timestamp(value: Any) -> datetime | None:
    """``value`` as an aware datetime, or None when it is not an ISO 8601 timestamp."""
    if not isinstance(value, str) or not _TIMESTAMP_PREFIX.match(value):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number_in_text(text: str) -> int | float | None:
    """The number a JSON decoder would read from ``text``, or None."""
    match = _JSON_NUMBER.fullmatch(text)
    if match is None:
        return None
    if match.group(1) or match.group(2):
        return float(text)
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        return None


def _orderable(value: Any) -> bool:
    if _is_number(value):
        return math.isfinite(value) if isinstance(value, float) else True
    return _timestamp(value) is not None


def _check_value(where: str, op: FilterOp, item: Mapping[str, Any]) -> Any:
    """The condition's value, checked against what ``op`` needs."""
    if op == FilterOp.EXISTS:
        value = item.get("value", True)
        if not isinstance(value, bool):
            raise ValidationFailed(f"{where}.value: 'exists' takes true or false")
        return value
    if "value" not in item:
        raise ValidationFailed(f"{where}.value: required for '{op}'")
    value = item["value"]
    if op in (FilterOp.IN, FilterOp.NOT_IN) and not isinstance(value, list):
        raise ValidationFailed(f"{where}.value: '{op}' needs a list of values")
    if op in _ORDERING and not _orderable(value):
        raise ValidationFailed(
            f"{where}.value: '{op}' needs a number or an ISO 8601 timestamp, got {value!r}"
        )
    if op == FilterOp.CONTAINS and isinstance(value, list | dict):
        raise ValidationFailed(f"{where}.value: 'contains' needs a single value, not {value!r}")
    return value


def _parse_condition(where: str, item: object) -> Condition:
    if not isinstance(item, dict):
        raise ValidationFailed(f"{where}: must be an object with field, op and value")
    unknown = sorted(set(item) - {"field", "op", "value"}, key=str)
    if unknown:
        raise ValidationFailed(f"{where}: unknown key {unknown[0]!r}")
    field = item.get("field")
    if not isinstance(field, str):
        raise ValidationFailed(f"{where}.field: required, a path such as 'fleet_id'")
    try:
        parse_path(field)
    except ValidationFailed as exc:
        raise ValidationFailed(f"{where}.field: {exc.reason}") from exc
    raw_op = item.get("op", "eq")
    if not isinstance(raw_op, str) or raw_op not in _KNOWN_OPS:
        raise ValidationFailed(
            f"{where}.op: unknown operator {raw_op!r} (expected one of {_KNOWN})"
        )
    op = FilterOp(raw_op)
    return Condition(field=field, op=op, value=_check_value(where, op, item))


def parse_filters(raw: object) -> tuple[Condition, ...]:
    """Validate a subscription's ``filters`` as the API received them.

    A problem raises ValidationFailed naming the condition's index and key,
    e.g. ``filters[1].op: unknown operator 'equals' (...)``.
    """
    if not isinstance(raw, list):
        raise ValidationFailed("filters: must be a list of {field, op, value} objects")
    return tuple(_parse_condition(f"filters[{index}]", item) for index, item in enumerate(raw))


def _same(found: Any, wanted: Any) -> bool:
    """Strict JSON equality: numbers numerically, booleans only with booleans."""
    if isinstance(found, bool) or isinstance(wanted, bool):
        return isinstance(found, bool) and isinstance(wanted, bool) and found == wanted
    if _is_number(found) and _is_number(wanted):
        return bool(found == wanted)
    if isinstance(found, str) and isinstance(wanted, str):
        return found == wanted
    if isinstance(found, list) and isinstance(wanted, list):
        return len(found) == len(wanted) and all(map(_same, found, wanted))
    if isinstance(found, Mapping) and isinstance(wanted, Mapping):
        return found.keys() == wanted.keys() and all(_same(found[k], wanted[k]) for k in wanted)
    return found is None and wanted is None


def _equal_to(wanted: Any) -> Test:
    number = _number_in_text(wanted) if isinstance(wanted, str) else None
    if number is None:
        return lambda found: _same(found, wanted)
    return lambda found: _same(found, wanted) or (_is_number(found) and found == number)


def _one_of(options: Sequence[Any]) -> Test:
    tests = tuple(_equal_to(option) for option in options)
    return lambda found: any(test(found) for test in tests)


def _ordered(compare: Callable[[Any, Any], bool], wanted: Any) -> Test:
    if _is_number(wanted):
        return lambda found: _is_number(found) and compare(found, wanted)
    moment = _timestamp(wanted)
    if moment is None:
        return lambda found: False

    def check(found: Any) -> bool:
        stamp = _timestamp(found)
        return stamp is not None and compare(stamp, moment)

    return check


def _contains(wanted: Any) -> Test:
    element = _equal_to(wanted)

    def check(found: Any) -> bool:
        if isinstance(found, str):
            return isinstance(wanted, str) and wanted in found
        return isinstance(found, list) and any(element(item) for item in found)

    return check


def _value_test(op: FilterOp, wanted: Any) -> Test:
    """The test one reached value must pass (``ne``/``not_in`` negate it afterwards)."""
    if op == FilterOp.EQ:
        return _equal_to(wanted)
    if op == FilterOp.IN:
        return _one_of(wanted)
    if op == FilterOp.CONTAINS:
        return _contains(wanted)
    return _ordered(_ORDERING[op], wanted)


def _compile(condition: Condition) -> Callable[[Mapping[str, Any]], bool]:
    path: Path = parse_path(condition.field)
    if condition.op == FilterOp.EXISTS:
        present = bool(condition.value)
        return lambda data: bool(resolve(path, data)) is present
    if condition.op in _NEGATED:
        test = _value_test(_NEGATED[condition.op], condition.value)
        return lambda data: not any(test(found) for found in resolve(path, data))
    test = _value_test(condition.op, condition.value)
    return lambda data: any(test(found) for found in resolve(path, data))


@dataclass(frozen=True)
class CompiledFilter:
    """A subscription's filters compiled once into closures, evaluated per event."""

    checks: tuple[Callable[[Mapping[str, Any]], bool], ...]

    def matches(self, data: Mapping[str, Any]) -> bool:
        """Whether every condition holds for ``data``; never raises."""
        return all(check(data) for check in self.checks)


def compile_filters(conditions: Sequence[Condition]) -> CompiledFilter:
    """Compile validated conditions; an empty sequence matches every event."""
    return CompiledFilter(tuple(_compile(condition) for condition in conditions))
