"""Conditional routing: validating ``filters`` and matching events against them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.unit.order_payload import ORDER
from waypost.domain.routing import (
    Condition,
    FilterOp,
    compile_filters,
    parse_filters,
)
from waypost.errors import ValidationFailed


def matches(filters: list[dict[str, Any]], data: Any = ORDER) -> bool:
    return compile_filters(parse_filters(filters)).matches(data)


def one(field: str, op: str, value: Any = None, data: Any = ORDER) -> bool:
    condition: dict[str, Any] = {"field": field, "op": op}
    if value is not None or op != "exists":
        condition["value"] = value
    return matches([condition], data)


def test_no_filters_match_everything() -> None:
    assert matches([])
    assert matches([], {})


def test_op_defaults_to_eq() -> None:
    assert parse_filters([{"field": "fleet_id", "value": 2899}]) == (
        Condition(field="fleet_id", op=FilterOp.EQ, value=2899),
    )
    assert matches([{"field": "fleet_id", "value": 2899}])
    assert not matches([{"field": "fleet_id", "value": 2900}])


def test_all_conditions_must_hold() -> None:
    carrier = {"field": "fleet_id", "value": 2899}
    status = {"field": "status", "value": "Assigned to Delivery Provider"}
    assert matches([carrier, status])
    assert not matches([carrier, {**status, "value": "Done"}])


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("fleet_id", 2899, True),
        ("fleet_id", 2899.0, True),
        ("fleet_id", "2899", True),
        ("fleet_id", "2899.0", True),
        ("fleet_id", "2.899e3", True),
        ("fleet_id", " 2899", False),
        ("fleet_id", "2_899", False),
        ("fleet_id", "+2899", False),
        ("fleet_id", "2899x", False),
        ("fleet_id", 2900, False),
        ("fleet_name", "GLS", True),
        ("fleet_name", "gls", False),
        ("customer.external_id", "10170", True),
        ("customer.external_id", 10170, False),
        ("way_points[0].lat", 44.4023416, True),
        ("way_points[0].lat", "44.4023416", True),
        ("late", False, True),
        ("late", 0, False),
        ("automatically_ended", 0, True),
        ("automatically_ended", False, False),
        ("automatically_ended", "false", False),
        ("user_id", None, True),
        ("customer.email", None, True),
        ("fleet_name", None, False),
        ("team_ids", [157390], True),
        ("team_ids", [157390.0], True),
        ("team_ids", [True], False),
        ("customer.uploaded_profile_image", {"url": "/images/avatar.png"}, True),
        ("customer.uploaded_profile_image", {"url": "/images/other.png"}, False),
        ("way_points[1].city", "New York", True),
        ("way_points[*].id", 5654, True),
        ("way_points[*].id", "5654", True),
        ("way_points[*].id", 5655, False),
        ("way_points[*].customer_contact_ids[*]", 10172, True),
        ("no_such_field", None, False),
        ("way_points[5].city", "New York", False),
    ],
)
def test_eq(field: str, value: Any, expected: bool) -> None:
    assert one(field, "eq", value) is expected
    assert one(field, "ne", value) is not expected


def test_bool_never_equals_number() -> None:
    data = {"flag": True, "count": 1, "nested": [1, {"x": True}]}
    assert not one("flag", "eq", 1, data)
    assert not one("count", "eq", True, data)
    assert not one("nested", "eq", [True, {"x": 1}], data)
    assert one("nested", "eq", [1.0, {"x": True}], data)
    assert not one("count", "in", [True, "true"], data)


def test_huge_integers_compare_exactly() -> None:
    data = {"big": 12345678901234567890}
    assert one("big", "eq", "12345678901234567890", data)
    assert not one("big", "eq", "12345678901234567891", data)
    assert not one("big", "eq", "1" * 5000, data)


def test_ne_and_not_in_with_wildcards_hold_when_no_value_equals() -> None:
    assert one("way_points[*].id", "ne", 9999)
    assert not one("way_points[*].id", "ne", 5653)
    assert one("way_points[*].id", "not_in", [1, 2])
    assert not one("way_points[*].id", "not_in", [1, 5654])


def test_missing_fields() -> None:
    for op, value in [("eq", 1), ("in", [1]), ("gt", 0), ("lte", 1e9), ("contains", "a")]:
        assert not one("no_such_field", op, value), op
    assert one("no_such_field", "ne", 1)
    assert one("no_such_field", "not_in", [1])
    assert not one("no_such_field", "exists")
    assert one("no_such_field", "exists", False)


def test_missing_field_under_wildcard() -> None:
    assert not one("way_points[*].nope", "eq", 1)
    assert one("way_points[*].nope", "ne", 1)
    assert one("way_points[*].delivery_method", "exists")
    assert not one("way_points[*].nope", "exists")


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("fleet_id", True),
        ("user_id", True),
        ("way_points[1].no_later_than", True),
        ("way_points[*].delivery_method", True),
        ("task_inventories[1].services[0]", True),
        ("task_inventories[0].services[0]", False),
        ("customer.nope", False),
        ("fleet_id.nope", False),
    ],
)
def test_exists(field: str, expected: bool) -> None:
    assert one(field, "exists") is expected
    assert one(field, "exists", True) is expected
    assert one(field, "exists", False) is not expected


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("fleet_id", [2899, 3000], True),
        ("fleet_id", ["2899"], True),
        ("fleet_id", [1, 2], False),
        ("fleet_id", [], False),
        ("fleet_name", ["DHL", "GLS"], True),
        ("late", [0, None], False),
        ("late", [False], True),
        ("user_id", [None], True),
        ("way_points[*].position", [2], True),
        ("way_points[*].position", [3, 4], False),
    ],
)
def test_in(field: str, value: list[Any], expected: bool) -> None:
    assert one(field, "in", value) is expected
    assert one(field, "not_in", value) is not expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("gt", 2898, True),
        ("gt", 2899, False),
        ("gte", 2899, True),
        ("gte", 2899.5, False),
        ("lt", 2899.5, True),
        ("lt", 2899, False),
        ("lte", 2899, True),
        ("lte", 2898.99, False),
    ],
)
def test_ordering_numbers(op: str, value: float, expected: bool) -> None:
    assert one("fleet_id", op, value) is expected


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("created_at", "gt", "2022-11-29T12:00:00Z", True),
        ("created_at", "lt", "2022-11-29T12:00:00Z", False),
        ("created_at", "gte", "2022-11-29T12:15:11.205Z", True),
        ("created_at", "lte", "2022-11-29T12:15:11.205+00:00", True),
        ("created_at", "gt", "2022-11-29T12:15:11.205Z", False),
        # 13:15 at +02:00 is 11:15 UTC, an hour before the order was created.
        ("created_at", "gt", "2022-11-29T13:15:00+02:00", True),
        ("created_at", "lt", "2022-11-29T08:00:00-05:00", True),
        ("created_at", "gt", "2022-11-29T12:15:11", True),
        ("created_at", "lt", "2022-11-29T12:15:12", True),
        ("created_at", "gte", "2022-11-29", True),
        ("created_at", "lt", "2022-11-30", True),
        ("way_points[*].no_later_than", "lt", "2022-11-29T15:00:00Z", True),
        ("way_points[*].no_later_than", "lt", "2022-11-29T14:00:00Z", False),
    ],
)
def test_ordering_timestamps(field: str, op: str, value: str, expected: bool) -> None:
    assert one(field, op, value) is expected


def test_naive_field_timestamp_is_utc() -> None:
    data = {"at": "2022-11-29T12:00:00"}
    assert one("at", "lt", "2022-11-29T13:30:00+01:00", data)
    assert not one("at", "lt", "2022-11-29T12:30:00+01:00", data)


@pytest.mark.parametrize(
    ("field", "op", "value"),
    [
        ("fleet_name", "gt", 1),
        ("customer.external_id", "gt", 1),
        ("way_points[0].zipcode", "gte", 10000),
        ("late", "gte", 0),
        ("automatically_ended", "lte", "2022-11-29T12:00:00Z"),
        ("fleet_id", "lt", "2022-11-29T12:00:00Z"),
        ("created_at", "gt", 0),
        ("title", "lt", "2022-11-29T12:00:00Z"),
        ("customer", "gt", 0),
        ("team_ids", "gt", 0),
        ("user_id", "gt", 0),
    ],
)
def test_ordering_type_mismatch_is_false(field: str, op: str, value: Any) -> None:
    assert one(field, op, value) is False


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("title", "Mission", True),
        ("title", "mission", False),
        ("title", "", True),
        ("task_inventories[*].name", "Water", True),
        ("team_ids", 157390, True),
        ("team_ids", "157390", True),
        ("team_ids", 1, False),
        ("task_inventories[*].services", "fragile", True),
        ("task_inventories[*].services", "urgent", False),
        ("fleet_id", 28, False),
        ("fleet_id", "28", False),
        ("customer", "name", False),
        ("way_points[0].zipcode", 100, False),
        ("late", False, False),
    ],
)
def test_contains(field: str, value: Any, expected: bool) -> None:
    assert one(field, "contains", value) is expected


def test_contains_null_in_array() -> None:
    assert one("values", "contains", None, {"values": [1, None]})
    assert not one("values", "contains", None, {"values": [1]})


def test_a_carrier_receives_only_its_orders() -> None:
    gls = compile_filters(parse_filters([{"field": "fleet_id", "op": "eq", "value": "2899"}]))
    other = copy.deepcopy(ORDER)
    other["fleet_id"] = 3100
    assert gls.matches(ORDER)
    assert not gls.matches(other)


def test_compiled_filter_is_reusable() -> None:
    compiled = compile_filters(parse_filters([{"field": "way_points[*].city", "value": "Rome"}]))
    rome = {"way_points": [{"city": "Milan"}, {"city": "Rome"}]}
    assert [compiled.matches(data) for data in (ORDER, rome, ORDER, {})] == [
        False,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"fleet_id": None},
        {"fleet_id": [2899]},
        {"fleet_id": {"id": 2899}},
        {"way_points": "not a list"},
        {"way_points": [None, 1, "x", [], {"id": "5654"}]},
        {"created_at": "not a date"},
        {"created_at": "2022-13-45T99:00:00Z"},
        {"created_at": 12},
        {"title": ["Mission"]},
    ],
)
def test_odd_data_never_raises(data: dict[str, Any]) -> None:
    filters: list[dict[str, Any]] = [
        {"field": "fleet_id", "value": "2899"},
        {"field": "way_points[*].id", "op": "in", "value": [5654]},
        {"field": "created_at", "op": "gt", "value": "2022-01-01T00:00:00Z"},
        {"field": "title", "op": "contains", "value": "Mission"},
    ]
    for condition in filters:
        assert isinstance(matches([condition], data), bool)


def test_parse_filters_normalises() -> None:
    parsed = parse_filters(
        [
            {"field": "fleet_id", "op": "in", "value": [1, 2]},
            {"field": "way_points[*].city", "op": "exists"},
            {"field": "late", "op": "exists", "value": False},
        ]
    )
    assert parsed == (
        Condition(field="fleet_id", op=FilterOp.IN, value=[1, 2]),
        Condition(field="way_points[*].city", op=FilterOp.EXISTS, value=True),
        Condition(field="late", op=FilterOp.EXISTS, value=False),
    )
    assert parsed[0].op == "in"


def test_every_op_is_accepted() -> None:
    values = {"in": [1], "not_in": [1], "exists": True, "gt": 1, "gte": 1, "lt": 1, "lte": 1}
    for op in FilterOp:
        condition = {"field": "fleet_id", "op": op.value, "value": values.get(op.value, 1)}
        assert parse_filters([condition])[0].op is op


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"field": "fleet_id"}, "filters: must be a list"),
        (None, "filters: must be a list"),
        (["fleet_id"], "filters[0]: must be an object"),
        (
            [{"field": "a", "value": 1}, {"field": "b", "op": "equals", "value": 1}],
            "filters[1].op: unknown operator 'equals' (expected one of eq, ne, in, not_in, "
            "exists, gt, gte, lt, lte, contains)",
        ),
        ([{"field": "a", "op": ["eq"], "value": 1}], "filters[0].op: unknown operator ['eq']"),
        ([{"field": "a", "op": None, "value": 1}], "filters[0].op: unknown operator None"),
        (
            [{"field": "way_points[x", "value": 1}],
            "filters[0].field: invalid path 'way_points[x' at position 11",
        ),
        ([{"field": "items.{a,b}", "value": 1}], "filters[0].field: invalid path 'items.{a,b}'"),
        ([{"field": "", "value": 1}], "filters[0].field: invalid path ''"),
        ([{"value": 1}], "filters[0].field: required"),
        ([{"field": 7, "value": 1}], "filters[0].field: required"),
        ([{"field": "a", "value": 1, "extra": 2}], "filters[0]: unknown key 'extra'"),
        ([{"field": "a"}], "filters[0].value: required for 'eq'"),
        ([{"field": "a", "op": "ne"}], "filters[0].value: required for 'ne'"),
        ([{"field": "a", "op": "in", "value": 1}], "filters[0].value: 'in' needs a list"),
        ([{"field": "a", "op": "not_in", "value": "x"}], "filters[0].value: 'not_in' needs a list"),
        ([{"field": "a", "op": "exists", "value": 1}], "filters[0].value: 'exists' takes true or"),
        ([{"field": "a", "op": "exists", "value": None}], "filters[0].value: 'exists' takes"),
        ([{"field": "a", "op": "gt", "value": "10"}], "filters[0].value: 'gt' needs a number or"),
        ([{"field": "a", "op": "gte", "value": True}], "filters[0].value: 'gte' needs a number"),
        ([{"field": "a", "op": "lt", "value": None}], "filters[0].value: 'lt' needs a number"),
        (
            [{"field": "a", "op": "lte", "value": "yesterday"}],
            "filters[0].value: 'lte' needs a number",
        ),
        (
            [{"field": "a", "op": "lte", "value": float("nan")}],
            "filters[0].value: 'lte' needs a number",
        ),
        (
            [{"field": "a", "op": "gt", "value": "20221129T121511"}],
            "filters[0].value: 'gt' needs a number",
        ),
        (
            [{"field": "a", "op": "contains", "value": [1]}],
            "filters[0].value: 'contains' needs a single value",
        ),
        (
            [{"field": "a", "op": "contains", "value": {"x": 1}}],
            "filters[0].value: 'contains' needs a single",
        ),
    ],
)
def test_parse_filters_rejects(raw: object, reason: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_filters(raw)
    assert caught.value.reason.startswith(reason)
