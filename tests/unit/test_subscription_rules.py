"""Event Cast's field rules, at their boundaries."""

from __future__ import annotations

import pytest

from waypost.domain import subscriptions as rules
from waypost.errors import ValidationFailed


def test_headers_length_counts_colons_and_commas() -> None:
    assert rules.headers_length([]) == 0
    assert rules.headers_length([("a", "b")]) == 3
    assert rules.headers_length([("a", "b"), ("cc", "dd")]) == len("a:b,cc:dd")


def test_headers_of_exactly_1024_pass_and_1025_fail() -> None:
    key = "x-key"
    fits = [(key, "v" * (1024 - len(key) - 1))]
    assert rules.headers_length(fits) == 1024
    rules.check_headers(fits)
    with pytest.raises(ValidationFailed, match="1025, at most 1024"):
        rules.check_headers([(key, "v" * (1025 - len(key) - 1))])


def test_duplicate_header_names_are_rejected_case_insensitively() -> None:
    with pytest.raises(ValidationFailed, match=r"headers\[1\]"):
        rules.check_headers([("Authorization", "a"), ("authorization", "b")])


def test_each_header_must_be_sendable_and_the_field_is_named_as_the_body_has_it() -> None:
    pairs = [("Authorization", "Bearer a"), ("X-Key", "secret\r\nX-Injected: 1")]
    with pytest.raises(ValidationFailed) as refused:
        rules.check_headers(pairs)
    assert refused.value.reason == (
        "configuration.headers[1].value: must not contain control characters"
    )
    with pytest.raises(ValidationFailed, match=r"^headers\[0\]\.key: must be an HTTP token"):
        rules.check_headers([("X Key", "v")], "headers")


@pytest.mark.parametrize("wildcard", ["*", "ALL", "all"])
def test_wildcard_groups_are_rejected(wildcard: str) -> None:
    with pytest.raises(ValidationFailed, match="wildcards"):
        rules.check_event_groups(["DELIVERED", wildcard])


def test_groups_are_checked_and_deduplicated() -> None:
    assert rules.check_event_groups(["DELIVERED", "IN_TRANSIT", "DELIVERED"]) == (
        "DELIVERED",
        "IN_TRANSIT",
    )
    with pytest.raises(ValidationFailed, match=r"event_groups\[1\]: unknown event group 'LOST'"):
        rules.check_event_groups(["DELIVERED", "LOST"])


def test_unknown_event_type_suggests_close_names() -> None:
    with pytest.raises(ValidationFailed, match="task_created"):
        rules.check_event_types(["task_creatd"])


def test_retry_delays_are_bounded() -> None:
    assert rules.check_retry_delays([1, 60, 3600]) == (1.0, 60.0, 3600.0)
    with pytest.raises(ValidationFailed, match=r"retry_delays\[0\]"):
        rules.check_retry_delays([-1])
    with pytest.raises(ValidationFailed, match="at most 20"):
        rules.check_retry_delays([1.0] * 21)
