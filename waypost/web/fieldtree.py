"""The "Enable Flexible Webhook" tree: every field of an event's example as a checkbox.

Each node carries the path that selects it (``customer.name``,
``way_points[*].city``), in the grammar of ``waypost.domain.paths``, so the
checked boxes are the subscription's ``fields`` as they are.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
MAX_DEPTH = 4
"""Deeper objects are offered whole: a tree a person can still scan."""


@dataclass(frozen=True, kw_only=True)
class FieldNode:
    name: str
    path: str
    children: tuple[FieldNode, ...] = ()


def child_path(parent: str, key: str) -> str:
    """``parent`` extended by ``key``, quoting keys that are not identifiers."""
    if _IDENTIFIER.fullmatch(key):
        return f"{parent}.{key}" if parent else key
    quoted = key.replace("\\", "\\\\").replace('"', '\\"')
    step = f'["{quoted}"]'
    return f"{parent}{step}" if parent else step


def _element_keys(items: list[Any]) -> dict[str, list[Any]]:
    """The keys of an array's object elements, in first-seen order, with their values."""
    keys: dict[str, list[Any]] = {}
    for item in items:
        if isinstance(item, Mapping):
            for key, value in item.items():
                keys.setdefault(str(key), []).append(value)
    return keys


def _children(values: list[Any], path: str, depth: int) -> tuple[FieldNode, ...]:
    """Nodes under ``path``, from every value seen there (several for array elements)."""
    if depth >= MAX_DEPTH:
        return ()
    objects = [value for value in values if isinstance(value, Mapping)]
    if objects:
        keys: dict[str, list[Any]] = {}
        for value in objects:
            for key, child in value.items():
                keys.setdefault(str(key), []).append(child)
        return tuple(_node(key, child_path(path, key), found, depth) for key, found in keys.items())
    arrays = [value for value in values if isinstance(value, list)]
    elements = _element_keys([item for array in arrays for item in array])
    return tuple(
        _node(key, child_path(f"{path}[*]", key), found, depth) for key, found in elements.items()
    )


def _node(name: str, path: str, values: list[Any], depth: int) -> FieldNode:
    return FieldNode(name=name, path=path, children=_children(values, path, depth + 1))


def field_tree(example: Mapping[str, Any]) -> tuple[FieldNode, ...]:
    """One node per top-level field of ``example``, each with its nested fields."""
    return _children([example], "", 0)


def flatten(nodes: tuple[FieldNode, ...]) -> list[str]:
    """Every path of the tree, parents before their children."""
    paths: list[str] = []
    for node in nodes:
        paths.append(node.path)
        paths.extend(flatten(node.children))
    return paths


def has_checked_below(node: FieldNode, checked: Collection[str]) -> bool:
    """Whether a field under ``node`` is checked: its sub-fields are then shown open."""
    return any(
        child.path in checked or has_checked_below(child, checked) for child in node.children
    )
