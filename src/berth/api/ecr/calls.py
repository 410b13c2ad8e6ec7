"""What every ECR operation gets (the call) and the small helpers several of them share."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from berth.api.aws import AwsContext
from berth.api.download_urls import port_base
from berth.errors import InvalidParameterError, InvalidTagParameterError, NameUnknownError
from berth.meta.base import Repository
from berth.services import Services
from berth.services.access import Origin, RequestContext
from berth.types import Principal, RepositoryName

__all__ = [
    "DEFAULT_PAGE",
    "MAX_TAGS",
    "Call",
    "Result",
    "authorize_repository",
    "check_registry",
    "decode_token",
    "encode_token",
    "find_repository",
    "repository_not_found",
    "repository_view",
    "request_tag_context",
    "require_repository",
    "resource_tag_context",
    "tag_list",
    "tag_pairs",
]

Result = dict[str, Any]
DEFAULT_PAGE = 100
MAX_TAGS = 50
_RESERVED_TAG_PREFIX = "aws:"


@dataclass(frozen=True, slots=True)
class Call:
    """One ECR request, signed in and validated: who, what (``params``) and from where."""

    operation: str
    context: AwsContext
    principal: Principal
    params: dict[str, Any]
    origin: Origin
    base_url: str
    host: str = ""
    """The request's ``Host`` header."""
    server: tuple[str, int] | None = None
    """The address the request arrived on (the ASGI scope's ``server``)."""

    @property
    def download_base(self) -> str | None:
        """The download port as this client reaches it (``berth.api.download_urls``), if on;
        worked out only for the operation that asks."""
        context = self.context
        return port_base(self.host, self.server, context.download_port, context.download_url)

    @property
    def services(self) -> Services:
        return self.context.services

    @property
    def account(self) -> str:
        return self.context.account

    @property
    def registry_host(self) -> str:
        return urlsplit(self.base_url).netloc

    def arn(self, name: str) -> str:
        return self.services.access.repository_arn(name)

    def page_size(self) -> int:
        return int(self.params.get("maxResults") or DEFAULT_PAGE)


def check_registry(call: Call, registry_id: str | None = None) -> None:
    """A registry id, when given (``registryId`` by default), must be this registry's."""
    registry_id = registry_id if registry_id is not None else call.params.get("registryId")
    if registry_id is not None and registry_id != call.account:
        raise InvalidParameterError(
            f"Invalid parameter at 'registryId' failed to satisfy constraint: 'this registry's "
            f"id is {call.account}, not {registry_id}'"
        )


async def find_repository(call: Call, name: str | None = None) -> tuple[str, Repository | None]:
    """The named repository (``repositoryName`` by default), or None when it does not exist."""
    check_registry(call)
    name = name if name is not None else str(call.params["repositoryName"])
    return name, await call.services.repositories.find(RepositoryName(name))


def repository_not_found(name: str, account: str) -> NameUnknownError:
    return NameUnknownError(
        f"The repository with name '{name}' does not exist in the registry with id '{account}'",
        detail={"repositoryName": name},
    )


def require_repository(call: Call, name: str, repository: Repository | None) -> Repository:
    if repository is None:
        raise repository_not_found(name, call.account)
    return repository


def resource_tag_context(repository: Repository | None) -> RequestContext:
    """``ecr:ResourceTag/*`` and ``aws:ResourceTag/*`` for conditions on an existing repository."""
    if repository is None:
        return {}
    context: dict[str, str | list[str] | bool | int | None] = {}
    for key, value in repository.resource_tags:
        context[f"ecr:ResourceTag/{key}"] = value
        context[f"aws:ResourceTag/{key}"] = value
    return context


def request_tag_context(tags: Sequence[tuple[str, str]]) -> RequestContext:
    """``aws:RequestTag/*`` and ``aws:TagKeys`` for a request that brings tags."""
    context: dict[str, str | list[str] | bool | int | None] = {
        f"aws:RequestTag/{key}": value for key, value in tags
    }
    context["aws:TagKeys"] = [key for key, _ in tags]
    return context


def tag_pairs(tags: Sequence[Mapping[str, str]] | None) -> list[tuple[str, str]]:
    """``[{"Key", "Value"}]`` as pairs, with ECR's tag rules checked."""
    pairs = [(str(tag["Key"]), str(tag["Value"])) for tag in tags or ()]
    for key, value in pairs:
        if key.lower().startswith(_RESERVED_TAG_PREFIX):
            raise InvalidTagParameterError(f"Tag keys starting with 'aws:' are reserved: '{key}'")
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise InvalidTagParameterError(
                "A tag key must be 1 to 128 characters and a tag value at most 256 characters"
            )
    return pairs


def tag_list(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in pairs]


def repository_view(call: Call, repository: Repository) -> Result:
    view: Result = {
        "repositoryArn": call.arn(repository.name),
        "registryId": call.account,
        "repositoryName": repository.name,
        "repositoryUri": f"{call.registry_host}/{repository.name}",
        "createdAt": repository.created_at,
        "imageTagMutability": repository.tag_mutability,
        "imageScanningConfiguration": {"scanOnPush": repository.scan_on_push},
        "encryptionConfiguration": {"encryptionType": repository.encryption_type},
    }
    if repository.kms_key:
        view["encryptionConfiguration"]["kmsKey"] = repository.kms_key
    if repository.tag_mutability_exclusions:
        view["imageTagMutabilityExclusionFilters"] = [
            {"filterType": "WILDCARD", "filter": pattern}
            for pattern in repository.tag_mutability_exclusions
        ]
    return view


def _invalid_token() -> InvalidParameterError:
    return InvalidParameterError(
        "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid NextToken'"
    )


def encode_token(parts: Sequence[str]) -> str:
    """An opaque pagination token holding a cursor."""
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode()


def decode_token(token: str | None, length: int) -> list[str] | None:
    if token is None:
        return None
    try:
        parts = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        raise _invalid_token() from None
    if not isinstance(parts, list) or len(parts) != length:
        raise _invalid_token()
    if not all(isinstance(part, str) for part in parts):
        raise _invalid_token()
    return [str(part) for part in parts]


async def authorize_repository(call: Call, action: str) -> Repository:
    """Authorize ``action`` on the named repository (with its tags as conditions), then load it.

    Authorization comes first, so a caller who may not act on a name learns nothing of it.
    """
    name, found = await find_repository(call)
    await call.services.access.authorize(
        call.principal,
        action,
        call.arn(name),
        context=resource_tag_context(found),
        origin=call.origin,
    )
    return require_repository(call, name, found)
