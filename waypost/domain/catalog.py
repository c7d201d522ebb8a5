"""The event catalog: every event type a subscription can name, grouped.

Two dialects share it. Bring Event Cast's 18 parcel tracking groups, each also
an event type of the same name (a producer posts ``type: "IN_TRANSIT"``), and
Bringg's webhook types (the list of its Undelivered Webhooks Report) in
order-lifecycle groups such as ``order``, ``way_point`` and ``driver``. Each
type carries a realistic example, a JSON Schema of its top-level fields and
its default field set (the whole payload).
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib.resources import files
from types import MappingProxyType
from typing import Any


class Dialect(StrEnum):
    EVENTCAST = "eventcast"
    BRINGG = "bringg"


@dataclass(frozen=True, kw_only=True)
class EventGroup:
    name: str
    description: str
    dialect: Dialect


@dataclass(frozen=True, kw_only=True)
class EventType:
    name: str
    title: str
    group: str
    description: str
    example: Mapping[str, Any]
    schema: Mapping[str, Any]
    default_fields: tuple[str, ...]
    trigger_on_change: str | None = None
    """Fires only when this field of the entity changes (``task_assigned_to_dp``: fleet_id)."""
    trigger_entity: str | None = None
    """The kind of entity whose snapshots carry that field (``task_assigned_to_dp``: order)."""

    def example_copy(self) -> dict[str, Any]:
        """A mutable copy of the example; the catalog's own stays unchanged."""
        return copy.deepcopy(dict(self.example))


EVENTCAST_GROUP_DESCRIPTIONS = {
    "ATTEMPTED_DELIVERY": "A delivery was attempted but the parcel could not be delivered.",
    "CUSTOMS": "The parcel is being handled by customs.",
    "COLLECTED": "The recipient collected the parcel at a pickup point.",
    "DELIVERED": "The parcel was delivered to the recipient.",
    "DELIVERED_SENDER": "The parcel was returned and delivered back to the sender.",
    "DELIVERY_CANCELLED": "The delivery of the parcel was cancelled.",
    "DELIVERY_CHANGED": "The delivery was changed (time, address or method).",
    "DELIVERY_ORDERED": "A delivery of the parcel was ordered.",
    "DEVIATION": "Something deviated from the plan: damage, delay or a missing parcel.",
    "HANDED_IN": "The sender handed the parcel in to the carrier.",
    "INTERNATIONAL": "The parcel passed an international transport step.",
    "IN_TRANSIT": "The parcel is on its way between terminals.",
    "NOTIFICATION_SENT": "A notification about the parcel was sent to the recipient.",
    "PRE_NOTIFIED": "The carrier received the shipment's electronic pre-notification (EDI).",
    "READY_FOR_PICKUP": "The parcel is ready for pickup at a pickup point.",
    "RETURN": "The parcel is being returned to the sender.",
    "TRANSPORT_TO_RECIPIENT": "The parcel is out for delivery to the recipient.",
    "TERMINAL": "The parcel arrived at or left a terminal.",
}

BRINGG_GROUP_DESCRIPTIONS = {
    "order": "An order's lifecycle: created, assigned, accepted, done, cancelled, changed.",
    "way_point": "A stop of an order: arrival, departure, check-in, schedule and ETA changes.",
    "driver": "A driver's day: shifts, breaks, location, availability and actions.",
    "customer": "Customers of the merchant: created, SMS opt-in and opt-out.",
    "route": "Planning and routes: optimization, planning done, runs started and ended.",
    "inventory": "Scans and inventory changes.",
    "alert": "Alerts raised by the platform.",
    "user": "Users of the platform.",
    "carrier": "Carrier (delivery provider) integration: assignment and delivery requests.",
}

