"""IAM roles: trust policies, descriptions, session limits and tags."""

from __future__ import annotations

from typing import Any

from berth.api.iam.call import Call, Handler, Result, tags_in, tags_out
from berth.api.iam.users import page_out
from berth.meta.identities import Role

__all__ = ["OPERATIONS", "role_out"]


def role_out(role: Role) -> dict[str, Any]:
    boundary = None
    if role.permissions_boundary is not None:
        boundary = {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": role.permissions_boundary,
        }
    return {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.id,
        "Arn": role.arn,
        "CreateDate": role.created_at,
        "AssumeRolePolicyDocument": role.trust_policy,
        "Description": role.description or None,
        "MaxSessionDuration": role.max_session_duration,
        "PermissionsBoundary": boundary,
        "Tags": tags_out(role.tags),
    }


async def create_role(call: Call) -> Result:
    name = call.text("RoleName")
    path = call.text("Path", "/")
    await call.authorize("iam:CreateRole", call.arn("role", name, path))
    role = await call.identities.principals.create_role(
        name,
        call.text("AssumeRolePolicyDocument"),
        path=path,
        description=call.text("Description"),
        max_session_duration=call.number("MaxSessionDuration"),
        boundary=call.params.get("PermissionsBoundary"),
        tags=tags_in(call),
    )
    return {"Role": role_out(role)}


async def get_role(call: Call) -> Result:
    name = call.text("RoleName")
    await call.authorize("iam:GetRole", await call.role_arn(name))
    return {"Role": role_out(await call.identities.principals.get_role(name))}


async def list_roles(call: Call) -> Result:
    prefix = call.text("PathPrefix", "/")
    await call.authorize("iam:ListRoles", call.arn("role", "", prefix))
    page = await call.identities.principals.list_roles(
        prefix, call.params.get("Marker"), call.number("MaxItems")
    )
    return {"Roles": [role_out(r) for r in page.items], **page_out(page)}


async def update_role(call: Call) -> Result:
    name = call.text("RoleName")
    await call.authorize("iam:UpdateRole", await call.role_arn(name))
    await call.identities.principals.update_role(
        name, call.params.get("Description"), call.number("MaxSessionDuration")
    )
    return {}


async def update_role_description(call: Call) -> Result:
    name = call.text("RoleName")
    await call.authorize("iam:UpdateRoleDescription", await call.role_arn(name))
    await call.identities.principals.update_role(name, call.text("Description"))
    return {"Role": role_out(await call.identities.principals.get_role(name))}


async def update_assume_role_policy(call: Call) -> Result:
    name = call.text("RoleName")
    await call.authorize("iam:UpdateAssumeRolePolicy", await call.role_arn(name))
    await call.identities.principals.update_trust_policy(name, call.text("PolicyDocument"))
    return {}


async def delete_role(call: Call) -> Result:
    name = call.text("RoleName")
    await call.authorize("iam:DeleteRole", await call.role_arn(name))
    await call.identities.principals.delete_role(name)
    return {}


async def tag_role(call: Call) -> Result:
    name = call.text("RoleName")
    await call.authorize("iam:TagRole", await call.role_arn(name))
    await call.identities.principals.tag_role(name, tags_in(call))
    return {}


async def untag_role(call: Call) -> Result:
    name = call.text("RoleName")
    keys = list(call.params.get("TagKeys") or [])
    await call.authorize("iam:UntagRole", await call.role_arn(name), {"aws:TagKeys": keys})
    await call.identities.principals.untag_role(name, keys)
    return {}


async def list_role_tags(call: Call) -> Result:
    name = call.text("RoleName")
    await call.authorize("iam:ListRoleTags", await call.role_arn(name))
    role = await call.identities.principals.get_role(name)
    return {"Tags": tags_out(role.tags) or [], "IsTruncated": False}


OPERATIONS: dict[str, Handler] = {
    "CreateRole": create_role,
    "GetRole": get_role,
    "ListRoles": list_roles,
    "UpdateRole": update_role,
    "UpdateRoleDescription": update_role_description,
    "UpdateAssumeRolePolicy": update_assume_role_policy,
    "DeleteRole": delete_role,
    "TagRole": tag_role,
    "UntagRole": untag_role,
    "ListRoleTags": list_role_tags,
}
