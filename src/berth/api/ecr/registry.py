"""Registry operations: describe it, log in to it (GetAuthorizationToken), account settings."""

from __future__ import annotations

from berth.api.ecr.calls import Call, Result, check_registry

__all__ = [
    "describe_registry",
    "get_account_setting",
    "get_authorization_token",
    "put_account_setting",
]

_REGISTRY = "*"


async def describe_registry(call: Call) -> Result:
    await call.services.access.authorize(
        call.principal, "ecr:DescribeRegistry", _REGISTRY, origin=call.origin
    )
    return {"registryId": call.account, "replicationConfiguration": {"rules": []}}


async def get_authorization_token(call: Call) -> Result:
    """A registry login token for the caller: ``base64("AWS:" + token)``, valid 12 hours."""
    await call.services.access.authorize(
        call.principal, "ecr:GetAuthorizationToken", _REGISTRY, origin=call.origin
    )
    for registry_id in call.params.get("registryIds") or []:
        check_registry(call, registry_id)
    issued = call.context.issue_token(call.principal)
    entry = {
        "authorizationToken": issued.authorization_token,
        "expiresAt": issued.expires_at,
        "proxyEndpoint": call.base_url.rstrip("/"),
    }
    return {"authorizationData": [entry]}


async def get_account_setting(call: Call) -> Result:
    await call.services.access.authorize(
        call.principal, "ecr:GetAccountSetting", _REGISTRY, origin=call.origin
    )
    name = str(call.params["name"])
    return {"name": name, "value": await call.services.registry.get_account_setting(name)}


async def put_account_setting(call: Call) -> Result:
    await call.services.access.authorize(
        call.principal, "ecr:PutAccountSetting", _REGISTRY, origin=call.origin
    )
    name, value = str(call.params["name"]), str(call.params["value"])
    await call.services.registry.put_account_setting(name, value)
    return {"name": name, "value": value}