# (webhook_type, title, sent when, group): the seed's "Webhook Types" table, in its order,
# then Bringg's carrier-integration webhooks.
_BRINGG_TYPES: tuple[tuple[str, str, str, str], ...] = (
    ("scan_created", "Any Scan", "A scan is performed.", "inventory"),
    ("customer_created", "Customer Created", "A new customer is created.", "customer"),
    ("task_checked_in", "Arrived to Destination (Check-in)", "A driver arrives at an order way point.", "way_point"),
    ("task_cashout_created", "Cashout Created", "A cashout flow is initiated.", "order"),
    ("customer_opted_in", "Customer Opted in to SMS", "A customer opts in to receive SMS notifications.", "customer"),
    ("customer_opted_out", "Customer Opted Out of SMS", "A customer opts out of receiving SMS notifications.", "customer"),
    ("customer_tipped", "Customer Tipped Driver", "A customer tips a driver.", "order"),
    ("way_point_schedule_changed", "Destination Rescheduled (way point)", "The scheduled time or time window on a waypoint is updated manually, by the customer, or via API.", "way_point"),
    ("way_point_arrived", "Driver Arrived at Destination", "A driver arrives at a way point.", "way_point"),
    ("driver_type_changed", "Driver Changed Type", "A user's role is changed.", "driver"),
    ("driver_ended_break", "Driver Ended Break", "A driver ends a break.", "driver"),
    ("driver_got_home", "Driver Got Home", 'A driver returns to their "home" base.', "driver"),
    ("driver_left_home", "Driver Left Home", 'A driver leaves their "home" base.', "driver"),
    ("driver_location_updated", "Driver Location Updated", "A driver's location is updated.", "driver"),
    ("driver_made_action", "Driver Made Action", "A driver completes an action in the Driver App.", "driver"),
    ("driver_on_the_way", "Driver on Way", "A driver is on the way to an order location.", "way_point"),
    ("driver_shift_schedule", "Driver Schedule Changed", "A driver's shift schedule changed.", "driver"),
    ("driver_started_break", "Driver Started Break", "A driver starts a break.", "driver"),
    ("driver_unavailable_status_changed", "Driver Unavailable Status Changed", "A driver changes their availability status.", "driver"),
    ("floating_inventory_updated", "Floating Inventory Updated", "A change is made to floating inventory.", "inventory"),
    ("created_form", "Form was Added to Order", "A form is completed and added to an order.", "order"),
    ("inventory_scanned", "Inventory Scanned", "Inventory is scanned.", "inventory"),
    ("way_point_left", "Left Destination (Way Point)", "A driver departs from an order way point.", "way_point"),
    ("alert_created", "New Alert", "An alert is triggered.", "alert"),
    ("note_created", "Note was Added to Order", "A note, photo, signature, or form is added to an order.", "order"),
    ("route_optimization_done", "Optimization Applied", "Route optimization is completed.", "route"),
    ("accepted_by_fleet", "Order Accepted by Carrier", "A carrier accepts an order.", "carrier"),
    ("task_accepted", "Order Accepted by Driver", "A driver accepts an order.", "order"),
    ("task_acknowledged", "Order Acknowledged", "A dispatcher acknowledges an order in the Bringg platform (when the Acknowledge Flow is active).", "order"),
    ("task_assigned_to_dp", "Order Assigned to Carrier", "An order is assigned to a carrier.", "carrier"),
    ("driver_assigned", "Order Assigned To Driver", "An order is assigned to a driver.", "order"),
    ("task_cancelled", "Order Cancelled", "An order is canceled.", "order"),
    ("task_created", "Order Created", "A new order is created.", "order"),
    ("task_extras_changed", "Order Custom Attribute Changed", "A change is made to a custom attribute (extras) attached to an order.", "order"),
    ("task_done", "Order Done", "An order is completed.", "order"),
    ("way_point_eta_changed", "Order ETA Changed", "An order's estimated time of arrival changes.", "way_point"),
    ("task_late", "Order Marked Late", "An order is not completed by the scheduled time.", "order"),
    ("task_payment_created", "Order Payment Created", "A payment is completed.", "order"),
    ("task_preparation_changed", "Order Preparation Status Changed", "The preparation status of an order is changed.", "order"),
    ("tasks_sent_to_driver", "Orders Ready to be Executed", 'Orders in Planning are marked as "ready to execute."', "route"),
    ("order_reassigned_with_reason", "Order Reassigned with Reason", "A dispatcher reassigns a driver and includes a reason.", "order"),
    ("task_rejected_order", "Order Rejected By Driver", "A driver rejects an order.", "order"),
    ("driver_unassigned", "Order Unassigned from Driver", "An order is unassigned from a driver.", "order"),
    ("runs_planning_done", "Planning Done", 'A set of orders are added to a route and marked as "Done Planning".', "route"),
    ("rating_submitted", "Rating Submitted", "A customer has rated their order experience.", "order"),
    ("route_plan_updated", "Route Plan Updated", "A route is updated manually or automatically using route optimization.", "route"),
    ("run_ended", "Run Ended", "A driver finishes a route.", "route"),
    ("run_started", "Run Started", "A driver starts a route.", "route"),
    ("shared_location_created", "Shared Location Created (SMS Sent)", "A driver's location is shared with a customer.", "order"),
    ("driver_ended_shift", "Shift Ended for Driver", "A driver ends a shift.", "driver"),
    ("started_shift", "Shift Started for Driver", "A driver starts a shift.", "driver"),
    ("user_created", "User Created", "A user is created in Bringg.", "user"),
    ("way_point_scheduled_arrival_updated", "Way Point Scheduled Arrival Updated", "The scheduled_at field is updated manually or using Route Optimization.", "way_point"),
    ("delivery_created", "Delivery Created", "An order is sent to a carrier, which must acknowledge it with its delivery_id.", "carrier"),
    ("delivery_updated", "Delivery Updated", "An order sent to a carrier changes (address, time, items).", "carrier"),
    ("delivery_cancelled", "Delivery Cancelled", "An order sent to a carrier is cancelled.", "carrier"),
)  # fmt: skip

