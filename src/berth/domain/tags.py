"""Tag immutability as ECR decides it: the repository's setting and its exclusion filters."""

from __future__ import annotations

import re
from collections.abc import Sequence

from berth.errors import InvalidParameterError

__all__ = [
    "MUTABILITY_SETTINGS",
    "check_tag_mutability",
    "tag_is_mutable",
    "wildcard_matches",
]

MUTABILITY_SETTINGS = (
    "MUTABLE",
    "IMMUTABLE",
    "IMMUTABLE_WITH_EXCLUSION",
    "MUTABLE_WITH_EXCLUSION",
)


def wildcard_matches(pattern: str, text: str) -> bool:
    """``*`` matches any run of characters (none included); everything else is literal."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, text) is not None


def tag_is_mutable(mutability: str, exclusions: Sequence[str], tag: str) -> bool:
    """May ``tag`` be moved to another image under this repository setting?

    ``IMMUTABLE_WITH_EXCLUSION``: immutable except tags matching a filter;
    ``MUTABLE_WITH_EXCLUSION``: mutable except tags matching a filter.
    """
    excluded = any(wildcard_matches(pattern, tag) for pattern in exclusions)
    if mutability == "IMMUTABLE":
        return False
    if mutability == "IMMUTABLE_WITH_EXCLUSION":
        return excluded
    if mutability == "MUTABLE_WITH_EXCLUSION":
        return not excluded
    return True


def check_tag_mutability(mutability: str, exclusions: Sequence[str]) -> None:
    """Exclusion filters go with the ``*_WITH_EXCLUSION`` settings, and only with them."""
    with_exclusion = mutability.endswith("_WITH_EXCLUSION")
    if with_exclusion and not exclusions:
        raise InvalidParameterError(
            "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy "
            f"constraint: 'exclusion filters are required when imageTagMutability is {mutability}'"
        )
    if exclusions and not with_exclusion:
        raise InvalidParameterError(
            "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy "
            "constraint: 'exclusion filters are only allowed with IMMUTABLE_WITH_EXCLUSION "
            "or MUTABLE_WITH_EXCLUSION'"
        )
