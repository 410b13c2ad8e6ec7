"""Policy findings located in the source: errors from ``parse_policy`` and lint warnings.

An error names a statement (``Statement[1] Sid 'Pull'``) and a reason; this module finds that
statement, and the field the reason is about, in the JSON text. Warnings are about documents AWS
accepts but that probably do not mean what their author wants.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache

from berth.cli.jsonpos import Node, Position, parse_positions, position_of
from berth.cli.model import service_model
from berth.errors import MalformedPolicyDocumentError
from berth.iam import Effect, Policy, PolicyKind, Statement

__all__ = ["Finding", "ecr_actions", "lint", "locate_error", "statement_position"]

_WHERE_RE = re.compile(r"^Statement\[(\d+)\]")
_FIELDS = (
    "NotPrincipal",
    "Principal",
    "NotAction",
    "Action",
    "NotResource",
    "Resource",
    "Condition",
    "Effect",
    "Sid",
    "Version",
    "Statement",
    "Id",
)
_READ_PREFIXES = ("describe", "get", "list", "batchget", "batchcheck", "validate")


@dataclass(frozen=True, slots=True)
class Finding:
    severity: str
    message: str
    position: Position


@cache
def ecr_actions() -> tuple[str, ...]:
    """ECR's IAM actions: its operation names in botocore's model."""
    return tuple(service_model("ecr").operation_names)


def _statement_nodes(root: Node) -> list[Node]:
    found = root.member("Statement")
    if found is None:
        return []
    node = found[1]
    return node.items if node.is_array else [node]


def statement_position(text: str, index: int) -> Position | None:
    """Where statement ``index`` starts in ``text`` (a valid JSON policy)."""
    try:
        nodes = _statement_nodes(parse_positions(text))
    except (ValueError, IndexError):
        return None
    return position_of(text, nodes[index].offset) if index < len(nodes) else None


def _field_in(message: str, ignore_case: bool = False) -> str | None:
    unknown = re.search(r"Unknown field (\w+)", message)
    if unknown:
        return unknown.group(1)
    flags = re.IGNORECASE if ignore_case else 0
    for name in _FIELDS:
        if re.search(rf"\b{name}\b", message, flags):
            return name
    return None


def _syntax_position(text: str) -> Position | None:
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return Position(error.lineno, error.colno)
    return None


def _duplicate_key(node: Node) -> int | None:
    seen: set[str] = set()
    for key, offset, child in node.members:
        if key in seen:
            return offset
        seen.add(key)
        found = _duplicate_key(child)
        if found is not None:
            return found
    for item in node.items:
        found = _duplicate_key(item)
        if found is not None:
            return found
    return None


def locate_error(text: str, error: MalformedPolicyDocumentError) -> Finding:
    """The error with the position of what it is about (the start of the document at worst)."""
    detail = error.detail if isinstance(error.detail, dict) else {}
    syntax = _syntax_position(text)
    if syntax is not None:
        return Finding("error", error.message, syntax)
    root = parse_positions(text) if text.strip() else Node(0)
    offset = _duplicate_key(root)
    if offset is None:
        offset = _error_offset(root, str(detail.get("where", "")), error.message)
    return Finding("error", error.message, position_of(text, offset))


def _error_offset(root: Node, where: str, message: str) -> int:
    scope = root
    matched = _WHERE_RE.match(where)
    if matched:
        nodes = _statement_nodes(root)
        index = int(matched.group(1))
        if index < len(nodes):
            scope = nodes[index]
    aws_message, _, reason = message.partition(" (")
    name = _field_in(aws_message) or _field_in(reason) or _field_in(aws_message, ignore_case=True)
    if name is not None:
        found = scope.member(name) or root.member(name)
        if found is not None:
            return found[0]
    return scope.offset


# -- lint ------------------------------------------------------------------------------------


def _is_write(action: str) -> bool:
    name = action.partition(":")[2].lower()
    return not name.startswith(_READ_PREFIXES)


def _matching(pattern: str) -> list[str]:
    name = pattern.partition(":")[2].lower()
    return [a for a in ecr_actions() if fnmatchcase(a.lower(), name)]


def _unknown_ecr(action: str) -> str | None:
    vendor, _, name = action.partition(":")
    if vendor.lower() != "ecr" or not name:
        return None
    if "*" in name or "?" in name:
        return None if _matching(action) else f"{action} matches no ECR action"
    known = {a.lower(): a for a in ecr_actions()}
    if name.lower() in known:
        return None
    close = difflib.get_close_matches(name, ecr_actions(), n=1)
    hint = f"; did you mean ecr:{close[0]}?" if close else ""
    return f"unknown ECR action {action}{hint}"


def _writes(statement: Statement) -> list[str]:
    writes: list[str] = []
    for action in statement.actions or ():
        if action == "*" or action.lower() == "ecr:*":
            writes.append(action)
        elif "*" in action or "?" in action:
            writes += [f"ecr:{a}" for a in _matching(action) if _is_write(f"ecr:{a}")][:1]
        elif action.lower().startswith("ecr:") and _is_write(action):
            writes.append(action)
    return writes


Warning = tuple[str, str, str | None]
"""A message, the statement field it is about, and the value in that field (if one)."""


def _statement_warnings(statement: Statement, kind: PolicyKind) -> list[Warning]:
    found: list[Warning] = []
    allow = statement.effect is Effect.ALLOW
    label = statement.label
    if allow and statement.not_actions is not None:
        found.append(
            (
                f"{label}: Allow with NotAction allows every other action, "
                "including ones added to AWS later",
                "NotAction",
                None,
            )
        )
    if allow and statement.not_resources is not None:
        found.append(
            (f"{label}: Allow with NotResource allows every other resource", "NotResource", None)
        )
    writes = _writes(statement) if allow else []
    if writes and statement.resources is not None and "*" in statement.resources:
        found.append(
            (
                f'{label}: write actions ({", ".join(writes[:3])}) on "Resource": "*" '
                "apply to every repository; name the repositories",
                "Resource",
                None,
            )
        )
    for action in (statement.actions or ()) + (statement.not_actions or ()):
        unknown = _unknown_ecr(action)
        if unknown is not None:
            found.append(
                (f"{label}: {unknown}", "NotAction" if statement.not_actions else "Action", action)
            )
    public = statement.principals is not None and "*" in statement.principals.get("AWS", ())
    if kind is PolicyKind.RESOURCE and allow and public and not statement.conditions:
        found.append(
            (
                f'{label}: "Principal": "*" without a Condition opens this to everyone',
                "Principal",
                None,
            )
        )
    return found


def _offset_of(node: Node, name: str, value: str | None) -> int:
    found = node.member(name)
    if found is None:
        return node.offset
    key_offset, child = found
    for item in child.items if child.is_array else [child]:
        if value is not None and item.value == value:
            return item.offset
    return key_offset


def lint(text: str, policy: Policy) -> list[Finding]:
    """Warnings about a valid policy, each at the element it is about."""
    root = parse_positions(text)
    nodes = _statement_nodes(root)
    findings: list[Finding] = []
    if root.member("Version") is None:
        findings.append(
            Finding(
                "warning",
                'no "Version": AWS reads it as 2008-10-17, where ${aws:username} and other '
                'policy variables are plain text; add "Version": "2012-10-17"',
                position_of(text, root.offset),
            )
        )
    for statement in policy.statements:
        node = nodes[statement.index] if statement.index < len(nodes) else root
        for message, name, value in _statement_warnings(statement, policy.kind):
            offset = _offset_of(node, name, value)
            findings.append(Finding("warning", message, position_of(text, offset)))
    return sorted(findings, key=lambda f: (f.position.line, f.position.column))
