"""Repository creation templates: settings a new repository takes from the longest matching prefix.

Kept in the registry settings (one JSON value), as ECR keeps them per registry. A template whose
``applied_for`` holds ``CREATE_ON_PUSH`` shapes repositories created by a push; ``ROOT`` matches
every name no other prefix matches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from berth.errors import TemplateAlreadyExistsError, TemplateNotFoundError
from berth.meta.base import MetaStore, Transaction

__all__ = [
    "CREATE_ON_PUSH",
    "ROOT_PREFIX",
    "TEMPLATES_KEY",
    "CreationTemplate",
    "TemplateService",
    "load_templates",
    "matching_template",
]

TEMPLATES_KEY = "ecr.repository_creation_templates"
ROOT_PREFIX = "ROOT"
CREATE_ON_PUSH = "CREATE_ON_PUSH"


@dataclass(frozen=True, slots=True)
class CreationTemplate:
    prefix: str
    applied_for: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    encryption_type: str = "AES256"
    kms_key: str | None = None
    resource_tags: tuple[tuple[str, str], ...] = ()
    tag_mutability: str = "MUTABLE"
    tag_mutability_exclusions: tuple[str, ...] = ()
    repository_policy: str | None = None
    lifecycle_policy: str | None = None
    custom_role_arn: str | None = None

    def repository_config(self) -> dict[str, Any]:
        """The repository fields a repository created from this template starts with."""
        return {
            "tag_mutability": self.tag_mutability,
            "tag_mutability_exclusions": self.tag_mutability_exclusions,
            "encryption_type": self.encryption_type,
            "kms_key": self.kms_key,
            "policy": self.repository_policy,
            "lifecycle_policy": self.lifecycle_policy,
            "resource_tags": self.resource_tags,
        }

    def to_json(self) -> dict[str, Any]:
        value = dataclasses.asdict(self)
        value["created_at"] = self.created_at.timestamp()
        value["updated_at"] = self.updated_at.timestamp()
        return value

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> CreationTemplate:
        fields = dict(value)
        fields["created_at"] = datetime.fromtimestamp(fields["created_at"], UTC)
        fields["updated_at"] = datetime.fromtimestamp(fields["updated_at"], UTC)
        fields["applied_for"] = tuple(fields["applied_for"])
        fields["resource_tags"] = tuple(tuple(pair) for pair in fields["resource_tags"])
        fields["tag_mutability_exclusions"] = tuple(fields["tag_mutability_exclusions"])
        return cls(**fields)


def _normal(prefix: str) -> str:
    return prefix if prefix == ROOT_PREFIX else prefix.rstrip("/")


def _covers(prefix: str, name: str) -> bool:
    return name == prefix or name.startswith(prefix + "/")


def matching_template(
    templates: Mapping[str, CreationTemplate], name: str, applied_for: str
) -> CreationTemplate | None:
    """The template with the longest prefix covering ``name``, else ROOT's, for one purpose."""
    usable = {p: t for p, t in templates.items() if applied_for in t.applied_for}
    covering = [p for p in usable if p != ROOT_PREFIX and _covers(p, name)]
    if covering:
        return usable[max(covering, key=len)]
    return usable.get(ROOT_PREFIX)


async def load_templates(tx: Transaction) -> dict[str, CreationTemplate]:
    stored = await tx.settings.get(TEMPLATES_KEY) or {}
    return {prefix: CreationTemplate.from_json(value) for prefix, value in stored.items()}


async def _save(tx: Transaction, templates: Mapping[str, CreationTemplate]) -> None:
    await tx.settings.put(TEMPLATES_KEY, {p: t.to_json() for p, t in templates.items()})


def _not_found(prefix: str, registry_id: str) -> TemplateNotFoundError:
    return TemplateNotFoundError(
        f"The specified repository creation template with prefix '{prefix}' does not exist "
        f"in the registry with id '{registry_id}'"
    )


class TemplateService:
    def __init__(self, meta: MetaStore, clock: Callable[[], datetime], registry_id: str) -> None:
        self.meta = meta
        self.clock = clock
        self.registry_id = registry_id

    async def create(self, template: CreationTemplate) -> CreationTemplate:
        prefix = _normal(template.prefix)
        now = self.clock()
        created = dataclasses.replace(template, prefix=prefix, created_at=now, updated_at=now)
        async with self.meta.transaction() as tx:
            templates = await load_templates(tx)
            if prefix in templates:
                raise TemplateAlreadyExistsError(
                    f"A repository creation template with prefix '{prefix}' already exists "
                    f"in the registry with id '{self.registry_id}'"
                )
            templates[prefix] = created
            await _save(tx, templates)
        return created

    async def update(self, prefix: str, **changes: Any) -> CreationTemplate:
        prefix = _normal(prefix)
        async with self.meta.transaction() as tx:
            templates = await load_templates(tx)
            if prefix not in templates:
                raise _not_found(prefix, self.registry_id)
            updated = dataclasses.replace(templates[prefix], **changes, updated_at=self.clock())
            templates[prefix] = updated
            await _save(tx, templates)
        return updated

    async def delete(self, prefix: str) -> CreationTemplate:
        prefix = _normal(prefix)
        async with self.meta.transaction() as tx:
            templates = await load_templates(tx)
            if prefix not in templates:
                raise _not_found(prefix, self.registry_id)
            deleted = templates.pop(prefix)
            await _save(tx, templates)
        return deleted

    async def describe(self, prefixes: list[str] | None = None) -> list[CreationTemplate]:
        """Templates in prefix order; named ones must all exist."""
        async with self.meta.read() as tx:
            templates = await load_templates(tx)
        if not prefixes:
            return [templates[p] for p in sorted(templates)]
        found = []
        for prefix in (_normal(p) for p in prefixes):
            if prefix not in templates:
                raise _not_found(prefix, self.registry_id)
            found.append(templates[prefix])
        return found

    async def for_new_repository(self, name: str) -> CreationTemplate | None:
        async with self.meta.read() as tx:
            templates = await load_templates(tx)
        return matching_template(templates, name, CREATE_ON_PUSH)