_TIME = "2022-11-29T12:15:11.205Z"


def _customer() -> dict[str, Any]:
    return {
        "id": 10171,
        "external_id": "CUST-548",
        "name": "GLS lover# 548",
        "phone": "+12346666777",
        "email": "lover548@example.com",
        "address": "Corso Torino, 18/20/22R, 16129 Genova GE, Italy",
        "created_at": _TIME,
    }


def _way_point(position: int) -> dict[str, Any]:
    pickup = position == 1
    return {
        "id": 5652 + position,
        "task_id": 2859,
        "position": position,
        "name": "Warehouse Genova" if pickup else "GLS lover# 548",
        "address": "Via Roma 1, 16121 Genova GE, Italy"
        if pickup
        else "Corso Torino, 18/20/22R, 16129 Genova GE, Italy",
        "city": "Genova",
        "zipcode": "16121" if pickup else "16129",
        "lat": 44.4071 if pickup else 44.4023416,
        "lng": 8.9339 if pickup else 8.9538962,
        "scheduled_at": "2022-11-29T13:15:10.980Z",
        "no_earlier_than": "2022-11-29T13:00:00.000Z",
        "no_later_than": "2022-11-29T14:00:00.000Z",
        "eta": "2022-11-29T13:20:10.980Z",
        "done": False,
        "checkin_time": None,
        "checkout_time": None,
        "phone": "+12346666777",
        "customer_id": 10171,
    }


def _order(webhook_type: str, status: int = 1) -> dict[str, Any]:
    return {
        "id": 2859,
        "external_id": "ORD-2022-2859",
        "title": "ADEO - Mission",
        "status": status,
        "merchant_id": 62779,
        "fleet_id": 2899,
        "fleet_name": "GLS",
        "user_id": 4411,
        "customer_id": 10170,
        "created_at": _TIME,
        "updated_at": "2022-11-29T12:15:16.007Z",
        "scheduled_at": "2022-11-29T13:15:10.980Z",
        "total_price": 49.9,
        "extras": None,
        "customer": _customer(),
        "way_points": [_way_point(1), _way_point(2)],
        "task_inventories": [
            {
                "id": 1,
                "external_id": "SKU-1001",
                "name": "Garden chair",
                "quantity": 4,
                "price": 7.5,
            },
            {"id": 2, "external_id": "SKU-2040", "name": "Parasol", "quantity": 1, "price": 19.9},
        ],
        "task_notes": [
            {"id": 901, "note": "Leave at the back door", "type": "TaskNote", "created_at": _TIME}
        ],
        "webhook_type": webhook_type,
    }


def _driver() -> dict[str, Any]:
    return {
        "id": 4411,
        "external_id": "DRV-77",
        "name": "Giulia Rossi",
        "phone": "+393331234567",
        "email": "giulia.rossi@example.com",
        "driver": True,
        "status": "online",
        "lat": 44.4056,
        "lng": 8.9463,
        "merchant_id": 62779,
        "team_ids": [12],
    }


def _run() -> dict[str, Any]:
    return {
        "id": 7301,
        "external_id": "RUN-2022-11-29-1",
        "user_id": 4411,
        "team_id": 12,
        "started_at": _TIME,
        "ended_at": None,
        "task_ids": [2859, 2860, 2861],
    }


