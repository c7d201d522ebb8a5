"""Flexible payloads: a subscription's ``fields`` choose what its payload contains.

Each field is a path (see ``paths``, ``{a,b}`` allowed last). The rules:

- Selected fields keep their nesting (``customer.name`` gives
  ``{"customer": {"name": ...}}``); unselected ones are left out; selecting an
  object or array (``customer``) copies all of it.
- Missing paths are simply absent, and so is an object or array through which
  no selected path reaches a value (``customer.name`` on a customer without a
  name leaves ``customer`` out).
- Arrays keep positions: element ``i`` of an output array comes from element
  ``i`` of the input array, and a position that contributes nothing holds
  ``{}``. With ``[*]`` the output array has as many elements as the input
  (``way_points[*].address`` gives one ``{"address": ...}`` per way point);
  with indexes only it ends at the last selected index that contributes
  (``way_points[1].city`` gives ``[{}, {"city": ...}]``).
- Several paths merge into one tree: ``customer.name`` and ``customer.id``
  give one customer; ``way_points[*].address`` and ``way_points[0].city``
  merge in the first element.
- Selection never adds data, never changes a selected value, and returns a
  fresh structure that shares no container with the input.

The field list is compiled once into a trie of steps; ``apply`` walks the trie
and the data together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from waypost.domain.paths import Index, Key, Keys, Path, parse_path
from waypost.errors import ValidationFailed

_Label = TypeVar("_Label", str, int)


@dataclass(frozen=True)
class _Node:
    """One level of the selection trie; ``whole`` copies the value entirely."""

    whole: bool = False
    keys: tuple[tuple[str, _Node], ...] = ()
    indexes: tuple[tuple[int, _Node], ...] = ()
    every: _Node | None = None


_WHOLE = _Node(whole=True)


def _chain(path: Path) -> _Node:
    """The trie of a single path."""
    node = _WHOLE
    for step in reversed(path):
        if isinstance(step, Keys):
            node = _Node(keys=tuple((name, _WHOLE) for name in step.names))
        elif isinstance(step, Key):
            node = _Node(keys=((step.name, node),))
        elif isinstance(step, Index):
            node = _Node(indexes=((step.position, node),))
        else:
            node = _Node(every=node)
    return node


def _merge_children(
    left: Iterable[tuple[_Label, _Node]], right: Iterable[tuple[_Label, _Node]]
) -> tuple[tuple[_Label, _Node], ...]:
    merged = dict(left)
    for label, node in right:
        merged[label] = _merge(merged[label], node) if label in merged else node
    return tuple(merged.items())


def _merge(left: _Node, right: _Node) -> _Node:
    """A trie selecting everything either trie selects."""
    if left.whole or right.whole:
        return _WHOLE
    every = left.every if right.every is None else right.every
    if left.every is not None and right.every is not None:
        every = _merge(left.every, right.every)
    return _Node(
        keys=_merge_children(left.keys, right.keys),
        indexes=_merge_children(left.indexes, right.indexes),
        every=every,
    )


def _settle(node: _Node) -> _Node:
    """Fold ``[*]`` into each ``[N]`` beside it, so one node serves each element."""
    if node.whole:
        return node
    every = node.every
    return _Node(
        keys=tuple((name, _settle(child)) for name, child in node.keys),
        indexes=tuple(
            (position, _settle(child if every is None else _merge(every, child)))
            for position, child in sorted(node.indexes)
        ),
        every=None if every is None else _settle(every),
    )


class _Absent:
    """Marks a value the selection does not reach."""


_ABSENT = _Absent()


def _fresh(value: Any) -> Any:
    """A copy of decoded JSON sharing no container with ``value``."""
    if isinstance(value, Mapping):
        return {name: _fresh(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_fresh(item) for item in value]
    return value


def _select(node: _Node, value: Any) -> Any:
    if node.whole:
        return _fresh(value)
    if node.keys and isinstance(value, Mapping):
        chosen = {}
        for name, child in node.keys:
            if name in value:
                found = _select(child, value[name])
                if found is not _ABSENT:
                    chosen[name] = found
        return chosen or _ABSENT
    if isinstance(value, list) and (node.every is not None or node.indexes):
        return _select_elements(node, value)
    return _ABSENT


def _select_elements(node: _Node, value: list[Any]) -> Any:
    every = node.every
    if every is not None:
        nodes = dict(node.indexes)
        picked = [(i, _select(nodes.get(i, every), item)) for i, item in enumerate(value)]
    else:
        picked = [(i, _select(child, value[i])) for i, child in node.indexes if i < len(value)]
    found = {i: chosen for i, chosen in picked if chosen is not _ABSENT}
    if not found:
        return _ABSENT
    length = max(found) + 1 if every is None else len(value)
    return [found.get(i, {}) for i in range(length)]


@dataclass(frozen=True)
class Selection:
    """A compiled field list; ``apply`` shapes one event's data."""

    root: _Node

    def apply(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The selected part of ``data``, as a new structure."""
        chosen = _select(self.root, data)
        return chosen if isinstance(chosen, dict) else {}


def compile_selection(fields: Sequence[str]) -> Selection:
    """Compile validated field paths into one trie."""
    root = _Node()
    for text in fields:
        root = _merge(root, _chain(parse_path(text, allow_braces=True)))
    return Selection(_settle(root))


def parse_fields(raw: object) -> tuple[str, ...]:
    """Validate a subscription's ``fields`` as the API received them.

    Each must be a non-empty, valid path, and no path may repeat another
    (however spelled); a problem raises ValidationFailed naming the index.
    """
    if not isinstance(raw, list):
        raise ValidationFailed("fields: must be a list of paths, or null for the default data")
    seen: dict[Path, int] = {}
    for index, item in enumerate(raw):
        if not isinstance(item, str) or not item:
            raise ValidationFailed(f"fields[{index}]: must be a non-empty path string")
        try:
            path = parse_path(item, allow_braces=True)
        except ValidationFailed as exc:
            raise ValidationFailed(f"fields[{index}]: {exc.reason}") from exc
        if path in seen:
            raise ValidationFailed(f"fields[{index}]: {item!r} repeats fields[{seen[path]}]")
        seen[path] = index
    return tuple(raw)
