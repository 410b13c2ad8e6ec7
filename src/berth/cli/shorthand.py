"""Parameter values as the aws CLI reads them: JSON, shorthand, ``file://`` and ``fileb://``.

Shorthand is ``Key=Value,Key2=Value2``; a value may be a list ``[a,b]`` or a structure
``{Key=Value}``, and quoted (``'a,b'`` or ``"a,b"``). Values are then typed by the operation's
input shape (booleans, integers, timestamps, blobs) so botocore gets what it validates.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.model import Shape

__all__ = ["ParamError", "ShorthandParser", "coerce", "load_param", "parse_value"]

_SCALARS = frozenset(
    {"string", "integer", "long", "boolean", "float", "double", "timestamp", "blob"}
)


class ParamError(ValueError):
    """A parameter value that cannot be read; the message names the parameter."""


def load_param(raw: str) -> str | bytes:
    """``file://PATH`` as text, ``fileb://PATH`` as bytes, anything else as given."""
    for prefix, binary in (("fileb://", True), ("file://", False)):
        if raw.startswith(prefix):
            path = Path(raw[len(prefix) :]).expanduser()
            try:
                return path.read_bytes() if binary else path.read_text(encoding="utf-8")
            except OSError as error:
                raise ParamError(f"Unable to load paramfile {raw}: {error.strerror}") from None
    return raw


class ShorthandParser:
    """A small recursive-descent parser for the aws CLI's shorthand syntax."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> dict[str, Any]:
        result = self._pairs(end="")
        if self.pos != len(self.text):
            self._error("unexpected text")
        return result

    def _error(self, why: str) -> None:
        pointer = " " * self.pos + "^"
        raise ParamError(f"Error parsing parameter: {why}\n{self.text}\n{pointer}")

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            self._error(f"expected {char!r}")
        self.pos += 1

    def _pairs(self, end: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while True:
            key = self._word("=").strip()
            if not key:
                self._error("expected a key")
            self._expect("=")
            result[key] = self._value(end)
            if self._peek() != ",":
                return result
            self.pos += 1

    def _value(self, end: str) -> Any:
        char = self._peek()
        if char == "[":
            self.pos += 1
            return self._list()
        if char == "{":
            self.pos += 1
            found = self._pairs(end="}")
            self._expect("}")
            return found
        return self._scalar(",]}" if end else ",")

    def _list(self) -> list[Any]:
        items: list[Any] = []
        if self._peek() == "]":
            self.pos += 1
            return items
        while True:
            items.append(self._value("]"))
            if self._peek() == "]":
                self.pos += 1
                return items
            self._expect(",")

    def _scalar(self, stops: str) -> str:
        char = self._peek()
        if char in ("'", '"'):
            self.pos += 1
            value = self._word(char)
            self._expect(char)
            return value
        return self._word(stops).strip()

    def _word(self, stops: str) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stops:
            self.pos += 1
        return self.text[start : self.pos]


def parse_value(shape: Shape, raw: str | bytes, name: str) -> Any:
    """One command-line value for a member of ``shape``: JSON or shorthand, then typed."""
    loaded = load_param(raw) if isinstance(raw, str) else raw
    if shape.type_name in _SCALARS:
        return coerce(shape, loaded, name)
    text = loaded.decode() if isinstance(loaded, bytes) else loaded
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and _is_json(stripped):
        return coerce(shape, json.loads(stripped), name)
    if shape.type_name == "list":
        if shape.member.type_name in _SCALARS and "=" not in text:
            return [coerce(shape.member, item, name) for item in text.split(",")]
        return [parse_value(shape.member, text, name)]
    return coerce(shape, ShorthandParser(text).parse(), name)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def coerce(shape: Shape, value: Any, name: str) -> Any:
    """``value`` typed as ``shape`` wants it; strings from shorthand become numbers and booleans."""
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, value, name)
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        return [coerce(shape.member, item, name) for item in items]
    if kind == "map":
        if not isinstance(value, dict):
            raise ParamError(f"Invalid value for {name}: expected key=value pairs")
        return {str(k): coerce(shape.value, v, name) for k, v in value.items()}
    return _scalar(kind, value, name)


def _structure(shape: Shape, value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParamError(f"Invalid value for {name}: expected a structure (JSON or Key=Value)")
    members = shape.members
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key not in members:
            valid = ", ".join(members)
            raise ParamError(f"Unknown key {key!r} in {name}; valid keys are: {valid}")
        result[key] = coerce(members[key], item, name)
    return result


def _scalar(kind: str, value: Any, name: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("float", "double"):
            return float(value)
    except ValueError:
        raise ParamError(f"Invalid value for {name}: {value!r} is not a number") from None
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise ParamError(f"Invalid value for {name}: expected true or false, not {value!r}")
        return value.lower() == "true"
    if kind == "timestamp":
        return _timestamp(value, name)
    if kind == "blob":
        return value.encode()
    return value


def _timestamp(value: str, name: str) -> datetime:
    try:
        if value.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(value))
        return datetime.fromisoformat(value)
    except ValueError:
        raise ParamError(f"Invalid timestamp for {name}: {value!r}") from None
