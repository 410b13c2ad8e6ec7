"""A repository's policies as the console edits them: the repository policy and the lifecycle
policy, each behind the ECR action that reads or changes it."""

from __future__ import annotations

from dataclasses import dataclass

from berth.errors import (
    InvalidParameterError,
    MalformedPolicyDocumentError,
    RepositoryPolicyNotFoundError,
)
from berth.iam import PolicyKind, parse_policy
from berth.meta.base import Repository
from berth.services.access import AccessService
from berth.services.lifecycle import LifecyclePreview, LifecycleService
from berth.services.repositories import RepositoryService
from berth.types import Principal

__all__ = ["ConsolePolicies", "Readable"]

_INVALID = "Invalid parameter at 'PolicyText' failed to satisfy constraint: "


@dataclass(frozen=True, slots=True)
class Readable:
    """A policy's text, or why the principal may not read it."""

    text: str | None = None
    refusal: str = ""


class ConsolePolicies:
    def __init__(
        self,
        access: AccessService,
        repositories: RepositoryService,
        lifecycle: LifecycleService,
    ) -> None:
        self.access = access
        self.repositories = repositories
        self.lifecycle = lifecycle

    async def repository_policy(self, principal: Principal, repository: Repository) -> Readable:
        refusal = await self._refusal(principal, "ecr:GetRepositoryPolicy", repository)
        return Readable(refusal=refusal) if refusal else Readable(repository.policy)

    async def set_repository_policy(
        self, principal: Principal, repository: Repository, text: str
    ) -> Repository:
        """Validate and store; a bad document is refused with the parser's reason."""
        arn = self.access.repository_arn(repository.name)
        await self.access.authorize(principal, "ecr:SetRepositoryPolicy", arn)
        try:
            parse_policy(text, PolicyKind.RESOURCE)
        except MalformedPolicyDocumentError as error:
            raise InvalidParameterError(
                f"{_INVALID}'Invalid repository policy provided': {error.message}"
            ) from None
        updated = await self.repositories.update(repository, policy=text)
        self.access.forget_resource(arn)
        return updated

    async def delete_repository_policy(
        self, principal: Principal, repository: Repository
    ) -> Repository:
        arn = self.access.repository_arn(repository.name)
        await self.access.authorize(principal, "ecr:DeleteRepositoryPolicy", arn)
        if repository.policy is None:
            raise RepositoryPolicyNotFoundError(
                f"Repository policy does not exist for the repository with name "
                f"'{repository.name}' in the registry with id '{self.access.account}'"
            )
        updated = await self.repositories.update(repository, policy=None)
        self.access.forget_resource(arn)
        return updated

    async def lifecycle_policy(self, principal: Principal, repository: Repository) -> Readable:
        refusal = await self._refusal(principal, "ecr:GetLifecyclePolicy", repository)
        return Readable(refusal=refusal) if refusal else Readable(repository.lifecycle_policy)

    async def set_lifecycle_policy(
        self, principal: Principal, repository: Repository, text: str
    ) -> None:
        arn = self.access.repository_arn(repository.name)
        await self.access.authorize(principal, "ecr:PutLifecyclePolicy", arn)
        await self.lifecycle.put_policy(repository, text)

    async def preview(
        self, principal: Principal, repository: Repository, text: str | None
    ) -> LifecyclePreview:
        """What the policy (``text``, or the stored one) would expire now; nothing is expired."""
        arn = self.access.repository_arn(repository.name)
        await self.access.authorize(principal, "ecr:StartLifecyclePolicyPreview", arn)
        return await self.lifecycle.preview(repository, text)

    async def _refusal(self, principal: Principal, action: str, repository: Repository) -> str:
        """Why the principal may not read a panel (a probe for the page, so not audited)."""
        arn = self.access.repository_arn(repository.name)
        decision = await self.access.decide(principal, action, arn)
        return "" if decision.allowed else decision.message
