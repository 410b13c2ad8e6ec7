"""The STS operations: GetCallerIdentity, GetSessionToken, AssumeRole."""

from __future__ import annotations

from typing import Any

from berth.api.iam.call import Call, Handler, Result
from berth.services.sts import SessionCredentials

__all__ = ["OPERATIONS"]


def _credentials_out(credentials: SessionCredentials) -> dict[str, Any]:
    return {
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key,
        "SessionToken": credentials.session_token,
        "Expiration": credentials.expiration,
    }


async def get_caller_identity(call: Call) -> Result:
    """Needs no permission, as in AWS: anyone may ask who they are."""
    who = call.identities.sts.caller_identity(call.principal)
    return {"UserId": who.user_id, "Account": who.account, "Arn": who.arn}


async def get_session_token(call: Call) -> Result:
    await call.authorize("sts:GetSessionToken", "*")
    credentials = await call.identities.sts.get_session_token(
        call.principal, call.number("DurationSeconds")
    )
    return {"Credentials": _credentials_out(credentials)}


async def assume_role(call: Call) -> Result:
    role_arn = call.text("RoleArn")
    trust = await call.identities.sts.trust_policy(role_arn)
    await call.authorize("sts:AssumeRole", role_arn, resource_policy=trust)
    arns = tuple(str(p["arn"]) for p in call.params.get("PolicyArns") or () if "arn" in p)
    assumed = await call.identities.sts.assume_role(
        call.principal,
        role_arn,
        call.text("RoleSessionName"),
        duration=call.number("DurationSeconds"),
        policy=call.params.get("Policy"),
        policy_arns=arns,
    )
    return {
        "Credentials": _credentials_out(assumed.credentials),
        "AssumedRoleUser": {"AssumedRoleId": assumed.assumed_role_id, "Arn": assumed.arn},
        "PackedPolicySize": assumed.packed_policy_size,
    }


OPERATIONS: dict[str, Handler] = {
    "GetCallerIdentity": get_caller_identity,
    "GetSessionToken": get_session_token,
    "AssumeRole": assume_role,
}
