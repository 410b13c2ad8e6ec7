"""String patterns compiled once: exact strings, ``*``/``?`` globs, ARN globs, and templates.

A pattern without variables becomes a set member, a prefix test or a compiled regex when its
policy is parsed. A pattern with variables keeps its parts; at request time its variables are
looked up and the result is matched by a small glob matcher, so no regex is ever compiled while a
request waits.
"""

from __future__ import annotations

import re

from berth.iam.variables import (
    Literal,
    RequestContext,
    Template,
    Text,
    Variable,
    has_variables,
    parse_template,
)

__all__ = ["Pattern", "compile_arn_pattern", "compile_pattern", "glob_match"]

_STAR = "\x00*"
_ONE = "\x00?"


class Pattern:
    """Matches one string; subclasses are the compiled forms."""

    __slots__ = ()

    def matches(self, value: str, context: RequestContext) -> bool:
        raise NotImplementedError


class AnyPattern(Pattern):
    __slots__ = ()

    def matches(self, value: str, context: RequestContext) -> bool:
        return True


class NoPattern(Pattern):
    """An ARN pattern that is not an ARN: matches nothing."""

    __slots__ = ()

    def matches(self, value: str, context: RequestContext) -> bool:
        return False


class ExactPattern(Pattern):
    __slots__ = ("_fold", "_text")

    def __init__(self, text: str, fold: bool) -> None:
        self._fold = fold
        self._text = text.casefold() if fold else text

    def matches(self, value: str, context: RequestContext) -> bool:
        return (value.casefold() if self._fold else value) == self._text


class PrefixPattern(Pattern):
    """``text*`` with no other wildcard: a prefix test."""

    __slots__ = ("_prefix",)

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix

    def matches(self, value: str, context: RequestContext) -> bool:
        return value.startswith(self._prefix)


class RegexPattern(Pattern):
    __slots__ = ("_regex",)

    def __init__(self, regex: re.Pattern[str]) -> None:
        self._regex = regex

    def matches(self, value: str, context: RequestContext) -> bool:
        return self._regex.fullmatch(value) is not None


class TemplatePattern(Pattern):
    """A pattern with variables: resolved per request; no value and no default matches nothing."""

    __slots__ = ("_fold", "_template", "_wildcards")

    def __init__(self, template: Template, wildcards: bool, fold: bool) -> None:
        self._template = template
        self._wildcards = wildcards
        self._fold = fold

    def matches(self, value: str, context: RequestContext) -> bool:
        items = _resolve_items(self._template, context, self._wildcards)
        if items is None:
            return False
        if self._fold:
            items = [item if len(item) > 1 else item.casefold() for item in items]
            value = value.casefold()
        return glob_match(items, value)


def _resolve_items(
    template: Template, context: RequestContext, wildcards: bool
) -> list[str] | None:
    items: list[str] = []
    for part in template:
        if isinstance(part, Variable):
            value = context.single(part.key)
            value = part.default if value is None else value
            if value is None:
                return None
            items.extend(value)
        elif isinstance(part, Text) and wildcards:
            items.extend(_STAR if c == "*" else _ONE if c == "?" else c for c in part.value)
        else:
            items.extend(part.value)
    return items


def glob_match(items: list[str], text: str) -> bool:
    """Match ``text`` against pattern items (single characters, or the ``*``/``?`` markers)."""
    i = j = 0
    star = -1
    mark = 0
    while j < len(text):
        if i < len(items) and (items[i] == _ONE or items[i] == text[j]):
            i += 1
            j += 1
        elif i < len(items) and items[i] == _STAR:
            star, mark = i, j
            i += 1
        elif star >= 0:
            i = star + 1
            mark += 1
            j = mark
        else:
            return False
    while i < len(items) and items[i] == _STAR:
        i += 1
    return i == len(items)


def compile_pattern(text: str, *, wildcards: bool, ignore_case: bool, variables: bool) -> Pattern:
    """Compile ``text``; ``wildcards`` makes ``*`` and ``?`` special (spanning ``/`` and ``:``)."""
    template = parse_template(text, variables)
    if any(isinstance(part, Variable) for part in template):
        return TemplatePattern(template, wildcards, ignore_case)
    if wildcards and template == (Text("*"),):
        return AnyPattern()
    if not wildcards or not _has_wildcard(template):
        return ExactPattern(
            "".join(part.value for part in template if not isinstance(part, Variable)), ignore_case
        )
    prefix = _prefix(template)
    if prefix is not None and not ignore_case:
        return PrefixPattern(prefix)
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    return RegexPattern(re.compile(_regex_source(template, ".*"), flags))


def compile_arn_pattern(text: str, *, variables: bool) -> Pattern:
    """ArnEquals/ArnLike: each of the six colon-separated parts is matched on its own."""
    template = parse_template(text, variables)
    if any(isinstance(part, Variable) for part in template):
        return TemplatePattern(template, True, False)
    if template == (Text("*"),):
        return AnyPattern()
    plain = "".join(part.value for part in template if not isinstance(part, Variable))
    segments = plain.split(":", 5)
    if len(segments) < 6:
        return NoPattern()
    if has_variables(template):
        return compile_pattern(text, wildcards=True, ignore_case=False, variables=variables)
    head = [_regex_source((Text(segment),), "[^:]*") for segment in segments[:5]]
    source = ":".join([*head, _regex_source((Text(segments[5]),), ".*")])
    return RegexPattern(re.compile(source, re.DOTALL))


def _prefix(template: Template) -> str | None:
    if len(template) != 1 or not isinstance(template[0], Text):
        return None
    head, star, tail = template[0].value.partition("*")
    if not star or tail or "?" in head:
        return None
    return head


def _has_wildcard(template: Template) -> bool:
    return any(
        isinstance(part, Text) and ("*" in part.value or "?" in part.value) for part in template
    )


def _regex_source(template: Template, star: str) -> str:
    pieces: list[str] = []
    for part in template:
        if isinstance(part, Literal):
            pieces.append(re.escape(part.value))
        elif isinstance(part, Text):
            pieces.extend(_glob_piece(char, star) for char in part.value)
    return "".join(pieces)


def _glob_piece(char: str, star: str) -> str:
    if char == "*":
        return star
    if char == "?":
        return "."
    return re.escape(char)
