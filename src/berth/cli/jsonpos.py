"""Where things are in a JSON document: a small parser that keeps each key's and value's offset.

``json`` says where a syntax error is but not where a valid document's members are; policy
messages name a statement and a field, and the user wants the line and column.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Node", "Position", "parse_positions", "position_of", "show_line"]

_WHITESPACE = " \t\n\r"
_decoder = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int


@dataclass(slots=True)
class Node:
    """A JSON value at ``offset``; objects keep their members' key offsets and values in order."""

    offset: int
    value: Any = None
    members: list[tuple[str, int, Node]] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)
    is_array: bool = False

    def member(self, name: str, ignore_case: bool = False) -> tuple[int, Node] | None:
        for key, key_offset, node in self.members:
            if key == name or (ignore_case and key.lower() == name.lower()):
                return key_offset, node
        return None


def position_of(text: str, offset: int) -> Position:
    """1-based line and column of ``offset``."""
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return Position(line, offset - start + 1)


def show_line(text: str, position: Position) -> str:
    """The source line and a caret under ``position``."""
    lines = text.splitlines() or [""]
    source = lines[min(position.line, len(lines)) - 1]
    return f"  {source}\n  {' ' * (position.column - 1)}^"


def parse_positions(text: str) -> Node:
    """Parse ``text`` (already known to be valid JSON) keeping offsets."""
    node, _ = _value(text, _skip(text, 0))
    return node


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index


def _value(text: str, index: int) -> tuple[Node, int]:
    char = text[index]
    if char == "{":
        return _object(text, index)
    if char == "[":
        return _array(text, index)
    value, end = _decoder.raw_decode(text, index)
    return Node(index, value), end


def _object(text: str, start: int) -> tuple[Node, int]:
    node = Node(start)
    index = _skip(text, start + 1)
    if text[index] == "}":
        return node, index + 1
    while True:
        key, after = _decoder.raw_decode(text, index)
        colon = _skip(text, after)
        child, end = _value(text, _skip(text, colon + 1))
        node.members.append((str(key), index, child))
        index = _skip(text, end)
        if text[index] == "}":
            return node, index + 1
        index = _skip(text, index + 1)


def _array(text: str, start: int) -> tuple[Node, int]:
    node = Node(start, is_array=True)
    index = _skip(text, start + 1)
    if text[index] == "]":
        return node, index + 1
    while True:
        child, end = _value(text, index)
        node.items.append(child)
        index = _skip(text, end)
        if text[index] == "]":
            return node, index + 1
        index = _skip(text, index + 1)
