"""Repository policies (kept on the repository) and the registry policy (kept in settings)."""

from __future__ import annotations

from berth.api.ecr.calls import (
    Call,
    Result,
    authorize_repository,
    check_registry,
)
from berth.errors import (
    InvalidParameterError,
    MalformedPolicyDocumentError,
    RepositoryPolicyNotFoundError,
)
from berth.iam import PolicyKind, parse_policy
from berth.meta.base import Repository

__all__ = [
    "checked_policy",
    "delete_registry_policy",
    "delete_repository_policy",
    "get_registry_policy",
    "get_repository_policy",
    "put_registry_policy",
    "set_repository_policy",
]

_REGISTRY = "*"


def checked_policy(text: str, what: str) -> str:
    """``text`` if it is a valid resource policy; ECR's InvalidParameterException otherwise."""
    try:
        parse_policy(text, PolicyKind.RESOURCE)
    except MalformedPolicyDocumentError as error:
        raise InvalidParameterError(
            f"Invalid parameter at 'PolicyText' failed to satisfy constraint: "
            f"'Invalid {what} policy provided' ({error.message})"
        ) from None
    return text


def _policy_reply(call: Call, repository: Repository, text: str) -> Result:
    return {"registryId": call.account, "repositoryName": repository.name, "policyText": text}


def _no_policy(call: Call, repository: Repository) -> RepositoryPolicyNotFoundError:
    return RepositoryPolicyNotFoundError(
        f"Repository policy does not exist for the repository with name '{repository.name}' "
        f"in the registry with id '{call.account}'"
    )


async def set_repository_policy(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:SetRepositoryPolicy")
    text = checked_policy(str(call.params["policyText"]), "repository")
    await call.services.repositories.update(repository, policy=text)
    return _policy_reply(call, repository, text)


async def get_repository_policy(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:GetRepositoryPolicy")
    if repository.policy is None:
        raise _no_policy(call, repository)
    return _policy_reply(call, repository, repository.policy)


async def delete_repository_policy(call: Call) -> Result:
    repository = await authorize_repository(call, "ecr:DeleteRepositoryPolicy")
    if repository.policy is None:
        raise _no_policy(call, repository)
    await call.services.repositories.update(repository, policy=None)
    return _policy_reply(call, repository, repository.policy)


async def put_registry_policy(call: Call) -> Result:
    check_registry(call)
    await call.services.access.authorize(
        call.principal, "ecr:PutRegistryPolicy", _REGISTRY, origin=call.origin
    )
    text = checked_policy(str(call.params["policyText"]), "registry")
    await call.services.registry.put_registry_policy(text)
    return {"registryId": call.account, "policyText": text}


async def get_registry_policy(call: Call) -> Result:
    check_registry(call)
    await call.services.access.authorize(
        call.principal, "ecr:GetRegistryPolicy", _REGISTRY, origin=call.origin
    )
    text = await call.services.registry.registry_policy()
    return {"registryId": call.account, "policyText": text}


async def delete_registry_policy(call: Call) -> Result:
    check_registry(call)
    await call.services.access.authorize(
        call.principal, "ecr:DeleteRegistryPolicy", _REGISTRY, origin=call.origin
    )
    text = await call.services.registry.delete_registry_policy()
    return {"registryId": call.account, "policyText": text}
