"""AWS Query input: a form body read against botocore's model into typed values, validated as AWS
validates (required members, lengths, ranges, patterns, enums) with AWS's messages.

Lists are ``Name.member.N`` (an empty list is ``Name=``), maps ``Name.entry.N.key``/``.value``,
structures ``Name.Member``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from botocore.model import Shape

from berth.errors import ValidationError

__all__ = ["QueryReader", "form_params", "java_pattern"]

_MAX_ITEMS = 1000
_MAX_ERRORS = 10


def form_params(body: bytes, query: str = "") -> dict[str, str]:
    """The parameters of a Query request: the form body, and the query string for GET-style calls."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("the request body is not UTF-8 form data") from None
    params: dict[str, str] = {}
    for source in (query, text):
        for key, value in parse_qsl(source, keep_blank_values=True):
            if not key.startswith("X-Amz-"):
                params.setdefault(key, value)
    return params


def java_pattern(pattern: str) -> re.Pattern[str] | None:
    """A model's (Java) pattern as a Python regex, or None when it cannot be translated."""
    translated = pattern.replace(r"\p{L}\p{Z}\p{N}", r"\w\s").replace(
        r"\u10000-\u10FFFF", r"\U00010000-\U0010FFFF"
    )
    try:
        return re.compile(translated)
    except re.error:
        return None


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


class QueryReader:
    """Reads operations' inputs for one service model; compiled patterns are kept per shape."""

    def __init__(self) -> None:
        self._patterns: dict[str, re.Pattern[str] | None] = {}

    def read(self, shape: Shape | None, params: Mapping[str, str]) -> dict[str, Any]:
        if shape is None:
            return {}
        errors: list[str] = []
        values = self._structure(shape, params, "", errors, "")
        if errors:
            count = len(errors)
            noun = "error" if count == 1 else "errors"
            raise ValidationError(
                f"{count} validation {noun} detected: " + "; ".join(errors[:_MAX_ERRORS])
            )
        return values

    def _structure(
        self, shape: Shape, params: Mapping[str, str], prefix: str, errors: list[str], path: str
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        required = set(shape.required_members)
        for name, member in shape.members.items():
            key = prefix + str(member.serialization.get("name", name))
            where = f"{path}{_camel(name)}"
            value = self._value(member, params, key, errors, where)
            if value is None:
                if name in required:
                    errors.append(
                        f"Value null at '{where}' failed to satisfy constraint: "
                        "Member must not be null"
                    )
                continue
            self._check(member, value, where, errors)
            values[name] = value
        return values

    def _value(
        self, shape: Shape, params: Mapping[str, str], key: str, errors: list[str], where: str
    ) -> Any:
        kind = shape.type_name
        if kind == "structure":
            if not any(k.startswith(key + ".") for k in params):
                return None
            return self._structure(shape, params, key + ".", errors, where + ".")
        if kind == "list":
            return self._list(shape, params, key, errors, where)
        if kind == "map":
            return self._map(shape, params, key, errors, where)
        raw = params.get(key)
        return None if raw is None else _scalar(kind, raw, where, errors)

    def _list(
        self, shape: Shape, params: Mapping[str, str], key: str, errors: list[str], where: str
    ) -> list[Any] | None:
        flat = shape.serialization.get("flattened", False)
        base = key if flat else f"{key}.member"
        items: list[Any] = []
        for index in range(1, _MAX_ITEMS + 2):
            item_key = f"{base}.{index}"
            if item_key not in params and not any(k.startswith(item_key + ".") for k in params):
                break
            item = self._value(shape.member, params, item_key, errors, f"{where}.{index}.member")
            if item is not None:
                self._check(shape.member, item, f"{where}.{index}.member", errors)
                items.append(item)
        if not items and params.get(key) != "":
            return None
        return items

    def _map(
        self, shape: Shape, params: Mapping[str, str], key: str, errors: list[str], where: str
    ) -> dict[str, Any] | None:
        found: dict[str, Any] = {}
        for index in range(1, _MAX_ITEMS + 2):
            name = params.get(f"{key}.entry.{index}.key")
            if name is None:
                break
            value = self._value(shape.value, params, f"{key}.entry.{index}.value", errors, where)
            found[name] = value
        return found or None

    def _check(self, shape: Shape, value: Any, where: str, errors: list[str]) -> None:
        meta = shape.metadata
        shown = str(value)[:256] if not isinstance(value, list | dict) else None
        prefix = f"Value '{shown}' at '{where}'" if shown is not None else f"Value at '{where}'"
        for problem in self._problems(shape, meta, value):
            errors.append(f"{prefix} failed to satisfy constraint: {problem}")

    def _problems(self, shape: Shape, meta: Mapping[str, Any], value: Any) -> list[str]:
        problems = []
        if isinstance(value, str | list | dict):
            if "min" in meta and len(value) < meta["min"]:
                problems.append(f"Member must have length greater than or equal to {meta['min']}")
            if "max" in meta and len(value) > meta["max"]:
                problems.append(f"Member must have length less than or equal to {meta['max']}")
        if isinstance(value, int) and not isinstance(value, bool):
            low, high = meta.get("min"), meta.get("max")
            if (low is not None and value < low) or (high is not None and value > high):
                problems.append(f"Member must have value between {low} and {high}")
        if isinstance(value, str):
            problems += self._string_problems(shape, meta, value)
        return problems

    def _string_problems(self, shape: Shape, meta: Mapping[str, Any], value: str) -> list[str]:
        enum = getattr(shape, "enum", None) or []
        if enum and value not in enum:
            return [f"Member must satisfy enum value set: [{', '.join(enum)}]"]
        pattern = meta.get("pattern")
        if pattern is None:
            return []
        if shape.name not in self._patterns:
            self._patterns[shape.name] = java_pattern(pattern)
        compiled = self._patterns[shape.name]
        if compiled is not None and not compiled.fullmatch(value):
            return [f"Member must satisfy regular expression pattern: {pattern}"]
        return []


def _scalar(kind: str, raw: str, where: str, errors: list[str]) -> Any:
    try:
        if kind in ("integer", "long"):
            return int(raw)
        if kind == "boolean":
            if raw.lower() not in ("true", "false"):
                raise ValueError(raw)
            return raw.lower() == "true"
        if kind == "timestamp":
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except ValueError:
        errors.append(
            f"Value '{raw[:256]}' at '{where}' failed to satisfy constraint: "
            f"Member must be a valid {kind}"
        )
        return None
    return raw
