"""The ``Principal``/``NotPrincipal`` element: validated and compiled into sets at parse time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from berth.errors import MalformedPolicyDocumentError
from berth.iam.malformed import malformed
from berth.types import Principal

__all__ = ["PrincipalMatch", "Principals", "compile_principals"]

_ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
_ROOT_RE = re.compile(r"^arn:aws:iam::([0-9]{12}):root$")
_IDENTITY_RE = re.compile(
    r"^arn:aws:(?:iam::[0-9]{12}:(?:user|role)/[\w+=,.@/-]+"
    r"|sts::[0-9]{12}:(?:assumed-role/[\w+=,.@-]+/[\w+=,.@-]+|federated-user/[\w+=,.@-]+))$"
)
_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")


class PrincipalMatch(Enum):
    """How a statement's principals name the caller: exactly (the user or session ARN), through
    its role or ``*`` (generic), or only through its account. Exact grants are not limited by
    boundaries or sessions; an account grant delegates to the account, so in the same account
    it allows nothing unless an identity policy also does (as AWS evaluates it)."""

    NONE = 0
    ACCOUNT = 1
    GENERIC = 2
    EXACT = 3


@dataclass(frozen=True, slots=True)
class Principals:
    everyone: bool
    arns: frozenset[str]
    accounts: frozenset[str]
    others: frozenset[str]
    by_type: Mapping[str, tuple[str, ...]]

    def match(self, principal: Principal, role_arn: str | None) -> PrincipalMatch:
        if self.everyone:
            return PrincipalMatch.GENERIC
        if principal.is_anonymous:
            return PrincipalMatch.NONE
        if principal.arn in self.arns:
            return PrincipalMatch.EXACT
        if role_arn is not None and role_arn in self.arns:
            return PrincipalMatch.GENERIC
        if principal.account in self.accounts:
            return PrincipalMatch.ACCOUNT
        return PrincipalMatch.NONE


def _invalid(why: str) -> MalformedPolicyDocumentError:
    return malformed("Invalid principal in policy", why)


def compile_principals(raw: object) -> Principals:
    if raw == "*":
        return Principals(True, frozenset(), frozenset(), frozenset(), {"AWS": ("*",)})
    if not isinstance(raw, Mapping) or not raw:
        raise _invalid('Principal must be "*" or an object such as {"AWS": "..."}')
    by_type: dict[str, tuple[str, ...]] = {}
    for kind, value in raw.items():
        if kind not in _TYPES:
            raise _invalid(f"unknown principal type {kind!r}")
        by_type[kind] = _strings(kind, value)
    return _collect(by_type)


def _strings(kind: str, value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) and item for item in items):
        raise _invalid(f'"{kind}" must be a non-empty string or list of strings')
    return tuple(str(item) for item in items)


def _collect(by_type: dict[str, tuple[str, ...]]) -> Principals:
    everyone = False
    arns: set[str] = set()
    accounts: set[str] = set()
    others: set[str] = set()
    for value in by_type.get("AWS", ()):
        if value == "*":
            everyone = True
        elif _ACCOUNT_RE.match(value):
            accounts.add(value)
        elif root := _ROOT_RE.match(value):
            accounts.add(root.group(1))
        elif _IDENTITY_RE.match(value):
            arns.add(value)
        else:
            raise _invalid(f'"AWS":"{value}"')
    for kind in ("Service", "Federated", "CanonicalUser"):
        for value in by_type.get(kind, ()):
            if kind == "Service" and value != "*" and ("." not in value or " " in value):
                raise _invalid(f'"Service":"{value}"')
            others.add(value)
    return Principals(everyone, frozenset(arns), frozenset(accounts), frozenset(others), by_type)
