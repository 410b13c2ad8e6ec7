"""Requests checked and replies shaped by botocore's own ECR service model.

Input: a JSON value of the wrong type is a ``SerializationException``; a constraint the model
states (required, length, pattern, enum, range) is a ``ValidationException`` worded as AWS
words it (``1 validation error detected: Value 'X' at 'repositoryName' failed to satisfy
constraint: ...``). Members the model does not know are dropped. Output: only members the
model knows (anything else is our bug, a ``ServerException``); timestamps as epoch seconds,
blobs base64.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Any

import botocore.session

from berth.errors import SerializationError, ServerError, ValidationError

__all__ = ["EcrModel"]

_NUMBER_TYPES = ("integer", "long")


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"'{str(value).lower()}'"
    if isinstance(value, list):
        return "'[" + ", ".join(str(item) for item in value) + "]'"
    return f"'{value}'"


def _wrong_type(path: str, expected: str) -> SerializationError:
    where = f" at '{path}'" if path else ""
    return SerializationError(f"Expected {expected}{where}")


class _Checker:
    """One request's walk over its input shape, collecting validation errors."""

    def __init__(self, patterns: dict[str, re.Pattern[str] | None]) -> None:
        self.errors: list[str] = []
        self._patterns = patterns

    def fail(self, value: Any, path: str, constraint: str) -> None:
        self.errors.append(
            f"Value {_shown(value)} at '{path}' failed to satisfy constraint: {constraint}"
        )

    def check(self, shape: Any, value: Any, path: str) -> Any:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape, value, path)
        if kind == "list":
            return self._list(shape, value, path)
        if kind == "map":
            return self._map(shape, value, path)
        if kind == "string":
            return self._string(shape, value, path)
        if kind in _NUMBER_TYPES:
            return self._number(shape, value, path)
        if kind == "boolean":
            if not isinstance(value, bool):
                raise _wrong_type(path, "a boolean")
            return value
        if kind == "blob":
            return self._blob(shape, value, path)
        if kind in ("timestamp", "float", "double"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _wrong_type(path, "a number")
            return value
        raise ServerError(f"unsupported shape type {kind}")

    def _structure(self, shape: Any, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _wrong_type(path, "an object")
        checked: dict[str, Any] = {}
        prefix = f"{path}." if path else ""
        for name in shape.required_members:
            if value.get(name) is None:
                self.fail(None, prefix + name, "Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                checked[name] = self.check(member, value[name], prefix + name)
        return checked

    def _list(self, shape: Any, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise _wrong_type(path, "a list")
        self._length(shape, value, len(value), path)
        return [
            self.check(shape.member, item, f"{path}.{index}.member")
            for index, item in enumerate(value, start=1)
        ]

    def _map(self, shape: Any, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _wrong_type(path, "an object")
        self._length(shape, value, len(value), path)
        return {
            self.check(shape.key, key, f"{path}.key"): self.check(
                shape.value, item, f"{path}.{key}"
            )
            for key, item in value.items()
        }

    def _string(self, shape: Any, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise _wrong_type(path, "a string")
        self._length(shape, value, len(value), path)
        enum = shape.enum
        if enum and value not in enum:
            self.fail(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        pattern = shape.metadata.get("pattern")
        if pattern is not None and not self._matches(pattern, value):
            self.fail(value, path, f"Member must satisfy regular expression pattern: {pattern}")
        return value

    def _number(self, shape: Any, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong_type(path, "an integer")
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self.fail(value, path, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            self.fail(value, path, f"Member must have value less than or equal to {high}")
        return value

    def _blob(self, shape: Any, value: Any, path: str) -> bytes:
        if not isinstance(value, str):
            raise _wrong_type(path, "a base64-encoded string")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _wrong_type(path, "a base64-encoded string") from None
        self._length(shape, "<binary>", len(data), path)
        return data

    def _length(self, shape: Any, value: Any, length: int, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and length < low:
            self.fail(value, path, f"Member must have length greater than or equal to {low}")
        if high is not None and length > high:
            self.fail(value, path, f"Member must have length less than or equal to {high}")

    def _matches(self, pattern: str, value: str) -> bool:
        if pattern not in self._patterns:
            try:
                self._patterns[pattern] = re.compile(pattern)
            except re.error:
                self._patterns[pattern] = None
        compiled = self._patterns[pattern]
        return compiled is None or compiled.fullmatch(value) is not None


def _rendered(shape: Any, value: Any, path: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise ServerError(f"reply member {path or '(top)'} is not an object")
        out: dict[str, Any] = {}
        for name, item in value.items():
            if name not in shape.members:
                raise ServerError(f"reply member {path}.{name} is not in the ECR model")
            if item is not None:
                out[name] = _rendered(shape.members[name], item, f"{path}.{name}")
        return out
    if kind == "list":
        return [_rendered(shape.member, item, f"{path}[]") for item in value]
    if kind == "map":
        return {key: _rendered(shape.value, item, f"{path}.{key}") for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, datetime):
        return value.timestamp()
    if kind == "blob" and isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


class EcrModel:
    """botocore's ECR service model, loaded once per app."""

    def __init__(self) -> None:
        self.model = botocore.session.get_session().get_service_model("ecr")
        self.operation_names: frozenset[str] = frozenset(self.model.operation_names)
        self._patterns: dict[str, re.Pattern[str] | None] = {}

    def parse_input(self, operation: str, body: bytes) -> dict[str, Any]:
        """The request's members, checked against the operation's input shape."""
        try:
            document = json.loads(body) if body.strip() else {}
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise SerializationError("The request body is not valid JSON") from None
        shape = self.model.operation_model(operation).input_shape
        if shape is None:
            return {}
        checker = _Checker(self._patterns)
        params: dict[str, Any] = checker.check(shape, document, "")
        if checker.errors:
            count = len(checker.errors)
            noun = "error" if count == 1 else "errors"
            raise ValidationError(
                f"{count} validation {noun} detected: " + "; ".join(checker.errors)
            )
        return params

    def render_output(self, operation: str, result: dict[str, Any]) -> dict[str, Any]:
        shape = self.model.operation_model(operation).output_shape
        if shape is None:
            return {}
        rendered: dict[str, Any] = _rendered(shape, result, "")
        return rendered
