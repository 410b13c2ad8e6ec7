"""Policy documents: parsed, validated with AWS's messages, and compiled once.

``parse_policy`` accepts what IAM and ECR accept, including the JSON awacs and troposphere
generate (no ``Version``, which AWS reads as 2008-10-17, where policy variables are plain text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from berth.errors import MalformedPolicyDocumentError
from berth.iam.conditions import Condition, compile_conditions, conditions_hold
from berth.iam.malformed import locate, malformed
from berth.iam.patterns import Pattern, TemplatePattern, compile_pattern
from berth.iam.principals import PrincipalMatch, Principals, compile_principals
from berth.iam.variables import RequestContext
from berth.types import Principal

__all__ = [
    "DEFAULT_SIZE_LIMITS",
    "VERSION_2008",
    "VERSION_2012",
    "Effect",
    "Policy",
    "PolicyKind",
    "Statement",
    "parse_policy",
]

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"
_SYNTAX = "Syntax errors in policy."
_TOP_FIELDS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_FIELDS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal"}
    | {"NotPrincipal", "Condition"}
)
_VENDOR_RE = re.compile(r"^[a-zA-Z0-9-]+$")
_IDENTITY_SID_RE = re.compile(r"^[0-9A-Za-z]*$")


class PolicyKind(Enum):
    IDENTITY = "identity"
    RESOURCE = "resource"
    TRUST = "trust"


class Effect(Enum):
    ALLOW = "Allow"
    DENY = "Deny"


DEFAULT_SIZE_LIMITS = {
    PolicyKind.IDENTITY: 6144,
    PolicyKind.RESOURCE: 10240,
    PolicyKind.TRUST: 2048,
}


class ActionMatcher:
    """Lower-cased exact actions in a set, wildcard actions as case-insensitive regexes."""

    __slots__ = ("exact", "negated", "wild")

    def __init__(self, actions: tuple[str, ...], negated: bool) -> None:
        self.negated = negated
        self.exact = frozenset(a.lower() for a in actions if "*" not in a and "?" not in a)
        self.wild = tuple(
            compile_pattern(a.lower(), wildcards=True, ignore_case=False, variables=False)
            for a in actions
            if "*" in a or "?" in a
        )

    def matches(self, action: str, context: RequestContext) -> bool:
        if action in self.exact:
            return not self.negated
        for pattern in self.wild:
            if pattern.matches(action, context):
                return not self.negated
        return self.negated


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement as written (strings as tuples) and compiled (patterns, principal sets)."""

    index: int
    sid: str | None
    effect: Effect
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    principals: Mapping[str, tuple[str, ...]] | None
    not_principals: Mapping[str, tuple[str, ...]] | None
    conditions: tuple[Condition, ...]
    action_matcher: ActionMatcher = field(repr=False, compare=False)
    resource_patterns: tuple[Pattern, ...] | None = field(repr=False, compare=False)
    principal_set: Principals | None = field(repr=False, compare=False)
    not_principal_set: Principals | None = field(repr=False, compare=False)

    @property
    def label(self) -> str:
        """``Sid`` when it has one, otherwise ``Statement[i]``."""
        return self.sid if self.sid else f"Statement[{self.index}]"

    def applies(self, action: str, resource: str, context: RequestContext) -> bool:
        """Action (lower-cased by the caller), resource and conditions all match."""
        return self.action_matcher.matches(action, context) and self.applies_to(resource, context)

    def applies_to(self, resource: str, context: RequestContext) -> bool:
        """Resource and conditions match (the action is known to match)."""
        patterns = self.resource_patterns
        if patterns is not None:
            found = False
            for pattern in patterns:
                if pattern.matches(resource, context):
                    found = True
                    break
            if found == (self.not_resources is not None):
                return False
        return not self.conditions or conditions_hold(self.conditions, context)

    def may_apply_to(self, resource: str) -> bool:
        """False when ``Resource``/``NotResource`` rule ``resource`` out whatever the context."""
        patterns = self.resource_patterns
        if patterns is None or any(isinstance(p, TemplatePattern) for p in patterns):
            return True
        found = any(pattern.matches(resource, _NO_CONTEXT) for pattern in patterns)
        return found != (self.not_resources is not None)

    def names(self, principal: Principal, role_arn: str | None) -> PrincipalMatch:
        """How this statement's ``Principal``/``NotPrincipal`` names the caller."""
        if self.principal_set is not None:
            return self.principal_set.match(principal, role_arn)
        if self.not_principal_set is not None:
            named = self.not_principal_set.match(principal, role_arn)
            return PrincipalMatch.GENERIC if named is PrincipalMatch.NONE else PrincipalMatch.NONE
        return PrincipalMatch.GENERIC


Candidate = tuple[Statement, bool]
_NO_CONTEXT = RequestContext({})
_REMEMBERED = 4096


