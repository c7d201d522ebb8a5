"""Properties of field selection and routing filters over arbitrary JSON-like data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from waypost.domain.paths import parse_path, resolve
from waypost.domain.payload import compile_selection
from waypost.domain.routing import FilterOp, compile_filters, parse_filters

KEYS = st.sampled_from(["a", "b", "c", "id", "name", "x-y", "_z"])
TIMESTAMPS = st.builds(
    lambda moment, offset, zulu: (
        moment.replace(tzinfo=timezone(timedelta(minutes=offset))).isoformat()
        if not zulu
        else moment.isoformat() + "Z"
    ),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(-720, 720),
    st.booleans(),
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    | st.integers(-5, 5).map(str)
    | TIMESTAMPS
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=25,
)
OBJECTS = st.dictionaries(KEYS, VALUES, max_size=5)
SETTINGS = settings(max_examples=200, deadline=None)


@st.composite
def paths_into(draw: st.DrawFn, data: dict[str, Any], allow_braces: bool = True) -> str:
    """A path following keys and elements that exist in ``data`` (sometimes one that doesn't)."""
    text = (
        draw(KEYS)
        if not data or draw(st.integers(0, 9)) == 0
        else draw(st.sampled_from(list(data)))
    )
    value = data.get(text)
    while draw(st.integers(0, 3)) != 0:
        if isinstance(value, dict) and value:
            if allow_braces and len(value) > 1 and draw(st.integers(0, 4)) == 0:
                names = draw(st.lists(st.sampled_from(list(value)), min_size=1, unique=True))
                return text + ".{" + ",".join(names) + "}"
            key = draw(st.sampled_from(list(value)))
            text, value = f"{text}.{key}", value[key]
        elif isinstance(value, list) and value:
            position = draw(st.integers(0, len(value) - 1))
            text += "[*]" if draw(st.booleans()) else f"[{position}]"
            value = value[position]
        else:
            break
    return text


def is_subtree(output: Any, source: Any, *, element: bool = False) -> bool:
    """Whether every leaf of ``output`` sits at the same position in ``source``.

    An array element may be ``{}``: the placeholder for a position that
    contributed nothing.
    """
    if isinstance(output, dict):
        if element and output == {}:
            return True
        return isinstance(source, dict) and all(
            name in source and is_subtree(value, source[name]) for name, value in output.items()
        )
    if isinstance(output, list):
        return (
            isinstance(source, list)
            and len(output) <= len(source)
            and all(is_subtree(o, s, element=True) for o, s in zip(output, source, strict=False))
        )
    return type(output) is type(source) and output == source


def strict(values: list[Any]) -> str:
    """A form in which True, 1 and 1.0 differ."""
    return json.dumps(values, sort_keys=True)


@SETTINGS
@given(st.data())
def test_selection_never_adds_or_changes_data(data: st.DataObject) -> None:
    source = data.draw(OBJECTS)
    fields = data.draw(st.lists(paths_into(source), min_size=1, max_size=4))
    before = strict([source])

    output = compile_selection(fields).apply(source)

    assert is_subtree(output, source)
    for field in fields:
        path = parse_path(field, allow_braces=True)
        assert strict(resolve(path, output)) == strict(resolve(path, source)), field
    assert strict([source]) == before


@SETTINGS
@given(st.data())
def test_selection_of_whole_keys_copies_them(data: st.DataObject) -> None:
    source = data.draw(OBJECTS)
    names = data.draw(st.lists(KEYS, unique=True))

    output = compile_selection(names).apply(source)

    assert output == {name: source[name] for name in source if name in names}


def condition_values(op: FilterOp) -> st.SearchStrategy[Any]:
    if op in (FilterOp.IN, FilterOp.NOT_IN):
        return st.lists(SCALARS, max_size=3)
    if op == FilterOp.EXISTS:
        return st.booleans()
    if op in (FilterOp.GT, FilterOp.GTE, FilterOp.LT, FilterOp.LTE):
        return st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TIMESTAMPS
    if op == FilterOp.CONTAINS:
        return SCALARS
    return VALUES


@st.composite
def conditions_for(draw: st.DrawFn, data: dict[str, Any]) -> dict[str, Any]:
    op = draw(st.sampled_from(FilterOp))
    field = draw(paths_into(data, allow_braces=False))
    return {"field": field, "op": op.value, "value": draw(condition_values(op))}


@SETTINGS
@given(st.data())
def test_filters_never_raise(data: st.DataObject) -> None:
    event = data.draw(OBJECTS)
    raw = data.draw(st.lists(conditions_for(event), max_size=4))

    assert compile_filters(parse_filters(raw)).matches(event) in (True, False)


@SETTINGS
@given(st.data())
def test_negations_are_complements(data: st.DataObject) -> None:
    event = data.draw(OBJECTS)
    field = data.draw(paths_into(event, allow_braces=False))
    value = data.draw(SCALARS)

    def holds(op: str, wanted: Any) -> bool:
        raw = [{"field": field, "op": op, "value": wanted}]
        return compile_filters(parse_filters(raw)).matches(event)

    assert holds("ne", value) is not holds("eq", value)
    assert holds("not_in", [value]) is not holds("in", [value])
    assert holds("in", [value]) is holds("eq", value)
    assert holds("exists", False) is not holds("exists", True)
    assert holds("exists", True) is bool(resolve(parse_path(field), event))


@SETTINGS
@given(TIMESTAMPS, TIMESTAMPS)
def test_timestamps_compare_as_instants(first: str, second: str) -> None:
    def instant(text: str) -> datetime:
        return datetime.fromisoformat(text).astimezone(UTC)

    event = {"at": first}
    gt = compile_filters(parse_filters([{"field": "at", "op": "gt", "value": second}]))
    lte = compile_filters(parse_filters([{"field": "at", "op": "lte", "value": second}]))
    assert gt.matches(event) is (instant(first) > instant(second))
    assert lte.matches(event) is not gt.matches(event)
