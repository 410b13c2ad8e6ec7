"""Lifecycle policies: parse and validate them as ECR does, and decide which images expire.

Pure: no I/O. ``parse_lifecycle_policy`` refuses a policy with ECR's messages;
``evaluate`` applies the rules to a repository's images at one instant. The rules Berth follows,
and where they come from, are in ``docs/lifecycle.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from berth.errors import InvalidParameterError

__all__ = [
    "COUNT_TYPES",
    "POLICY_MAX_LENGTH",
    "TAG_STATUSES",
    "Expiration",
    "LifecycleImage",
    "LifecyclePolicy",
    "LifecycleRule",
    "evaluate",
    "parse_lifecycle_policy",
]

POLICY_MAX_LENGTH = 30720
MAX_WILDCARDS = 4
TAG_STATUSES = ("tagged", "untagged", "any")
COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled")
_AGE_TYPES = frozenset({"sinceImagePushed", "sinceImagePulled"})
_ARCHIVE_ONLY_COUNT_TYPES = frozenset({"sinceImageTransitioned"})

_POLICY_KEYS = frozenset({"rules"})
_RULE_REQUIRED = ("action", "rulePriority", "selection")
_RULE_KEYS = frozenset({*_RULE_REQUIRED, "description"})
_SELECTION_REQUIRED = ("countNumber", "countType", "tagStatus")
_SELECTION_KEYS = frozenset(
    {*_SELECTION_REQUIRED, "tagPrefixList", "tagPatternList", "countUnit", "storageClass"}
)
_ACTION_KEYS = frozenset({"type", "targetStorageClass"})

_CONSTRAINT = "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
_ONE_OF = "instance failed to match exactly one schema (matched 0 out of 2)"
_NO_ARCHIVE = (
    "the archive storage class (storageClass archive, countType sinceImageTransitioned, "
    "action type transition) is not supported by this registry"
)


# -- the policy ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LifecycleRule:
    """One rule, as the policy text states it."""

    priority: int
    tag_status: str
    count_type: str
    count_number: int
    count_unit: str | None = None
    tag_prefixes: tuple[str, ...] = ()
    tag_patterns: tuple[str, ...] = ()
    description: str | None = None
    action: str = "expire"
    _matchers: tuple[re.Pattern[str], ...] = field(
        default=(), init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_matchers", tuple(_wildcard(p) for p in self.tag_patterns))

    def selects(self, tags: Sequence[str]) -> bool:
        """True if an image with ``tags`` meets the rule's tagging requirements."""
        if self.tag_status == "untagged":
            return not tags
        if self.tag_status == "any":
            return True
        if not tags:
            return False
        if self.tag_prefixes:
            return all(any(t.startswith(p) for t in tags) for p in self.tag_prefixes)
        return all(any(m.fullmatch(t) for t in tags) for m in self._matchers)


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    """Validated rules, lowest ``rulePriority`` (applied first) first."""

    rules: tuple[LifecycleRule, ...]


@dataclass(frozen=True, slots=True)
class LifecycleImage:
    """What evaluation needs to know about one manifest of the repository.

    ``children`` are the manifests an index references; ``subject`` is the manifest a referrer
    (a signature, an SBOM) points to.
    """

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    last_pulled_at: datetime | None
    size: int
    media_type: str
    artifact_type: str | None = None
    subject: str | None = None
    children: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Expiration:
    image: LifecycleImage
    rule_priority: int


# -- parsing and validation ---------------------------------------------------------------------


def _failure(detail: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"{_CONSTRAINT}'Lifecycle policy validation failure: {detail}'", detail={"reason": detail}
    )


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _expect(value: Any, kind: str) -> None:
    if _json_type(value) != kind:
        raise _failure(
            f"instance type ({_json_type(value)}) does not match any allowed primitive type "
            f"(allowed: {_compact([kind])})"
        )


def _object(value: Any, required: Iterable[str], allowed: frozenset[str]) -> dict[str, Any]:
    _expect(value, "object")
    missing = sorted(set(required) - set(value))
    if missing:
        raise _failure(f"object has missing required properties ({_compact(missing)})")
    extra = sorted(set(value) - allowed)
    if extra:
        raise _failure(
            f"object instance has properties which are not allowed by the schema: "
            f"({_compact(extra)})"
        )
    return dict(value)


