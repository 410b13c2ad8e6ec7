"""Policy variables (``${aws:username}``, ``${key, 'default'}``, ``${*}``) and the request context.

A template is parsed once, when its policy is parsed; a request only looks its variables up.
Variables exist only in policies of Version 2012-10-17; elsewhere ``${...}`` is plain text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "ContextInput",
    "Literal",
    "RequestContext",
    "Template",
    "Text",
    "Variable",
    "has_variables",
    "parse_template",
    "resolve_text",
]

ContextInput = str | list[str] | tuple[str, ...] | bool | int | None
ContextValue = str | tuple[str, ...]

_VARIABLE_RE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT_RE = re.compile(r"^\s*([^,\s]+)\s*,\s*'([^']*)'\s*$")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True, slots=True)
class Text:
    """Policy text as written: in a pattern, its ``*`` and ``?`` are wildcards."""

    value: str


@dataclass(frozen=True, slots=True)
class Literal:
    """A character from an escape (``${*}``, ``${?}``, ``${$}``): never a wildcard."""

    value: str


@dataclass(frozen=True, slots=True)
class Variable:
    """``${key}`` or ``${key, 'default'}``; ``key`` is lower-cased (keys ignore case)."""

    key: str
    default: str | None = None


Part = Text | Literal | Variable
Template = tuple[Part, ...]


def parse_template(text: str, variables: bool) -> Template:
    """Split ``text`` into parts; without ``variables`` the whole text is one ``Text``."""
    if not variables or "${" not in text:
        return (Text(text),)
    parts: list[Part] = []
    position = 0
    for match in _VARIABLE_RE.finditer(text):
        if match.start() > position:
            parts.append(Text(text[position : match.start()]))
        parts.append(_variable_part(match.group(1)))
        position = match.end()
    if position < len(text):
        parts.append(Text(text[position:]))
    return tuple(parts)


def _variable_part(body: str) -> Part:
    stripped = body.strip()
    if stripped in _ESCAPES:
        return Literal(_ESCAPES[stripped])
    default = _DEFAULT_RE.match(body)
    if default is not None:
        return Variable(default.group(1).lower(), default.group(2))
    return Variable(stripped.lower())


def has_variables(template: Template) -> bool:
    return any(not isinstance(part, Text) for part in template)


class RequestContext:
    """The request's condition keys, looked up without regard to case.

    Values are a string or a tuple of strings (multi-valued keys such as ``aws:TagKeys``);
    ``True``/``False`` become ``"true"``/``"false"`` and numbers their decimal text. A key whose
    value is ``None`` is absent.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, ContextInput]) -> None:
        self._values: dict[str, ContextValue] = {}
        for key, value in values.items():
            normal = _normalise(value)
            if normal is not None:
                self._values[key.lower()] = normal

    def get(self, key: str) -> ContextValue | None:
        """The value of ``key``, which the caller has already lower-cased."""
        return self._values.get(key)

    def set_default(self, key: str, value: str) -> None:
        if value:
            self._values.setdefault(key.lower(), value)

    def single(self, key: str) -> str | None:
        """The value of a single-valued key; multi-valued keys give no value for a variable."""
        value = self._values.get(key)
        return value if isinstance(value, str) else None


def _normalise(value: ContextInput) -> ContextValue | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return tuple(str(item) for item in value)


def resolve_text(template: Template, context: RequestContext) -> str | None:
    """The template with its variables replaced; ``None`` when a variable has no value."""
    pieces: list[str] = []
    for part in template:
        if isinstance(part, Variable):
            value = context.single(part.key)
            if value is None:
                value = part.default
            if value is None:
                return None
            pieces.append(value)
        else:
            pieces.append(part.value)
    return "".join(pieces)
