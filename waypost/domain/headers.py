"""What can be sent as an HTTP header field (RFC 9110, sections 5.1, 5.5 and 8.3.1).

A field name is a token; a value may hold any visible character, space and
horizontal tab, but no other control character: a CR or LF would end the
header early (header injection) and aiohttp refuses to send any of them. The
rules are checked where a subscription or an auth method is saved, naming the
field, and again when a request is built, for rows saved before the rules were.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from waypost.errors import ValidationFailed

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_NAME = re.compile(_TOKEN)
_NAME_LINES = re.compile(rf"{_TOKEN}(?:\n{_TOKEN})*")
# Every C0 control character but horizontal tab, and DEL: what aiohttp refuses to send.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_QUOTED = r'"(?:[^"\\]|\\.)*"'
# type "/" subtype *( OWS ";" OWS name "=" ( token / quoted-string ) )
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|{_QUOTED}))*")

NAME_RULE = "must be an HTTP token: letters, digits and !#$%&'*+-.^_`|~ only"
VALUE_RULE = "must not contain control characters"
MEDIA_TYPE_RULE = "must be a media type such as application/json or text/plain; charset=utf-8"


def is_name(text: str) -> bool:
    return _NAME.fullmatch(text) is not None


def is_value(text: str) -> bool:
    return _CONTROL.search(text) is None


def check_name(field: str, text: str) -> None:
    if not is_name(text):
        raise ValidationFailed(f"{field}: {NAME_RULE}")


def check_value(field: str, text: str) -> None:
    if not is_value(text):
        raise ValidationFailed(f"{field}: {VALUE_RULE}")


def check_header(field: str, key: str, value: str) -> None:
    """A ``{"key", "value"}`` item at ``field``; the error names ``field.key`` or
    ``field.value``, never the value itself (header values are secrets)."""
    check_name(f"{field}.key", key)
    check_value(f"{field}.value", value)


def check_media_type(field: str, text: str) -> None:
    check_value(field, text)
    if _MEDIA_TYPE.fullmatch(text) is None:
        raise ValidationFailed(f"{field}: {MEDIA_TYPE_RULE}")


def unsendable(headers: Mapping[str, str]) -> str | None:
    """Why ``headers`` cannot be sent, naming the header but not its value; ``None`` if
    they can."""
    # Every request is checked, so the usual case is made quick: printable text holds no
    # control character (nor a tab, which sends the rare header with one the long way),
    # and then no name holds the line break that separates the names here.
    printable = " ".join((*headers, *headers.values())).isprintable()
    if printable and _NAME_LINES.fullmatch("\n".join(headers)):
        return None
    for key, value in headers.items():
        if not is_name(key):
            return f"header name {key!r}: {NAME_RULE}"
        if not is_value(value):
            return f"header {key!r}: value {VALUE_RULE}"
    return None