def _example(name: str, group: str) -> dict[str, Any]:
    """A payload of the family the type belongs to, carrying its own ``webhook_type``."""
    envelope: dict[str, Any]
    if name == "delivery_updated":
        envelope = {"task_id": 2859, "delivery_id": "ABCD1234", "way_point": _way_point(2)}
    elif name == "delivery_cancelled":
        envelope = {
            "delivery_id": "ABCD1234",
            "id": 2859,
            "reason_id": 1,
            "reason": "Customer cancelled the order",
            "request_id": "c0ffee00-0000-4000-8000-000000002859",
        }
    elif group in ("order", "carrier"):
        return _order(name, status=7 if name == "task_cancelled" else 1)
    elif group == "way_point":
        envelope = {"task_id": 2859, "way_point": _way_point(2)}
    elif group == "driver":
        envelope = {"user": _driver(), "user_available": name != "driver_started_break"}
    elif group == "customer":
        envelope = {"customer": _customer()}
    elif name == "tasks_sent_to_driver":
        envelope = {"user": _driver(), "tasks": [_order("task_created")]}
    elif group == "route":
        envelope = {"run": _run()}
    elif group == "alert":
        envelope = {"alert": {"id": 33, "type": "task_late", "task_id": 2859, "created_at": _TIME}}
    elif group == "user":
        envelope = {"user": _driver()}
    else:
        envelope = {
            "scan": {"id": 5150, "task_id": 2859, "barcode": "8001234567890", "created_at": _TIME}
        }
    return {**envelope, "webhook_type": name}


_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}


def schema_of(example: Mapping[str, Any], webhook_type: str | None = None) -> dict[str, Any]:
    """A JSON Schema of the example's top-level fields (nullable where the example is null)."""
    properties: dict[str, Any] = {}
    for key, value in example.items():
        if value is None:
            properties[key] = {}
        elif isinstance(value, dict):
            properties[key] = {"type": ["object", "null"]}
        else:
            properties[key] = {"type": [_JSON_TYPES[type(value)], "null"]}
    if webhook_type is not None:
        properties["webhook_type"] = {"const": webhook_type}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
    }


def _seed_example() -> dict[str, Any]:
    resource = files("waypost.domain").joinpath("catalog_examples/task_assigned_to_dp.json")
    example: dict[str, Any] = json.loads(resource.read_text())
    return example


def frozen(value: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(value)


def _build() -> tuple[dict[str, EventGroup], dict[str, EventType]]:
    groups = {
        name: EventGroup(name=name, description=text, dialect=Dialect.EVENTCAST)
        for name, text in EVENTCAST_GROUP_DESCRIPTIONS.items()
    }
    groups.update(
        (name, EventGroup(name=name, description=text, dialect=Dialect.BRINGG))
        for name, text in BRINGG_GROUP_DESCRIPTIONS.items()
    )
    types: dict[str, EventType] = {}
    for name, text in EVENTCAST_GROUP_DESCRIPTIONS.items():
        example = {"shipment": "SHIPMENTNUMBER", "package": "TESTPACKAGEDELIVERED"}
        types[name] = EventType(
            name=name,
            title=name.replace("_", " ").capitalize(),
            group=name,
            description=text,
            example=frozen(example),
            schema=frozen(schema_of(example, None)),
            default_fields=tuple(example),
        )
    for name, title, text, group in _BRINGG_TYPES:
        example = _seed_example() if name == "task_assigned_to_dp" else _example(name, group)
        types[name] = EventType(
            name=name,
            title=title,
            group=group,
            description=text,
            example=frozen(example),
            schema=frozen(schema_of(example, name)),
            default_fields=tuple(example),
            trigger_on_change="fleet_id" if name == "task_assigned_to_dp" else None,
            trigger_entity="order" if name == "task_assigned_to_dp" else None,
        )
    return groups, types


_GROUPS, _TYPES = _build()
EVENT_GROUPS: Mapping[str, EventGroup] = MappingProxyType(_GROUPS)
EVENT_TYPES: Mapping[str, EventType] = MappingProxyType(_TYPES)
EVENTCAST_GROUPS: frozenset[str] = frozenset(EVENTCAST_GROUP_DESCRIPTIONS)
_MEMBERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {group: tuple(t.name for t in _TYPES.values() if t.group == group) for group in _GROUPS}
)


def event_type(name: str) -> EventType | None:
    return EVENT_TYPES.get(name)


def group_members(group: str) -> tuple[str, ...]:
    return _MEMBERS.get(group, ())


def suggest_types(name: str, limit: int = 5) -> list[str]:
    """The closest known type names, for "unknown type" errors."""
    return difflib.get_close_matches(name, list(EVENT_TYPES), n=limit, cutoff=0.6)


def is_wildcard(name: str) -> bool:
    """Bring rejects wildcards such as ``*`` and ``ALL``; so do we."""
    return name.strip() in ("*", "") or name.strip().upper() in ("ALL", "ANY")
