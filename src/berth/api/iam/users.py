"""IAM users, their tags, groups and membership."""

from __future__ import annotations

from typing import Any

from berth.api.iam.call import Call, Handler, Result, tags_in, tags_out
from berth.meta.identities import Group, User
from berth.services.iam_common import Page

__all__ = ["OPERATIONS", "group_out", "page_out", "user_out"]


def user_out(user: User) -> dict[str, Any]:
    boundary = None
    if user.permissions_boundary is not None:
        boundary = {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": user.permissions_boundary,
        }
    return {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.id,
        "Arn": user.arn,
        "CreateDate": user.created_at,
        "PermissionsBoundary": boundary,
        "Tags": tags_out(user.tags),
    }


def group_out(group: Group) -> dict[str, Any]:
    return {
        "Path": group.path,
        "GroupName": group.name,
        "GroupId": group.id,
        "Arn": group.arn,
        "CreateDate": group.created_at,
    }


def page_out(page: Page[Any]) -> dict[str, Any]:
    return {"IsTruncated": page.truncated, "Marker": page.marker}


async def create_user(call: Call) -> Result:
    name = call.text("UserName")
    path = call.text("Path", "/")
    await call.authorize("iam:CreateUser", call.arn("user", name, path), _tag_context(call))
    user = await call.identities.principals.create_user(
        name, path, call.params.get("PermissionsBoundary"), tags_in(call)
    )
    return {"User": user_out(user)}


async def get_user(call: Call) -> Result:
    if "UserName" not in call.params and call.principal.is_root:
        await call.authorize("iam:GetUser", call.principal.arn)
        root = call.principal
        return {"User": {"Path": "/", "UserId": root.user_id, "Arn": root.arn}}
    name = call.user_name()
    await call.authorize("iam:GetUser", await call.user_arn(name))
    return {"User": user_out(await call.identities.principals.get_user(name))}


async def list_users(call: Call) -> Result:
    prefix = call.text("PathPrefix", "/")
    await call.authorize("iam:ListUsers", call.arn("user", "", prefix))
    page = await call.identities.principals.list_users(
        prefix, call.params.get("Marker"), call.number("MaxItems")
    )
    return {"Users": [user_out(u) for u in page.items], **page_out(page)}


async def update_user(call: Call) -> Result:
    name = call.text("UserName")
    await call.authorize("iam:UpdateUser", await call.user_arn(name))
    await call.identities.principals.update_user(
        name, call.params.get("NewUserName"), call.params.get("NewPath")
    )
    return {}


async def delete_user(call: Call) -> Result:
    name = call.text("UserName")
    await call.authorize("iam:DeleteUser", await call.user_arn(name))
    await call.identities.principals.delete_user(name)
    return {}


async def tag_user(call: Call) -> Result:
    name = call.text("UserName")
    await call.authorize("iam:TagUser", await call.user_arn(name), _tag_context(call))
    await call.identities.principals.tag_user(name, tags_in(call))
    return {}


async def untag_user(call: Call) -> Result:
    name = call.text("UserName")
    keys = list(call.params.get("TagKeys") or [])
    await call.authorize("iam:UntagUser", await call.user_arn(name), {"aws:TagKeys": keys})
    await call.identities.principals.untag_user(name, keys)
    return {}


async def list_user_tags(call: Call) -> Result:
    name = call.text("UserName")
    await call.authorize("iam:ListUserTags", await call.user_arn(name))
    user = await call.identities.principals.get_user(name)
    return {"Tags": tags_out(user.tags) or [], "IsTruncated": False}


def _tag_context(call: Call) -> dict[str, Any]:
    tags = tags_in(call)
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags}
    if tags:
        context["aws:TagKeys"] = [k for k, _ in tags]
    return context


# -- groups --------------------------------------------------------------------------------------


async def create_group(call: Call) -> Result:
    name = call.text("GroupName")
    path = call.text("Path", "/")
    await call.authorize("iam:CreateGroup", call.arn("group", name, path))
    return {"Group": group_out(await call.identities.principals.create_group(name, path))}


async def get_group(call: Call) -> Result:
    name = call.text("GroupName")
    await call.authorize("iam:GetGroup", await call.group_arn(name))
    group, members = await call.identities.principals.get_group(name)
    return {
        "Group": group_out(group),
        "Users": [user_out(u) for u in members],
        "IsTruncated": False,
    }


async def list_groups(call: Call) -> Result:
    prefix = call.text("PathPrefix", "/")
    await call.authorize("iam:ListGroups", call.arn("group", "", prefix))
    page = await call.identities.principals.list_groups(
        prefix, call.params.get("Marker"), call.number("MaxItems")
    )
    return {"Groups": [group_out(g) for g in page.items], **page_out(page)}


async def delete_group(call: Call) -> Result:
    name = call.text("GroupName")
    await call.authorize("iam:DeleteGroup", await call.group_arn(name))
    await call.identities.principals.delete_group(name)
    return {}


async def add_user_to_group(call: Call) -> Result:
    group = call.text("GroupName")
    await call.authorize("iam:AddUserToGroup", await call.group_arn(group))
    await call.identities.principals.add_user_to_group(group, call.text("UserName"))
    return {}


async def remove_user_from_group(call: Call) -> Result:
    group = call.text("GroupName")
    await call.authorize("iam:RemoveUserFromGroup", await call.group_arn(group))
    await call.identities.principals.remove_user_from_group(group, call.text("UserName"))
    return {}


async def list_groups_for_user(call: Call) -> Result:
    name = call.text("UserName")
    await call.authorize("iam:ListGroupsForUser", await call.user_arn(name))
    groups = await call.identities.principals.groups_for_user(name)
    return {"Groups": [group_out(g) for g in groups], "IsTruncated": False}


OPERATIONS: dict[str, Handler] = {
    "CreateUser": create_user,
    "GetUser": get_user,
    "ListUsers": list_users,
    "UpdateUser": update_user,
    "DeleteUser": delete_user,
    "TagUser": tag_user,
    "UntagUser": untag_user,
    "ListUserTags": list_user_tags,
    "CreateGroup": create_group,
    "GetGroup": get_group,
    "ListGroups": list_groups,
    "DeleteGroup": delete_group,
    "AddUserToGroup": add_user_to_group,
    "RemoveUserFromGroup": remove_user_from_group,
    "ListGroupsForUser": list_groups_for_user,
}