class ActionIndex:
    """Per effect: the statements that may match an action, found by one dictionary lookup.

    Each candidate says whether its action still needs checking (``False`` when the statement
    lists the action exactly).
    """

    __slots__ = ("_by_resource", "_exact", "_fallback")

    def __init__(self, statements: tuple[Statement, ...]) -> None:
        self._by_resource: dict[tuple[bool, str, str], tuple[Candidate, ...]] = {}
        self._exact: tuple[dict[str, tuple[Candidate, ...]], ...] = ({}, {})
        self._fallback: tuple[tuple[Candidate, ...], ...] = ((), ())
        fallback = []
        for slot, effect in enumerate((Effect.ALLOW, Effect.DENY)):
            own = [s for s in statements if s.effect is effect]
            fallback.append(tuple((s, True) for s in own if _maybe(s.action_matcher)))
            for action in {a for s in own for a in s.action_matcher.exact}:
                self._exact[slot][action] = tuple(_candidates(own, action))
        self._fallback = tuple(fallback)

    def candidates(self, effect: Effect, action: str) -> tuple[Candidate, ...]:
        slot = 0 if effect is Effect.ALLOW else 1
        found = self._exact[slot].get(action)
        return self._fallback[slot] if found is None else found

    def candidates_for(self, effect: Effect, action: str, resource: str) -> tuple[Candidate, ...]:
        """``candidates`` less the statements whose resources can never match ``resource``
        (remembered per action and resource: a registry asks about the same ones again)."""
        key = (effect is Effect.ALLOW, action, resource)
        found = self._by_resource.get(key)
        if found is None:
            found = tuple(c for c in self.candidates(effect, action) if c[0].may_apply_to(resource))
            if len(self._by_resource) >= _REMEMBERED:
                self._by_resource.clear()
            self._by_resource[key] = found
        return found


def _maybe(matcher: ActionMatcher) -> bool:
    return bool(matcher.wild) or matcher.negated


def _candidates(statements: list[Statement], action: str) -> list[Candidate]:
    found: list[Candidate] = []
    for statement in statements:
        matcher = statement.action_matcher
        if action in matcher.exact and not matcher.negated:
            found.append((statement, False))
        elif _maybe(matcher):
            found.append((statement, True))
    return found


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    id: str | None
    statements: tuple[Statement, ...]
    text: str
    kind: PolicyKind = PolicyKind.IDENTITY
    index: ActionIndex = field(repr=False, compare=False, default=ActionIndex(()))

    def candidates(self, effect: Effect, action: str) -> tuple[Candidate, ...]:
        """Statements of ``effect`` that may match the lower-cased ``action``."""
        return self.index.candidates(effect, action)


def parse_policy(text: str, kind: PolicyKind, max_size: int | None = None) -> Policy:
    """Parse and compile a policy document; ``max_size`` counts non-whitespace characters."""
    limit = DEFAULT_SIZE_LIMITS[kind] if max_size is None else max_size
    if _non_whitespace_length(text) > limit:
        raise malformed(f"Cannot exceed quota for PolicySize: {limit}", "the document is too long")
    document = _load_json(text)
    version = _version(document.get("Version", VERSION_2008))
    policy_id = document.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise malformed(_SYNTAX, "Id must be a string")
    statements = _statements(document, kind, version == VERSION_2012)
    return Policy(version, policy_id, statements, text, kind, ActionIndex(statements))


def _non_whitespace_length(text: str) -> int:
    return len(text) - sum(text.count(blank) for blank in " \t\n\r")


def _load_json(text: str) -> dict[str, object]:
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise malformed(_SYNTAX, f"not valid JSON: {str(error)[:200]}") from None
    if not isinstance(document, dict):
        raise malformed(_SYNTAX, "the document must be a JSON object")
    for name in document:
        if name not in _TOP_FIELDS:
            raise malformed(
                f"Unknown field {name}", "the document's fields are Version, Id, Statement"
            )
    return document


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _version(version: object) -> str:
    if version not in (VERSION_2012, VERSION_2008):
        raise malformed(
            "The policy failed legacy parsing",
            f"Version must be {VERSION_2012!r} or {VERSION_2008!r}, not {str(version)[:50]!r}",
        )
    return str(version)


def _statements(
    document: dict[str, object], kind: PolicyKind, variables: bool
) -> tuple[Statement, ...]:
    raw = document.get("Statement")
    items = raw if isinstance(raw, list) else [raw]
    if raw is None or not items:
        raise malformed(_SYNTAX, "the document needs at least one Statement")
    statements = tuple(_located_statement(i, item, kind, variables) for i, item in enumerate(items))
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise malformed("Statement IDs (SID) in a single policy must be unique.", f"Sids {sids}")
    return statements


def _located_statement(index: int, raw: object, kind: PolicyKind, variables: bool) -> Statement:
    sid = raw.get("Sid") if isinstance(raw, dict) else None
    where = f"Statement[{index}]" + (f" Sid {sid!r}" if isinstance(sid, str) and sid else "")
    try:
        return _statement(index, raw, kind, variables)
    except MalformedPolicyDocumentError as error:
        raise locate(error, where) from None


