"""JSON bodies: numbers are kept exactly or refused, naming where, never silently changed."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from waypost.domain.json_numbers import INT_MAX, INT_MIN, parse_json
from waypost.errors import ValidationFailed

REFUSED = [
    (b'{"data": {"n": 1000000000000000000000000000000}}', "data.n: integer beyond 64 bits"),
    (b'{"data": {"n": 18446744073709551616}}', "data.n: integer beyond 64 bits"),
    (b'{"data": {"n": -9223372036854775809}}', "data.n: integer beyond 64 bits"),
    (b'{"events": [{"data": {"a": [1, 2, 1e999]}}]}', "events[0].data.a[2]: Infinity"),
    (b'{"events": [{}, {"data": {"x": NaN}}]}', "events[1].data.x: NaN is not a JSON number"),
    (b'{"data": {"x": Infinity}}', "data.x: Infinity"),
    (b'{"data": {"x": -Infinity}}', "data.x: Infinity"),
    (b'{"odd key": {"x": -1e400}}', "odd key.x: Infinity"),
    (b"NaN", "body: NaN"),
    (b"[" + b"1" * 400 + b"]", "[0]: integer beyond 64 bits"),
]


@pytest.mark.parametrize(("body", "reason"), REFUSED)
def test_numbers_json_cannot_carry_are_refused_naming_where(body: bytes, reason: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_json(body)
    assert refused.value.reason.startswith(reason), refused.value.reason


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 18446744073709551615, "b": -9223372036854775808, "c": "12345678901234567890"}',
        b'{"c": "12345678901234567890", "d": [" 12345678901234567890", ",12345678901234567890"]}',
        b"[\n  9223372036854775807,\n\t-9223372036854775808\r\n]",
    ],
)
def test_the_ends_of_64_bits_and_long_digit_strings_are_kept(body: bytes) -> None:
    assert parse_json(body) == json.loads(body)


def test_long_fractions_are_doubles() -> None:
    assert parse_json(b'{"d": 1.5e308, "e": 12345678901234567890.5}') == {
        "d": 1.5e308,
        "e": 12345678901234567890.5,
    }


@pytest.mark.parametrize("body", [b'{"a": ', b'{"a": "\\ud800"}', b"\xff", b"{'a': 1}"])
def test_malformed_json_is_still_a_decode_error(body: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        parse_json(body)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(INT_MIN, INT_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON)
def test_every_value_within_the_rule_comes_back_unchanged(value: Any) -> None:
    assert parse_json(orjson.dumps(value)) == value


@given(
    st.integers(max_value=INT_MIN - 1) | st.integers(min_value=INT_MAX + 1),
    st.lists(st.integers(0, 3), max_size=3),
    st.sampled_from([{}, {"indent": 2}, {"separators": (",", ":")}]),
)
def test_an_integer_beyond_64_bits_is_found_wherever_it_is(
    number: int, depth: list[int], layout: dict[str, Any]
) -> None:
    value: Any = number
    where = ""
    for position in reversed(depth):
        value = {"k": [None] * position + [value]}
        where = f"k[{position}]" + (f".{where}" if where else "")
    with pytest.raises(ValidationFailed) as refused:
        parse_json(json.dumps(value, **layout).encode())
    assert refused.value.reason.startswith(f"{where or 'body'}: integer beyond 64 bits")
