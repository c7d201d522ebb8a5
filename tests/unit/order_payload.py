"""A realistic order event: Bringg's ``task_assigned_to_dp`` payload, trimmed.

Modeled on the example payload in Bringg's webhook documentation (order 2859,
delivery provider GLS), keeping the fields the routing and selection tests use.
"""

from __future__ import annotations

from typing import Any

ORDER: dict[str, Any] = {
    "id": 2859,
    "title": "ADEO - Mission",
    "created_at": "2022-11-29T12:15:11.205Z",
    "updated_at": "2022-11-29T12:15:16.007Z",
    "customer_id": 10170,
    "user_id": None,
    "status": "Assigned to Delivery Provider",
    "scheduled_at": "2022-11-29T13:15:10.980Z",
    "merchant_id": 62779,
    "fleet_id": 2899,
    "fleet_name": "GLS",
    "webhook_type": "task_assigned_to_dp",
    "external_id": "GLS test automation order",
    "late": False,
    "automatically_ended": 0,
    "team_ids": [157390],
    "way_points": [
        {
            "id": 5653,
            "lat": 44.4023416,
            "lng": 8.9538962,
            "done": False,
            "address": "Corso Torino, 18/20/22R, 16129 Genova GE, Italy",
            "position": 1,
            "scheduled_at": "2022-11-29T13:15:10.980Z",
            "no_later_than": None,
            "zipcode": "10002",
            "city": "New York",
            "state": "GA",
            "customer_contact_ids": [10171],
            "customer": {"id": 10171, "name": "GLS lover# 548", "external_id": "10171"},
        },
        {
            "id": 5654,
            "lat": 43.767042,
            "lng": 11.2181254,
            "done": False,
            "address": "Via Duccio di Buoninsegna, 20, 50143 Firenze FI, Italy",
            "position": 2,
            "scheduled_at": "2022-11-29T13:15:10.980Z",
            "no_later_than": "2022-11-29T14:30:11.023Z",
            "zipcode": "10002",
            "city": "New York",
            "state": "GA",
            "customer_contact_ids": [10172],
            "delivery_method": "home_delivery",
            "customer": {"id": 10172, "name": "GLS lover# 858", "external_id": "10172"},
        },
    ],
    "customer": {
        "id": 10170,
        "name": "Automation Customer 3555478327",
        "external_id": "10170",
        "phone": "+393123485889",
        "email": None,
        "uploaded_profile_image": {"url": "/images/avatar.png"},
    },
    "task_inventories": [
        {
            "id": 5500,
            "name": "Beff Sandwich",
            "quantity": 1,
            "price": 10.9,
            "way_point_id": 5654,
            "scanned": False,
            "services": [],
        },
        {
            "id": 5501,
            "name": "Sparkling Water",
            "quantity": 6,
            "price": 0.9,
            "way_point_id": 5654,
            "scanned": True,
            "services": ["fragile"],
        },
    ],
    "task_notes": [
        {
            "id": 2619,
            "note": "Drop off Box in Bin by Front Desk, please.",
            "way_point_id": 5654,
            "type": "TaskNote",
            "author_name": "Director for 62779",
        }
    ],
}
