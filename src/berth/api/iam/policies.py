"""Managed policies and versions, attachments, inline policies and permissions boundaries."""

from __future__ import annotations

from typing import Any

from berth.api.iam.call import Call, Handler, Result
from berth.api.iam.users import page_out
from berth.meta.identities import ManagedPolicy, OwnerKind, PolicyVersion

__all__ = ["OPERATIONS"]

_NAME_MEMBER = {
    OwnerKind.USER: "UserName",
    OwnerKind.GROUP: "GroupName",
    OwnerKind.ROLE: "RoleName",
}
_TITLE = {OwnerKind.USER: "User", OwnerKind.GROUP: "Group", OwnerKind.ROLE: "Role"}


def _policy_out(policy: ManagedPolicy) -> dict[str, Any]:
    return {
        "PolicyName": policy.name,
        "PolicyId": policy.id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version,
        "AttachmentCount": policy.attachment_count,
        "PermissionsBoundaryUsageCount": policy.boundary_usage_count,
        "IsAttachable": True,
        "Description": policy.description or None,
        "CreateDate": policy.created_at,
        "UpdateDate": policy.updated_at,
    }


def _version_out(version: PolicyVersion, with_document: bool = True) -> dict[str, Any]:
    return {
        "Document": version.document if with_document else None,
        "VersionId": version.version_id,
        "IsDefaultVersion": version.is_default,
        "CreateDate": version.created_at,
    }


# -- managed policies and versions ---------------------------------------------------------------


async def create_policy(call: Call) -> Result:
    name = call.text("PolicyName")
    path = call.text("Path", "/")
    await call.authorize("iam:CreatePolicy", call.arn("policy", name, path))
    policy = await call.identities.policies.create_policy(
        name, call.text("PolicyDocument"), path, call.text("Description")
    )
    return {"Policy": _policy_out(policy)}


async def get_policy(call: Call) -> Result:
    arn = call.text("PolicyArn")
    await call.authorize("iam:GetPolicy", arn)
    return {"Policy": _policy_out(await call.identities.policies.get_policy(arn))}


async def list_policies(call: Call) -> Result:
    prefix = call.text("PathPrefix", "/")
    await call.authorize("iam:ListPolicies", call.arn("policy", "", prefix))
    page = await call.identities.policies.list_policies(
        call.text("Scope", "All"),
        bool(call.params.get("OnlyAttached", False)),
        prefix,
        call.params.get("Marker"),
        call.number("MaxItems"),
    )
    return {"Policies": [_policy_out(p) for p in page.items], **page_out(page)}


async def delete_policy(call: Call) -> Result:
    arn = call.text("PolicyArn")
    await call.authorize("iam:DeletePolicy", arn)
    await call.identities.policies.delete_policy(arn)
    return {}


async def create_policy_version(call: Call) -> Result:
    arn = call.text("PolicyArn")
    await call.authorize("iam:CreatePolicyVersion", arn)
    version = await call.identities.policies.create_version(
        arn, call.text("PolicyDocument"), bool(call.params.get("SetAsDefault", False))
    )
    return {"PolicyVersion": _version_out(version, with_document=False)}


async def get_policy_version(call: Call) -> Result:
    arn = call.text("PolicyArn")
    await call.authorize("iam:GetPolicyVersion", arn)
    version = await call.identities.policies.get_version(arn, call.text("VersionId"))
    return {"PolicyVersion": _version_out(version)}


async def list_policy_versions(call: Call) -> Result:
    arn = call.text("PolicyArn")
    await call.authorize("iam:ListPolicyVersions", arn)
    versions = await call.identities.policies.list_versions(arn)
    return {"Versions": [_version_out(v, False) for v in versions], "IsTruncated": False}


async def delete_policy_version(call: Call) -> Result:
    arn = call.text("PolicyArn")
    await call.authorize("iam:DeletePolicyVersion", arn)
    await call.identities.policies.delete_version(arn, call.text("VersionId"))
    return {}


async def set_default_policy_version(call: Call) -> Result:
    arn = call.text("PolicyArn")
    await call.authorize("iam:SetDefaultPolicyVersion", arn)
    await call.identities.policies.set_default_version(arn, call.text("VersionId"))
    return {}


# -- per principal: attachments, inline policies, boundaries -------------------------------------


async def _owner_arn(call: Call, kind: OwnerKind, name: str) -> str:
    lookup = {OwnerKind.USER: call.user_arn, OwnerKind.GROUP: call.group_arn}
    return await lookup.get(kind, call.role_arn)(name)


def _attach(kind: OwnerKind) -> Handler:
    async def handler(call: Call) -> Result:
        owner = call.text(_NAME_MEMBER[kind])
        arn = call.text("PolicyArn")
        resource = await _owner_arn(call, kind, owner)
        await call.authorize(f"iam:Attach{_TITLE[kind]}Policy", resource, {"iam:PolicyARN": arn})
        await call.identities.policies.attach(kind, owner, arn)
        return {}

    return handler


def _detach(kind: OwnerKind) -> Handler:
    async def handler(call: Call) -> Result:
        owner = call.text(_NAME_MEMBER[kind])
        arn = call.text("PolicyArn")
        resource = await _owner_arn(call, kind, owner)
        await call.authorize(f"iam:Detach{_TITLE[kind]}Policy", resource, {"iam:PolicyARN": arn})
        await call.identities.policies.detach(kind, owner, arn)
        return {}

    return handler


