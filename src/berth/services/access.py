"""The one authorization entry point every surface calls: may this principal do this action here?

Until identity policies land, the account root may do everything and nobody else anything; the
refusal already names who, what, where and why in AWS's words.
"""

from __future__ import annotations

from berth.errors import AccessDeniedError, UnauthorizedError
from berth.types import Principal

__all__ = ["AccessService"]


class AccessService:
    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region

    def repository_arn(self, name: str) -> str:
        return f"arn:aws:ecr:{self.region}:{self.account}:repository/{name}"

    async def authorize(self, principal: Principal, action: str, resource: str) -> None:
        """Return if allowed; raise UnauthorizedError (anonymous) or AccessDeniedError."""
        if principal.is_root and principal.account == self.account:
            return
        if principal.is_anonymous:
            raise UnauthorizedError("authentication required")
        raise AccessDeniedError(
            f"User: {principal.arn} is not authorized to perform: {action} on resource: "
            f"{resource} because no identity-based policy allows the {action} action"
        )

    async def allows(self, principal: Principal, action: str, resource: str) -> bool:
        try:
            await self.authorize(principal, action, resource)
        except (AccessDeniedError, UnauthorizedError):
            return False
        return True
