"""The "Enable Flexible Webhook" tree: every path it offers is one the API accepts and
selects what its box says."""

from __future__ import annotations

import pytest

from waypost.domain.catalog import EVENT_TYPES
from waypost.domain.payload import compile_selection, parse_fields
from waypost.web.fieldtree import (
    MAX_DEPTH,
    FieldNode,
    child_path,
    field_tree,
    flatten,
    has_checked_below,
)


def test_nested_objects_and_arrays_become_paths() -> None:
    tree = field_tree(
        {
            "id": 1,
            "customer": {"name": "Ada", "address": {"city": "Oslo"}},
            "way_points": [{"city": "Oslo"}, {"city": "Bergen", "zipcode": "5003"}],
            "tags": ["a", "b"],
        }
    )
    assert flatten(tree) == [
        "id",
        "customer",
        "customer.name",
        "customer.address",
        "customer.address.city",
        "way_points",
        "way_points[*].city",
        "way_points[*].zipcode",
        "tags",
    ]
    assert tree[0] == FieldNode(name="id", path="id")


def test_sub_fields_open_when_one_below_is_checked() -> None:
    customer, way_points = field_tree(
        {"customer": {"address": {"city": "Oslo"}}, "way_points": [{"a": 1}]}
    )
    assert has_checked_below(customer, {"customer.address.city"})
    assert not has_checked_below(customer, {"customer"})
    assert not has_checked_below(way_points, {"customer.address.city"})


def test_keys_that_are_not_identifiers_are_quoted() -> None:
    assert child_path("", "odd key") == '["odd key"]'
    assert child_path("a", 'say "hi"') == 'a["say \\"hi\\""]'
    assert child_path("a[*]", "b") == "a[*].b"


def test_depth_is_bounded() -> None:
    deep: dict[str, object] = {"leaf": 1}
    for _level in range(MAX_DEPTH + 3):
        deep = {"next": deep}
    assert max(path.count(".") for path in flatten(field_tree(deep))) == MAX_DEPTH - 1


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_every_offered_path_is_valid_and_selects_something(name: str) -> None:
    example = EVENT_TYPES[name].example_copy()
    paths = flatten(field_tree(example))
    assert parse_fields(paths) == tuple(paths)
    for path in paths:
        assert compile_selection((path,)).apply(example) != {}, path