def _list_attached(kind: OwnerKind) -> Handler:
    async def handler(call: Call) -> Result:
        owner = call.text(_NAME_MEMBER[kind])
        resource = await _owner_arn(call, kind, owner)
        await call.authorize(f"iam:ListAttached{_TITLE[kind]}Policies", resource)
        page = await call.identities.policies.attached(
            kind,
            owner,
            call.text("PathPrefix", "/"),
            call.params.get("Marker"),
            call.number("MaxItems"),
        )
        attached = [{"PolicyName": p.name, "PolicyArn": p.arn} for p in page.items]
        return {"AttachedPolicies": attached, **page_out(page)}

    return handler


def _put_inline(kind: OwnerKind) -> Handler:
    async def handler(call: Call) -> Result:
        owner = call.text(_NAME_MEMBER[kind])
        resource = await _owner_arn(call, kind, owner)
        await call.authorize(f"iam:Put{_TITLE[kind]}Policy", resource)
        await call.identities.policies.put_inline(
            kind, owner, call.text("PolicyName"), call.text("PolicyDocument")
        )
        return {}

    return handler


def _get_inline(kind: OwnerKind) -> Handler:
    async def handler(call: Call) -> Result:
        owner = call.text(_NAME_MEMBER[kind])
        resource = await _owner_arn(call, kind, owner)
        await call.authorize(f"iam:Get{_TITLE[kind]}Policy", resource)
        found = await call.identities.policies.get_inline(kind, owner, call.text("PolicyName"))
        return {
            _NAME_MEMBER[kind]: owner,
            "PolicyName": found.name,
            "PolicyDocument": found.document,
        }

    return handler


def _list_inline(kind: OwnerKind) -> Handler:
    async def handler(call: Call) -> Result:
        owner = call.text(_NAME_MEMBER[kind])
        resource = await _owner_arn(call, kind, owner)
        await call.authorize(f"iam:List{_TITLE[kind]}Policies", resource)
        page = await call.identities.policies.list_inline(
            kind, owner, call.params.get("Marker"), call.number("MaxItems")
        )
        return {"PolicyNames": list(page.items), **page_out(page)}

    return handler


def _delete_inline(kind: OwnerKind) -> Handler:
    async def handler(call: Call) -> Result:
        owner = call.text(_NAME_MEMBER[kind])
        resource = await _owner_arn(call, kind, owner)
        await call.authorize(f"iam:Delete{_TITLE[kind]}Policy", resource)
        await call.identities.policies.delete_inline(kind, owner, call.text("PolicyName"))
        return {}

    return handler


def _boundary(kind: OwnerKind, put: bool) -> Handler:
    verb = "Put" if put else "Delete"

    async def handler(call: Call) -> Result:
        owner = call.text(_NAME_MEMBER[kind])
        resource = await _owner_arn(call, kind, owner)
        arn = call.text("PermissionsBoundary") if put else None
        context = {"iam:PermissionsBoundary": arn} if arn else None
        await call.authorize(f"iam:{verb}{_TITLE[kind]}PermissionsBoundary", resource, context)
        await call.identities.policies.put_boundary(kind, owner, arn)
        return {}

    return handler


OPERATIONS: dict[str, Handler] = {
    "CreatePolicy": create_policy,
    "GetPolicy": get_policy,
    "ListPolicies": list_policies,
    "DeletePolicy": delete_policy,
    "CreatePolicyVersion": create_policy_version,
    "GetPolicyVersion": get_policy_version,
    "ListPolicyVersions": list_policy_versions,
    "DeletePolicyVersion": delete_policy_version,
    "SetDefaultPolicyVersion": set_default_policy_version,
    "AttachUserPolicy": _attach(OwnerKind.USER),
    "DetachUserPolicy": _detach(OwnerKind.USER),
    "ListAttachedUserPolicies": _list_attached(OwnerKind.USER),
    "PutUserPolicy": _put_inline(OwnerKind.USER),
    "GetUserPolicy": _get_inline(OwnerKind.USER),
    "ListUserPolicies": _list_inline(OwnerKind.USER),
    "DeleteUserPolicy": _delete_inline(OwnerKind.USER),
    "AttachGroupPolicy": _attach(OwnerKind.GROUP),
    "DetachGroupPolicy": _detach(OwnerKind.GROUP),
    "ListAttachedGroupPolicies": _list_attached(OwnerKind.GROUP),
    "PutGroupPolicy": _put_inline(OwnerKind.GROUP),
    "GetGroupPolicy": _get_inline(OwnerKind.GROUP),
    "ListGroupPolicies": _list_inline(OwnerKind.GROUP),
    "DeleteGroupPolicy": _delete_inline(OwnerKind.GROUP),
    "AttachRolePolicy": _attach(OwnerKind.ROLE),
    "DetachRolePolicy": _detach(OwnerKind.ROLE),
    "ListAttachedRolePolicies": _list_attached(OwnerKind.ROLE),
    "PutRolePolicy": _put_inline(OwnerKind.ROLE),
    "GetRolePolicy": _get_inline(OwnerKind.ROLE),
    "ListRolePolicies": _list_inline(OwnerKind.ROLE),
    "DeleteRolePolicy": _delete_inline(OwnerKind.ROLE),
    "PutUserPermissionsBoundary": _boundary(OwnerKind.USER, put=True),
    "DeleteUserPermissionsBoundary": _boundary(OwnerKind.USER, put=False),
    "PutRolePermissionsBoundary": _boundary(OwnerKind.ROLE, put=True),
    "DeleteRolePermissionsBoundary": _boundary(OwnerKind.ROLE, put=False),
}
