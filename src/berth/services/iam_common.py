"""What the IAM and STS use-cases share: their context, ids, paging, names and policy parsing."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from berth.errors import (
    InvalidInputError,
    MalformedPolicyDocumentError,
    NoSuchEntityError,
    ServerError,
    ValidationError,
)
from berth.iam import Policy, PolicyKind, parse_policy
from berth.meta.base import MetaStore
from berth.meta.cache import TtlCache
from berth.meta.identities import Group, IdentityStore, OwnerKind, Role, Tags, User
from berth.secrets import SecretBox

__all__ = [
    "DEFAULT_MAX_ITEMS",
    "ID_PREFIXES",
    "MAX_TAGS",
    "IamContext",
    "Page",
    "PolicyCache",
    "check_name",
    "check_path",
    "check_tags",
    "constraint_error",
    "decode_marker",
    "new_access_key_id",
    "new_id",
    "new_secret",
    "no_such_owner",
    "owner_id",
    "page_of",
    "policy_size",
]

T = TypeVar("T")

DEFAULT_MAX_ITEMS = 100
MAX_TAGS = 50
ID_PREFIXES = {
    OwnerKind.USER: "AIDA",
    OwnerKind.GROUP: "AGPA",
    OwnerKind.ROLE: "AROA",
}
_ID_ALPHABET = string.ascii_uppercase + string.digits
_KEY_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_NAME_RE = re.compile(r"[\w+=,.@-]+")
_PATH_RE = re.compile(r"(/)|(/[\u0021-\u007E]+/)")
_TAG_RE = re.compile(r"[\w\s.:/=+\-@]*")
_NAME_LIMITS = {"userName": 64, "roleName": 64, "groupName": 128, "policyName": 128}


def new_id(prefix: str) -> str:
    """An IAM unique id: a four-letter prefix (``AIDA``, ``AROA``...) and 17 characters."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def new_access_key_id(prefix: str = "AKIA") -> str:
    return prefix + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def new_secret() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def policy_size(document: str) -> int:
    """What IAM counts against its size quotas: the characters that are not white space."""
    return len(document) - sum(document.count(blank) for blank in " \t\n\r")


def constraint_error(member: str, value: object, constraint: str) -> ValidationError:
    """AWS's wording for a value that breaks a model constraint."""
    return ValidationError(
        f"1 validation error detected: Value '{str(value)[:200]}' at '{member}' failed to "
        f"satisfy constraint: {constraint}"
    )


def check_name(member: str, name: str) -> str:
    limit = _NAME_LIMITS.get(member, 64)
    if not 1 <= len(name) <= limit:
        raise constraint_error(
            member, name, f"Member must have length less than or equal to {limit}"
        )
    if not _NAME_RE.fullmatch(name):
        raise constraint_error(
            member, name, r"Member must satisfy regular expression pattern: [\w+=,.@-]+"
        )
    return name


def check_path(path: str, member: str = "path") -> str:
    if len(path) > 512 or not _PATH_RE.fullmatch(path):
        raise constraint_error(
            member,
            path,
            r"Member must satisfy regular expression pattern: "
            r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
        )
    return path


def check_tags(existing: Tags, added: Sequence[tuple[str, str]]) -> Tags:
    """``existing`` with ``added`` merged in (a key is replaced), checked as IAM checks tags."""
    keys = [key.lower() for key, _ in added]
    if len(keys) != len(set(keys)):
        raise InvalidInputError(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive."
        )
    for key, value in added:
        if not 1 <= len(key) <= 128 or not _TAG_RE.fullmatch(key) or key.startswith("aws:"):
            raise constraint_error("tags.key", key, "Member must satisfy the tag key grammar")
        if len(value) > 256 or not _TAG_RE.fullmatch(value):
            raise constraint_error("tags.value", value, "Member must satisfy the tag value grammar")
    merged = {key.lower(): (key, value) for key, value in existing}
    merged.update({key.lower(): (key, value) for key, value in added})
    if len(merged) > MAX_TAGS:
        raise InvalidInputError(f"The number of tags has reached the maximum limit of {MAX_TAGS}.")
    return tuple(merged.values())


def no_such_owner(kind: OwnerKind, name: str) -> NoSuchEntityError:
    return NoSuchEntityError(f"The {kind.value} with name {name} cannot be found.")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; ``marker`` is set when there is more (``IsTruncated``)."""

    items: tuple[T, ...]
    marker: str | None = None

    @property
    def truncated(self) -> bool:
        return self.marker is not None


def decode_marker(marker: str | None) -> str | None:
    if marker is None:
        return None
    try:
        return base64.urlsafe_b64decode(marker.encode() + b"==").decode()
    except (binascii.Error, ValueError):
        raise InvalidInputError("Invalid Marker.") from None


def page_of(items: Sequence[T], limit: int, key: Callable[[T], str]) -> Page[T]:
    """``items`` fetched with ``limit + 1``: the first ``limit`` and a marker if there is more."""
    if len(items) <= limit:
        return Page(tuple(items))
    kept = tuple(items[:limit])
    marker = base64.urlsafe_b64encode(key(kept[-1]).encode()).decode().rstrip("=")
    return Page(kept, marker)


class PolicyCache:
    """Parsed policies by kind and text: a document is parsed once and reused."""

    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._parsed: dict[tuple[PolicyKind, str], Policy] = {}

    def parse(self, text: str, kind: PolicyKind) -> Policy:
        key = (kind, text)
        found = self._parsed.get(key)
        if found is None:
            found = parse_policy(text, kind, max_size=len(text) + 1)
            if len(self._parsed) >= self._limit:
                self._parsed.clear()
            self._parsed[key] = found
        return found

    def stored(self, text: str, kind: PolicyKind) -> Policy:
        """A policy read back from the database (validated when it was written)."""
        try:
            return self.parse(text, kind)
        except MalformedPolicyDocumentError:
            raise ServerError("a stored policy document no longer parses") from None


@dataclass(slots=True)
class IamContext:
    """Everything the IAM use-cases share; ``changed()`` drops this process's cached answers."""

    meta: MetaStore
    clock: Callable[[], datetime]
    account: str
    box: SecretBox
    policies: PolicyCache = field(default_factory=PolicyCache)
    caches: list[TtlCache[object]] = field(default_factory=list)

    def changed(self) -> None:
        for cache in self.caches:
            cache.clear()

    def arn(self, kind: str, path: str, name: str) -> str:
        return f"arn:aws:iam::{self.account}:{kind}{path}{name}"


async def owner_id(ids: IdentityStore, kind: OwnerKind, name: str) -> str:
    """The id of the user, group or role called ``name``, or NoSuchEntity."""
    found: User | Group | Role | None
    if kind is OwnerKind.USER:
        found = await ids.users.get(name)
    elif kind is OwnerKind.GROUP:
        found = await ids.groups.get(name)
    else:
        found = await ids.roles.get(name)
    if found is None:
        raise no_such_owner(kind, name)
    return found.id
