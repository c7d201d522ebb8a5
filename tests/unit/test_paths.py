"""The path language shared by routing filters and field selection."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.order_payload import ORDER
from waypost.domain.paths import Every, Index, Key, Keys, parse_path, resolve
from waypost.errors import ValidationFailed


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("fleet_id", (Key("fleet_id"),)),
        ("customer.external_id", (Key("customer"), Key("external_id"))),
        ("way_points[0].city", (Key("way_points"), Index(0), Key("city"))),
        ("way_points[12]", (Key("way_points"), Index(12))),
        ("way_points[*].zipcode", (Key("way_points"), Every(), Key("zipcode"))),
        ("a[*].b[*].c", (Key("a"), Every(), Key("b"), Every(), Key("c"))),
        ("matrix[*][1]", (Key("matrix"), Every(), Index(1))),
        ("_private.x-y_2", (Key("_private"), Key("x-y_2"))),
        ('["weird key"].x', (Key("weird key"), Key("x"))),
        ('extras["order.id"]', (Key("extras"), Key("order.id"))),
        ('a["say \\"hi\\""]', (Key("a"), Key('say "hi"'))),
        ('a["back\\\\slash"]', (Key("a"), Key("back\\slash"))),
    ],
)
def test_parse_path(text: str, steps: tuple[Any, ...]) -> None:
    assert parse_path(text) == steps


def test_paths_are_hashable_and_spelling_independent() -> None:
    assert parse_path('customer["name"]') == parse_path("customer.name")
    assert hash(parse_path('customer["name"]')) == hash(parse_path("customer.name"))
    assert len({parse_path("a[0]"), parse_path("a[*]"), parse_path("a[0]")}) == 2


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("task_inventories[*].{name,quantity}", ("name", "quantity")),
        ("customer.{ id , name }", ("id", "name")),
        ("customer.{id,id,name}", ("id", "name")),
        ("{id,fleet_id}", ("id", "fleet_id")),
    ],
)
def test_braces_in_selection(text: str, names: tuple[str, ...]) -> None:
    assert parse_path(text, allow_braces=True)[-1] == Keys(names)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("way_points[x", "invalid path 'way_points[x' at position 11: expected an index"),
        ("way_points[1x", "invalid path 'way_points[1x' at position 12: expected ']'"),
        ("way_points[0", "at position 12: expected ']'"),
        ("way_points[*", "at position 12: expected ']'"),
        ("way_points[-1].city", "at position 11: expected an index of 0 or more (negative"),
        ("", "invalid path '' at position 0: expected a key"),
        (".fleet_id", "at position 0: expected a key"),
        ("customer.", "at position 9: expected a key after '.'"),
        ("customer..name", "at position 9: expected a key"),
        ("customer.[0]", "at position 9: expected a key"),
        ("[0].city", "at position 0: expected a key"),
        ("[*]", "at position 0: expected a key"),
        ("way_points[0]city", "at position 13: expected '.' or '['"),
        ("fleet id", "at position 5: expected '.' or '['"),
        ("1st", "at position 0: expected a key"),
        ('a["open', "at position 7: expected a closing '\"'"),
        ("items.{name}", "at position 6: expected a key ({...} is only allowed in payload fields)"),
    ],
)
def test_invalid_paths(text: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_path(text)
    assert reason in caught.value.reason
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("items[*].{name,}", "at position 15: expected a key inside {...}"),
        ("items[*].{}", "at position 10: expected a key inside {...}"),
        ("items[*].{name quantity}", "at position 15: expected ',' or '}'"),
        ("items[*].{name", "at position 14: expected ',' or '}'"),
        ("items.{name}.x", "at position 12: expected the end of the path after {...}"),
        ("items.{name}[0]", "at position 12: expected the end of the path after {...}"),
    ],
)
def test_invalid_braces(text: str, reason: str) -> None:
    with pytest.raises(ValidationFailed, match="invalid path") as caught:
        parse_path(text, allow_braces=True)
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("fleet_id", [2899]),
        ("customer.external_id", ["10170"]),
        ("user_id", [None]),
        ("way_points[0].city", ["New York"]),
        ("way_points[1].no_later_than", ["2022-11-29T14:30:11.023Z"]),
        ("way_points[*].id", [5653, 5654]),
        ("way_points[*].customer.name", ["GLS lover# 548", "GLS lover# 858"]),
        ("way_points[*].customer_contact_ids[*]", [10171, 10172]),
        ("way_points[*].delivery_method", ["home_delivery"]),
        ("task_inventories[*].{name,quantity}", ["Beff Sandwich", 1, "Sparkling Water", 6]),
        ("task_inventories[*].services[*]", ["fragile"]),
        ("team_ids[0]", [157390]),
        ("customer", [ORDER["customer"]]),
    ],
)
def test_resolve_order(text: str, values: list[Any]) -> None:
    assert resolve(parse_path(text, allow_braces=True), ORDER) == values


@pytest.mark.parametrize(
    "text",
    [
        "no_such_field",
        "customer.no_such_field",
        "way_points[2].city",
        "way_points[*].no_such_field",
        "task_notes[0].note.length",
        "customer[0]",
        "way_points.city",
        "fleet_id.value",
        "fleet_name[0]",
        "fleet_name[*]",
        "user_id.id",
        "customer[*]",
    ],
)
def test_resolve_reaches_nothing_without_raising(text: str) -> None:
    assert resolve(parse_path(text), ORDER) == []


def test_resolve_nested_arrays() -> None:
    data = {"a": [{"b": [{"c": 1}, {"c": 2}, {}]}, {"b": []}, {"b": "x"}, 7, {"b": [{"c": 3}]}]}
    assert resolve(parse_path("a[*].b[*].c"), data) == [1, 2, 3]
    assert resolve(parse_path("a[0].b[1].c"), data) == [2]
    assert resolve(parse_path("a[*].b[0]"), data) == [{"c": 1}, {"c": 3}]


def test_resolve_top_level_braces() -> None:
    assert resolve(parse_path("{fleet_id,fleet_name,nope}", allow_braces=True), ORDER) == [
        2899,
        "GLS",
    ]