def _positive(value: Any) -> int:
    _expect(value, "integer")
    if value < 1:
        raise _failure(
            f"numeric instance is lower than the required minimum (minimum: 1, found: {value})"
        )
    return int(value)


def _enum(value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed or not isinstance(value, str):
        raise _failure(
            f"instance value ({_compact(value)}) not found in enum "
            f"(possible values: {_compact(list(allowed))})"
        )
    return value


def _strings(value: Any) -> tuple[str, ...]:
    _expect(value, "array")
    if not value:
        raise _failure(
            "array is too short: must have at least 1 elements but instance has 0 elements"
        )
    for item in value:
        _expect(item, "string")
    return tuple(value)


def _count(selection: Mapping[str, Any]) -> tuple[str, str | None, int]:
    count_type = selection["countType"]
    if not isinstance(count_type, str) or count_type not in COUNT_TYPES:
        archive_only = isinstance(count_type, str) and count_type in _ARCHIVE_ONLY_COUNT_TYPES
        raise _failure(_NO_ARCHIVE if archive_only else _ONE_OF)
    unit = selection.get("countUnit")
    if (count_type in _AGE_TYPES) != ("countUnit" in selection):
        raise _failure(_ONE_OF)
    if unit is not None:
        unit = _enum(unit, ("days",))
    return count_type, unit, _positive(selection["countNumber"])


def _tag_lists(selection: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    prefixes = selection.get("tagPrefixList")
    patterns = selection.get("tagPatternList")
    return (
        () if prefixes is None else _strings(prefixes),
        () if patterns is None else _strings(patterns),
    )


def _check_tags(status: str, prefixes: tuple[str, ...], patterns: tuple[str, ...]) -> None:
    if prefixes and patterns:
        raise _failure("A rule may specify either tagPrefixList or tagPatternList, but not both.")
    if status == "tagged" and not (prefixes or patterns):
        raise _failure("Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED.")
    if status != "tagged" and (prefixes or patterns):
        raise _failure("tagPrefixList and tagPatternList may only be used when tagStatus=TAGGED.")
    for pattern in patterns:
        if pattern.count("*") > MAX_WILDCARDS:
            raise _failure(
                f"The tag pattern {pattern!r} has more than {MAX_WILDCARDS} wildcards (*)."
            )


def _action(value: Any) -> str:
    action = _object(value, ("type",), _ACTION_KEYS)
    kind = _enum(action["type"], ("expire", "transition"))
    if kind == "transition":
        raise _failure(_NO_ARCHIVE)
    if "targetStorageClass" in action:
        raise _failure(_ONE_OF)
    return kind


def _rule(value: Any) -> LifecycleRule:
    rule = _object(value, _RULE_REQUIRED, _RULE_KEYS)
    priority = _positive(rule["rulePriority"])
    description = rule.get("description")
    if description is not None:
        _expect(description, "string")
    selection = _object(rule["selection"], _SELECTION_REQUIRED, _SELECTION_KEYS)
    status = _enum(selection["tagStatus"], TAG_STATUSES)
    if (
        "storageClass" in selection
        and _enum(selection["storageClass"], ("standard", "archive")) == "archive"
    ):
        raise _failure(_NO_ARCHIVE)
    prefixes, patterns = _tag_lists(selection)
    count_type, unit, number = _count(selection)
    _check_tags(status, prefixes, patterns)
    return LifecycleRule(
        priority=priority,
        tag_status=status,
        count_type=count_type,
        count_number=number,
        count_unit=unit,
        tag_prefixes=prefixes,
        tag_patterns=patterns,
        description=description,
        action=_action(rule["action"]),
    )


def _check_rules(rules: Sequence[LifecycleRule]) -> None:
    priorities = [rule.priority for rule in rules]
    for priority in priorities:
        if priorities.count(priority) > 1:
            raise _failure(f"Rule priorities must be unique; {priority} is used more than once.")
    highest = max(priorities)
    if any(rule.tag_status == "any" and rule.priority != highest for rule in rules):
        raise _failure("Rule for tagStatus=ANY must have the lowest priority per storage class")
    if sum(rule.tag_status == "untagged" for rule in rules) > 1:
        raise _failure("Only one rule can select Untagged images per storage class.")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _document(text: str) -> Any:
    if len(text) > POLICY_MAX_LENGTH:
        raise InvalidParameterError(
            f"{_CONSTRAINT}'Member must have length less than or equal to {POLICY_MAX_LENGTH}'"
        )
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise _failure("Could not map policyString into LifecyclePolicy.")
    return document


def parse_lifecycle_policy(text: str) -> LifecyclePolicy:
    """The policy ``text`` states, or InvalidParameterError with ECR's message."""
    document = _object(_document(text), ("rules",), _POLICY_KEYS)
    _expect(document["rules"], "array")
    if not document["rules"]:
        raise _failure(
            "array is too short: must have at least 1 elements but instance has 0 elements"
        )
    rules = [_rule(item) for item in document["rules"]]
    _check_rules(rules)
    return LifecyclePolicy(tuple(sorted(rules, key=lambda rule: rule.priority)))


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


# -- evaluation ---------------------------------------------------------------------------------


def _reference_time(rule: LifecycleRule, image: LifecycleImage) -> datetime:
    if rule.count_type == "sinceImagePulled" and image.last_pulled_at is not None:
        return image.last_pulled_at
    return image.pushed_at


def _newest_first(images: Iterable[LifecycleImage]) -> list[LifecycleImage]:
    ordered = sorted(images, key=lambda image: image.digest)
    return sorted(ordered, key=lambda image: image.pushed_at, reverse=True)


def _marked(
    rule: LifecycleRule, selected: Sequence[LifecycleImage], now: datetime
) -> list[LifecycleImage]:
    """The images the rule would expire among those it selects, ignoring other rules."""
    if rule.count_type == "imageCountMoreThan":
        return _newest_first(selected)[rule.count_number :]
    limit = timedelta(days=rule.count_number)
    return [image for image in selected if now - _reference_time(rule, image) > limit]


def _apply(
    rules: Sequence[LifecycleRule], images: Sequence[LifecycleImage], now: datetime
) -> dict[str, int]:
    """Digest -> priority of the rule that expires it. Rules see images that earlier rules
    selected (counts include them) but never expire them."""
    expired: dict[str, int] = {}
    seen: set[str] = set()
    for rule in rules:
        selected = [image for image in images if rule.selects(image.tags)]
        for image in _marked(rule, selected, now):
            if image.digest not in seen:
                expired[image.digest] = rule.priority
        seen.update(image.digest for image in selected)
    return expired


def _with_referrers(
    expired: dict[str, int], referrers: Mapping[str, Sequence[LifecycleImage]]
) -> dict[str, int]:
    result = dict(expired)
    pending = list(expired.items())
    while pending:
        digest, priority = pending.pop()
        for referrer in referrers.get(digest, ()):
            if referrer.digest not in result:
                result[referrer.digest] = priority
                pending.append((referrer.digest, priority))
    return result


def evaluate(
    policy: LifecyclePolicy, images: Sequence[LifecycleImage], now: datetime
) -> list[Expiration]:
    """The images ``policy`` expires at ``now``, each with the rule that expires it.

    Index children are not images of their own (an index must go first); referrers whose
    subject is in the repository go with their subject.
    """
    children = {child for image in images for child in image.children}
    present = {image.digest for image in images}
    referrers: dict[str, list[LifecycleImage]] = {}
    standalone: list[LifecycleImage] = []
    for image in images:
        if image.digest in children:
            continue
        if image.subject is not None and image.subject in present:
            referrers.setdefault(image.subject, []).append(image)
        else:
            standalone.append(image)
    expired = _with_referrers(_apply(policy.rules, standalone, now), referrers)
    by_digest = {image.digest: image for image in images}
    found = [Expiration(by_digest[digest], priority) for digest, priority in expired.items()]
    return sorted(found, key=lambda e: (e.rule_priority, e.image.pushed_at, e.image.digest))
