"""The one exception tree: every class derives from WaypostError and is drawn in the
module's docstring under its parent, with its status."""

from __future__ import annotations

import inspect
import re

import waypost.errors as errors
from waypost.errors import WaypostError

_NODE = re.compile(r"^(?P<lead>[ │├└─]*)(?P<name>[A-Z]\w+)\s+(?P<status>\d{3})\b")


def _classes() -> list[type[WaypostError]]:
    return [
        value
        for value in vars(errors).values()
        if inspect.isclass(value) and issubclass(value, WaypostError)
    ]


def _drawn() -> dict[str, tuple[int, int]]:
    """Each class drawn in the tree: its name's column and its status."""
    nodes = {}
    for line in (errors.__doc__ or "").splitlines():
        if found := _NODE.match(line):
            nodes[found["name"]] = (len(found["lead"]), int(found["status"]))
    return nodes


def test_every_exception_of_the_module_derives_from_the_root() -> None:
    for value in vars(errors).values():
        if inspect.isclass(value) and issubclass(value, BaseException):
            assert issubclass(value, WaypostError), value


def test_the_docstring_draws_each_class_under_its_parent_with_its_status() -> None:
    drawn = _drawn()
    assert set(drawn) == {kind.__name__ for kind in _classes()}
    for kind in _classes():
        column, status = drawn[kind.__name__]
        assert status == kind.status, kind
        if kind is not WaypostError:
            parent = kind.__mro__[1]
            # "├── " or "└── " puts a child four columns right of its parent.
            assert drawn[parent.__name__][0] == column - 4, (kind, parent)
