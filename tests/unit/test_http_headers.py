"""What can be sent as a header: names, values and media types, at their boundaries."""

from __future__ import annotations

import pytest

from waypost.domain import headers
from waypost.errors import ValidationFailed

CONTROLS = [chr(code) for code in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)]


@pytest.mark.parametrize("name", ["Authorization", "x-api-key", "X_Custom.1", "!#$%&'*+-.^_`|~"])
def test_tokens_are_names(name: str) -> None:
    headers.check_name("header", name)


@pytest.mark.parametrize(
    "name", ["", "X Api", "X:Api", "X-Api\r\n", "(x)", "Ключ", "x\x00", "x\t", '"x"', "a/b"]
)
def test_anything_else_is_refused_as_a_name(name: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        headers.check_name("configuration.headers[0].key", name)
    assert refused.value.reason == f"configuration.headers[0].key: {headers.NAME_RULE}"


@pytest.mark.parametrize("control", CONTROLS)
def test_every_control_character_but_tab_is_refused_in_a_value(control: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        headers.check_header("configuration.headers[2]", "X-Key", f"secret{control}value")
    reason = refused.value.reason
    assert reason == "configuration.headers[2].value: must not contain control characters"
    assert "secret" not in reason


@pytest.mark.parametrize("value", ["", "Bearer a.b.c", "tab\there", " spaced ", "é ✓ 鍵", "a=b;c"])
def test_visible_text_space_and_tab_are_values(value: str) -> None:
    headers.check_header("headers[0]", "X-Key", value)


def test_a_bad_name_is_reported_before_its_value() -> None:
    with pytest.raises(ValidationFailed, match=r"^headers\[1\]\.key: "):
        headers.check_header("headers[1]", "X Key", "a\nb")


@pytest.mark.parametrize(
    "media_type",
    [
        "application/json",
        "application/vnd.api+json",
        "text/plain; charset=utf-8",
        "text/plain;charset=UTF-8",
        'multipart/mixed; boundary="a b;c"',
        "application/x-www-form-urlencoded",
    ],
)
def test_media_types(media_type: str) -> None:
    headers.check_media_type("configuration.content_type", media_type)


@pytest.mark.parametrize(
    "media_type",
    ["json", "application/", "/json", "application/json;", "application json", "text/plain; a"],
)
def test_shapeless_content_types_are_refused(media_type: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        headers.check_media_type("configuration.content_type", media_type)
    assert refused.value.reason == f"configuration.content_type: {headers.MEDIA_TYPE_RULE}"


@pytest.mark.parametrize("control", ["\r", "\n", "\x00"])
def test_a_content_type_with_a_control_character_says_so(control: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        headers.check_media_type("configuration.content_type", f"application/json{control}X: y")
    assert refused.value.reason == "configuration.content_type: must not contain control characters"


def test_unsendable_names_the_header_never_its_value() -> None:
    assert headers.unsendable({"Content-Type": "application/json", "X-Key": "a\tb"}) is None
    problem = headers.unsendable({"Content-Type": "application/json", "X-Key": "top\r\nsecret"})
    assert problem == "header 'X-Key': value must not contain control characters"
    bad_name = headers.unsendable({"X Key\n": "top-secret"})
    assert bad_name == f"header name 'X Key\\n': {headers.NAME_RULE}"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("X-Key", "plain"),
        ("X-Key", "tab\there"),
        ("X-Key", "no\u00a0break space"),
        ("X-Key", "line\u2028separator"),
        ("X-Key", "é ✓"),
        ("X\nKey", "v"),
        ("X Key", "v"),
        ("", "v"),
        ("X-Key", "a\rb"),
        ("X-Key", "a\x7f"),
        ("Ключ", "v"),
    ],
)
def test_unsendable_agrees_with_the_rules_of_each_header(key: str, value: str) -> None:
    """The quick path for the usual case decides as the header-by-header rules do."""
    fine = headers.is_name(key) and headers.is_value(value)
    together = {"Content-Type": "application/json", key: value, "webhook-id": "msg_1"}
    assert (headers.unsendable(together) is None) == fine
