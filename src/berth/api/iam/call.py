"""One IAM or STS call as its handler sees it: who, with what input, and the one authorize call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from berth.errors import ValidationError
from berth.iam import Policy
from berth.services import Services
from berth.services.access import Origin
from berth.services.identities import IdentityService
from berth.types import Principal, PrincipalKind

__all__ = ["Call", "Handler", "Result", "tags_in", "tags_out"]

Result = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Call:
    principal: Principal
    params: Mapping[str, Any]
    services: Services
    account: str
    origin: Origin

    @property
    def identities(self) -> IdentityService:
        return self.services.identities

    async def authorize(
        self,
        action: str,
        resource: str,
        context: Mapping[str, Any] | None = None,
        resource_policy: Policy | None = None,
    ) -> None:
        await self.services.access.authorize(
            self.principal,
            action,
            resource,
            context=context,
            origin=self.origin,
            resource_policy=resource_policy,
        )

    def arn(self, kind: str, name: str, path: str = "/") -> str:
        return f"arn:aws:iam::{self.account}:{kind}{path}{name}"

    async def user_arn(self, name: str) -> str:
        """The user's ARN with its path (``/`` when there is no such user yet)."""
        async with self.services.meta.read() as tx:
            user = await tx.identities.users.get(name)
        return user.arn if user is not None else self.arn("user", name)

    async def role_arn(self, name: str) -> str:
        async with self.services.meta.read() as tx:
            role = await tx.identities.roles.get(name)
        return role.arn if role is not None else self.arn("role", name)

    async def group_arn(self, name: str) -> str:
        async with self.services.meta.read() as tx:
            group = await tx.identities.groups.get(name)
        return group.arn if group is not None else self.arn("group", name)

    def user_name(self) -> str:
        """``UserName`` if given, else the calling user's own name (as IAM does)."""
        name = self.params.get("UserName")
        if name is not None:
            return str(name)
        if self.principal.kind is PrincipalKind.USER:
            return self.principal.name
        raise ValidationError("Must specify userName when calling with non-User credentials")

    def text(self, name: str, default: str = "") -> str:
        value = self.params.get(name)
        return default if value is None else str(value)

    def number(self, name: str) -> int | None:
        value = self.params.get(name)
        return None if value is None else int(value)


Handler = Callable[[Call], Awaitable[Result]]


def tags_in(call: Call, member: str = "Tags") -> tuple[tuple[str, str], ...]:
    return tuple((t["Key"], t.get("Value", "")) for t in call.params.get(member) or ())


def tags_out(tags: tuple[tuple[str, str], ...]) -> list[dict[str, str]] | None:
    return [{"Key": k, "Value": v} for k, v in tags] or None
