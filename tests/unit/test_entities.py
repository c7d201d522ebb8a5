"""The change-trigger rule: which snapshot changes emit events."""

from __future__ import annotations

from waypost.domain.catalog import EVENT_TYPES
from waypost.domain.entities import UNSEEN, changes, entity_kinds, fires, watched_fields


def test_the_catalog_watches_an_orders_fleet_id() -> None:
    assert entity_kinds(EVENT_TYPES.values()) == {"order"}
    watched = watched_fields("order", EVENT_TYPES.values())
    assert [t.name for t in watched["fleet_id"]] == ["task_assigned_to_dp"]
    assert watched_fields("driver", EVENT_TYPES.values()) == {}


def test_first_sighting_is_recorded_but_does_not_fire() -> None:
    [change] = changes({"fleet_id": 2899}, ["fleet_id"], {})
    assert change.before is UNSEEN
    assert not fires(change)


def test_a_new_value_fires_and_the_same_value_does_not() -> None:
    [change] = changes({"fleet_id": 3100}, ["fleet_id"], {"fleet_id": 2899})
    assert (change.before, change.after) == (2899, 3100)
    assert fires(change)
    assert changes({"fleet_id": 2899}, ["fleet_id"], {"fleet_id": 2899}) == []


def test_missing_fields_are_no_change_and_null_does_not_fire() -> None:
    assert changes({"title": "x"}, ["fleet_id"], {"fleet_id": 2899}) == []
    [cleared] = changes({"fleet_id": None}, ["fleet_id"], {"fleet_id": 2899})
    assert not fires(cleared)
    [assigned] = changes({"fleet_id": 7}, ["fleet_id"], {"fleet_id": None})
    assert fires(assigned)
