"""Which request headers may be kept and shown with their values.

Everything else (static headers, the auth method's token, the signature) is
shown as set, never its value.
"""

from __future__ import annotations

from collections.abc import Mapping

SHOWN = frozenset(
    {
        "content-type",
        "user-agent",
        "webhook-id",
        "webhook-timestamp",
        "x-bring-application",
        "x-bring-correlation",
        "x-bring-version",
    }
)
MASK = "•••••• (set)"


def masked_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """``headers`` in order, each value replaced by ``MASK`` unless its name is in ``SHOWN``."""
    return [(name, value if name.lower() in SHOWN else MASK) for name, value in headers.items()]
