"""The one authorization entry point every surface calls: may this principal do this action here?

Until identity policies are wired in, the account root may do everything and nobody else
anything; the refusal already names who, what, where and why in AWS's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from berth.errors import AccessDeniedError, UnauthorizedError
from berth.types import Principal

__all__ = ["AccessService", "Origin", "RequestContext"]

RequestContext = Mapping[str, str | list[str] | bool | int | None]
"""Extra condition keys a request brings (``aws:RequestTag/x``, ``aws:TagKeys``, ...)."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from, for conditions (``aws:SourceIp``) and the audit log."""

    source_ip: str = ""
    request_id: str = ""
    secure_transport: bool = False


class AccessService:
    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region

    def repository_arn(self, name: str) -> str:
        return f"arn:aws:ecr:{self.region}:{self.account}:repository/{name}"

    async def authorize(
        self,
        principal: Principal,
        action: str,
        resource: str,
        *,
        context: RequestContext | None = None,
        origin: Origin | None = None,
    ) -> None:
        """Return if allowed; raise UnauthorizedError (anonymous) or AccessDeniedError."""
        if principal.is_root and principal.account == self.account:
            return
        if principal.is_anonymous:
            raise UnauthorizedError("authentication required")
        raise AccessDeniedError(
            f"User: {principal.arn} is not authorized to perform: {action} on resource: "
            f"{resource} because no identity-based policy allows the {action} action"
        )

    async def allows(
        self,
        principal: Principal,
        action: str,
        resource: str,
        *,
        context: RequestContext | None = None,
    ) -> bool:
        try:
            await self.authorize(principal, action, resource, context=context)
        except (AccessDeniedError, UnauthorizedError):
            return False
        return True
