"""Flexible payloads: validating ``fields`` and selecting them from event data."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.unit.order_payload import ORDER
from waypost.domain.payload import compile_selection, parse_fields
from waypost.errors import ValidationFailed


def select(fields: list[str], data: Any = ORDER) -> dict[str, Any]:
    return compile_selection(parse_fields(fields)).apply(data)


def test_top_level_fields() -> None:
    assert select(["id", "fleet_id", "fleet_name", "user_id"]) == {
        "id": 2859,
        "fleet_id": 2899,
        "fleet_name": "GLS",
        "user_id": None,
    }


def test_nested_fields_keep_their_nesting_and_merge() -> None:
    assert select(["customer.name", "customer.external_id", "customer.nope"]) == {
        "customer": {"name": "Automation Customer 3555478327", "external_id": "10170"}
    }


def test_whole_object_is_copied() -> None:
    assert select(["customer"]) == {"customer": ORDER["customer"]}
    assert select(["customer", "customer.name"]) == {"customer": ORDER["customer"]}


def test_every_element_keeps_count_and_order() -> None:
    assert select(["way_points[*].address", "way_points[*].city"]) == {
        "way_points": [
            {"address": "Corso Torino, 18/20/22R, 16129 Genova GE, Italy", "city": "New York"},
            {
                "address": "Via Duccio di Buoninsegna, 20, 50143 Firenze FI, Italy",
                "city": "New York",
            },
        ]
    }


def test_elements_lacking_the_field_become_empty_objects() -> None:
    assert select(["way_points[*].delivery_method"]) == {
        "way_points": [{}, {"delivery_method": "home_delivery"}]
    }


def test_index_selects_only_that_element() -> None:
    assert select(["way_points[0].city"]) == {"way_points": [{"city": "New York"}]}
    assert select(["way_points[1].id"]) == {"way_points": [{}, {"id": 5654}]}
    assert select(["way_points[7].id"]) == {}


def test_index_and_wildcard_merge_per_element() -> None:
    assert select(["way_points[*].id", "way_points[1].delivery_method"]) == {
        "way_points": [{"id": 5653}, {"id": 5654, "delivery_method": "home_delivery"}]
    }


def test_braces_select_several_keys_of_each_element() -> None:
    assert select(["task_inventories[*].{name,quantity}", "task_notes[0].note"]) == {
        "task_inventories": [
            {"name": "Beff Sandwich", "quantity": 1},
            {"name": "Sparkling Water", "quantity": 6},
        ],
        "task_notes": [{"note": "Drop off Box in Bin by Front Desk, please."}],
    }


def test_a_carrier_view_of_the_order() -> None:
    fields = [
        "id",
        "external_id",
        "fleet_id",
        "customer.{name,phone}",
        "way_points[*].{address,zipcode,lat,lng,scheduled_at}",
        "way_points[*].customer.name",
        "task_inventories[*].{id,name,quantity,price}",
        "task_notes",
    ]
    assert select(fields) == {
        "id": 2859,
        "external_id": "GLS test automation order",
        "fleet_id": 2899,
        "customer": {"name": "Automation Customer 3555478327", "phone": "+393123485889"},
        "way_points": [
            {
                "address": "Corso Torino, 18/20/22R, 16129 Genova GE, Italy",
                "zipcode": "10002",
                "lat": 44.4023416,
                "lng": 8.9538962,
                "scheduled_at": "2022-11-29T13:15:10.980Z",
                "customer": {"name": "GLS lover# 548"},
            },
            {
                "address": "Via Duccio di Buoninsegna, 20, 50143 Firenze FI, Italy",
                "zipcode": "10002",
                "lat": 43.767042,
                "lng": 11.2181254,
                "scheduled_at": "2022-11-29T13:15:10.980Z",
                "customer": {"name": "GLS lover# 858"},
            },
        ],
        "task_inventories": [
            {"id": 5500, "name": "Beff Sandwich", "quantity": 1, "price": 10.9},
            {"id": 5501, "name": "Sparkling Water", "quantity": 6, "price": 0.9},
        ],
        "task_notes": ORDER["task_notes"],
    }


def test_nested_wildcards() -> None:
    assert select(["way_points[*].customer_contact_ids[*]", "task_inventories[*].services[*]"]) == {
        "way_points": [{"customer_contact_ids": [10171]}, {"customer_contact_ids": [10172]}],
        "task_inventories": [{}, {"services": ["fragile"]}],
    }


@pytest.mark.parametrize(
    "fields",
    [
        ["no_such_field"],
        ["customer.no_such_field"],
        ["fleet_id.value"],
        ["fleet_name[0]"],
        ["customer[*]"],
        ["way_points.city"],
        ["way_points[*].nope"],
        ["task_inventories[0].services[*]"],
        [],
    ],
)
def test_missing_paths_are_absent(fields: list[str]) -> None:
    assert select(fields) == {}


def test_whole_empty_containers_are_kept() -> None:
    data: dict[str, Any] = {"answers": [], "extras": {}, "list": [[], {}]}
    assert select(["answers", "extras", "list[*]"], data) == data
    assert select(["answers[*]", "list[*][*]"], data) == {}


def test_order_of_output_keys_follows_the_field_list() -> None:
    assert list(select(["fleet_name", "id", "customer.name"])) == ["fleet_name", "id", "customer"]


def test_output_shares_nothing_with_the_input() -> None:
    data = copy.deepcopy(ORDER)
    output = select(["customer", "way_points[*].customer_contact_ids", "task_inventories"], data)
    output["customer"]["name"] = "changed"
    output["way_points"][0]["customer_contact_ids"].append(1)
    output["task_inventories"][1]["services"].clear()
    assert data == ORDER


def test_selection_does_not_change_the_input() -> None:
    data = copy.deepcopy(ORDER)
    select(["way_points[*].city", "customer"], data)
    assert data == ORDER


def test_compiled_selection_is_reusable() -> None:
    selection = compile_selection(["way_points[*].id"])
    small = {"way_points": [{"id": 1}]}
    assert selection.apply(ORDER) == {"way_points": [{"id": 5653}, {"id": 5654}]}
    assert selection.apply(small) == small
    assert selection.apply({}) == {}


def test_non_object_elements_become_placeholders() -> None:
    data = {"a": [{"b": 1}, 7, "x", None, [1], {"b": 2}]}
    assert select(["a[*].b"], data) == {"a": [{"b": 1}, {}, {}, {}, {}, {"b": 2}]}
    assert select(["a[*].b", "a[1]"], data) == {"a": [{"b": 1}, 7, {}, {}, {}, {"b": 2}]}


def test_overlapping_index_paths_keep_positions() -> None:
    data = {"m": [[1, 2, 3], [4, 5], [6]]}
    assert select(["m[0][2]", "m[*][1]"], data) == {"m": [[{}, 2, 3], [{}, 5], {}]}
    assert select(["m[1]", "m[1][0]"], data) == {"m": [{}, [4, 5]]}


def test_parse_fields_accepts_valid_paths() -> None:
    fields = ["id", "way_points[*].city", "task_inventories[*].{name,quantity}", '["odd key"]']
    assert parse_fields(fields) == tuple(fields)
    assert parse_fields([]) == ()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("id", "fields: must be a list of paths"),
        ({"id": True}, "fields: must be a list of paths"),
        (["id", ""], "fields[1]: must be a non-empty path string"),
        (["id", 7], "fields[1]: must be a non-empty path string"),
        (["id", None], "fields[1]: must be a non-empty path string"),
        (["id", "city", "way_points[x"], "fields[2]: invalid path 'way_points[x' at position 11"),
        (["items.{a,}"], "fields[0]: invalid path 'items.{a,}' at position 9"),
        (["id", "customer.name", "id"], "fields[2]: 'id' repeats fields[0]"),
        (
            ["customer.name", 'customer["name"]'],
            "fields[1]: 'customer[\"name\"]' repeats fields[0]",
        ),
    ],
)
def test_parse_fields_rejects(raw: object, reason: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_fields(raw)
    assert caught.value.reason.startswith(reason)