def _statement(index: int, raw: object, kind: PolicyKind, variables: bool) -> Statement:
    if not isinstance(raw, dict):
        raise malformed(_SYNTAX, "a statement must be a JSON object")
    for name in raw:
        if name not in _STATEMENT_FIELDS:
            raise malformed(f"Unknown field {name}", "not a statement element")
    actions, not_actions = _pair(raw, "Action", "NotAction")
    resources, not_resources = _pair(raw, "Resource", "NotResource")
    principal, not_principal = _principal_pair(raw, kind)
    _check_actions(actions or not_actions)
    _check_resources(kind, resources, not_resources)
    return Statement(
        index=index,
        sid=_sid(raw.get("Sid"), kind),
        effect=_effect(raw.get("Effect")),
        actions=actions,
        not_actions=not_actions,
        resources=resources,
        not_resources=not_resources,
        principals=None if principal is None else principal.by_type,
        not_principals=None if not_principal is None else not_principal.by_type,
        conditions=_conditions(raw.get("Condition"), variables),
        action_matcher=ActionMatcher(actions or not_actions or (), not_actions is not None),
        resource_patterns=_resource_patterns(resources or not_resources, variables),
        principal_set=principal,
        not_principal_set=not_principal,
    )


def _pair(raw: dict[str, object], name: str, negated: str) -> tuple[tuple[str, ...] | None, ...]:
    if name in raw and negated in raw:
        raise malformed(_SYNTAX, f"a statement cannot have both {name} and {negated}")
    return _strings(raw, name), _strings(raw, negated)


def _strings(raw: dict[str, object], name: str) -> tuple[str, ...] | None:
    if name not in raw:
        return None
    value = raw[name]
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise malformed(_SYNTAX, f"{name} must be a string or a list of strings")
    return tuple(str(item) for item in items)


def _sid(sid: object, kind: PolicyKind) -> str | None:
    if sid is None:
        return None
    if not isinstance(sid, str):
        raise malformed(_SYNTAX, "Sid must be a string")
    if kind is PolicyKind.IDENTITY and not _IDENTITY_SID_RE.match(sid):
        raise malformed(
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
            "regular expression [0-9A-Za-z]*",
            f"Sid {sid!r}",
        )
    return sid


def _effect(effect: object) -> Effect:
    if effect is None:
        raise malformed("Missing required field Effect", "every statement needs an Effect")
    for candidate in Effect:
        if effect == candidate.value:
            return candidate
    raise malformed(f"Invalid effect: {str(effect)[:50]}", 'Effect must be "Allow" or "Deny"')


def _check_actions(actions: tuple[str, ...] | None) -> None:
    if not actions:
        raise malformed("Policy statement must contain actions.", "no Action or NotAction")
    for action in actions:
        if action == "*":
            continue
        vendor, colon, rest = action.partition(":")
        if not colon:
            raise malformed(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
                f"action {action!r}",
            )
        if ":" in rest:
            raise malformed("Actions/Condition can contain only one colon.", f"action {action!r}")
        if not _VENDOR_RE.match(vendor):
            raise malformed(f"Vendor {vendor} is not valid", f"action {action!r}")


def _check_resources(
    kind: PolicyKind, resources: tuple[str, ...] | None, not_resources: tuple[str, ...] | None
) -> None:
    given = resources if resources is not None else not_resources
    if kind is PolicyKind.TRUST and given is not None:
        raise malformed("Has prohibited field Resource", "a trust policy names no resources")
    if kind is PolicyKind.IDENTITY and not given:
        raise malformed("Policy statement must contain resources.", "no Resource or NotResource")
    for resource in given or ():
        if resource != "*" and (not resource.startswith("arn:") or resource.count(":") < 3):
            raise malformed(
                f'Resource {resource[:200]} must be in ARN format or "*".',
                f"resource {resource[:200]!r}",
            )


def _principal_pair(
    raw: dict[str, object], kind: PolicyKind
) -> tuple[Principals | None, Principals | None]:
    present = [name for name in ("Principal", "NotPrincipal") if name in raw]
    if kind is PolicyKind.IDENTITY:
        if present:
            raise malformed("Policy document should not specify a principal.", present[0])
        return None, None
    if not present:
        raise malformed("Missing required field Principal", "resource and trust policies need one")
    if len(present) == 2:
        raise malformed(_SYNTAX, "a statement cannot have both Principal and NotPrincipal")
    compiled = compile_principals(raw[present[0]])
    return (compiled, None) if present[0] == "Principal" else (None, compiled)


def _conditions(block: object, variables: bool) -> tuple[Condition, ...]:
    return () if block is None else compile_conditions(block, variables)


def _resource_patterns(
    resources: tuple[str, ...] | None, variables: bool
) -> tuple[Pattern, ...] | None:
    if resources is None:
        return None
    return tuple(
        compile_pattern(r, wildcards=True, ignore_case=False, variables=variables)
        for r in resources
    )
