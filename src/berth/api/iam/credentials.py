"""Access keys and login profiles."""

from __future__ import annotations

from typing import Any

from berth.api.iam.call import Call, Handler, Result
from berth.api.iam.users import page_out
from berth.meta.identities import AccessKey

__all__ = ["OPERATIONS"]


def _key_out(key: AccessKey, user_name: str) -> dict[str, Any]:
    return {
        "UserName": user_name,
        "AccessKeyId": key.id,
        "Status": key.status,
        "CreateDate": key.created_at,
    }


async def create_access_key(call: Call) -> Result:
    name = call.user_name()
    await call.authorize("iam:CreateAccessKey", await call.user_arn(name))
    created = await call.identities.credentials.create_access_key(name)
    key = _key_out(created.key, created.user_name)
    return {"AccessKey": {**key, "SecretAccessKey": created.secret_access_key}}


async def list_access_keys(call: Call) -> Result:
    name = call.user_name()
    await call.authorize("iam:ListAccessKeys", await call.user_arn(name))
    page = await call.identities.credentials.list_access_keys(
        name, call.params.get("Marker"), call.number("MaxItems")
    )
    user = await call.identities.principals.get_user(name)
    metadata = [_key_out(key, user.name) for key in page.items]
    return {"AccessKeyMetadata": metadata, **page_out(page)}


async def update_access_key(call: Call) -> Result:
    name = call.user_name()
    await call.authorize("iam:UpdateAccessKey", await call.user_arn(name))
    await call.identities.credentials.update_access_key(
        name, call.text("AccessKeyId"), call.text("Status")
    )
    return {}


async def delete_access_key(call: Call) -> Result:
    name = call.user_name()
    await call.authorize("iam:DeleteAccessKey", await call.user_arn(name))
    await call.identities.credentials.delete_access_key(name, call.text("AccessKeyId"))
    return {}


async def get_access_key_last_used(call: Call) -> Result:
    key_id = call.text("AccessKeyId")
    use = await call.identities.credentials.key_last_used(key_id)
    await call.authorize("iam:GetAccessKeyLastUsed", await call.user_arn(use.user_name))
    key = use.key
    last: dict[str, Any] = {"ServiceName": "N/A", "Region": "N/A"}
    if key is not None and key.last_used_at is not None:
        last = {
            "LastUsedDate": key.last_used_at,
            "ServiceName": key.last_used_service,
            "Region": key.last_used_region,
        }
    return {"UserName": use.user_name, "AccessKeyLastUsed": last}


def _profile_out(user_name: str, created: Any, reset: bool) -> dict[str, Any]:
    return {"UserName": user_name, "CreateDate": created, "PasswordResetRequired": reset}


async def create_login_profile(call: Call) -> Result:
    name = call.user_name()
    await call.authorize("iam:CreateLoginProfile", await call.user_arn(name))
    profile = await call.identities.credentials.create_login_profile(
        name, call.text("Password"), bool(call.params.get("PasswordResetRequired", False))
    )
    user = await call.identities.principals.get_user(name)
    return {"LoginProfile": _profile_out(user.name, profile.created_at, profile.reset_required)}


async def get_login_profile(call: Call) -> Result:
    name = call.user_name()
    await call.authorize("iam:GetLoginProfile", await call.user_arn(name))
    user, profile = await call.identities.credentials.get_login_profile(name)
    return {"LoginProfile": _profile_out(user.name, profile.created_at, profile.reset_required)}


async def update_login_profile(call: Call) -> Result:
    name = call.user_name()
    await call.authorize("iam:UpdateLoginProfile", await call.user_arn(name))
    await call.identities.credentials.update_login_profile(
        name, call.params.get("Password"), call.params.get("PasswordResetRequired")
    )
    return {}


async def delete_login_profile(call: Call) -> Result:
    name = call.user_name()
    await call.authorize("iam:DeleteLoginProfile", await call.user_arn(name))
    await call.identities.credentials.delete_login_profile(name)
    return {}


OPERATIONS: dict[str, Handler] = {
    "CreateAccessKey": create_access_key,
    "ListAccessKeys": list_access_keys,
    "UpdateAccessKey": update_access_key,
    "DeleteAccessKey": delete_access_key,
    "GetAccessKeyLastUsed": get_access_key_last_used,
    "CreateLoginProfile": create_login_profile,
    "GetLoginProfile": get_login_profile,
    "UpdateLoginProfile": update_login_profile,
    "DeleteLoginProfile": delete_login_profile,
}
