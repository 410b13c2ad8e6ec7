"""Writes and refusals reach the audit log; plain reads do not."""

import base64
import hashlib

import httpx

from berth.app import BerthApp
from berth.meta.base import AuditFilter
from berth.services.audit import is_write
from berth.types import Principal, PrincipalKind


def test_writes_and_reads() -> None:
    assert is_write("ecr:PutImage")
    assert is_write("ecr:InitiateLayerUpload")
    assert is_write("iam:CreateUser")
    assert not is_write("ecr:BatchGetImage")
    assert not is_write("ecr:GetDownloadUrlForLayer")
    assert not is_write("ecr:BatchCheckLayerAvailability")
    assert not is_write("ecr:DescribeRepositories")
    assert not is_write("iam:ListUsers")


async def test_a_push_and_a_refusal_are_recorded(app: BerthApp, client: httpx.AsyncClient) -> None:
    data = b"audited"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    pushed = await client.post(f"/v2/audit/blobs/uploads/?digest={digest}", content=data)
    assert pushed.status_code == 201
    await client.get(f"/v2/audit/blobs/{digest}")
    user = await app.services.identities.principals.create_user("stranger")
    stranger = Principal(
        PrincipalKind.USER, app.settings.account, user.arn, user.id, name="stranger"
    )
    token = app.signer.issue(stranger, 60).token
    basic = base64.b64encode(f"AWS:{token}".encode()).decode()
    refused = await client.get(
        f"/v2/audit/blobs/{digest}", headers={"Authorization": f"Basic {basic}"}
    )
    assert refused.status_code in (401, 403)

    events = await app.services.audit.list(AuditFilter())
    actions = [(e.action, e.outcome) for e in events]
    assert ("ecr:InitiateLayerUpload", "allow") in actions
    assert ("ecr:GetDownloadUrlForLayer", "allow") not in actions
    denied = [e for e in events if e.principal.endswith("user/stranger")]
    assert denied and denied[0].outcome == "implicit-deny"
    assert "ecr:GetDownloadUrlForLayer" in denied[0].message
    only = await app.services.audit.list(AuditFilter(outcome="implicit-deny"))
    assert all(e.outcome == "implicit-deny" for e in only)


async def test_credentials_of_a_deleted_user_are_refused_and_recorded(
    app: BerthApp, client: httpx.AsyncClient
) -> None:
    user = await app.services.identities.principals.create_user("gone")
    who = Principal(PrincipalKind.USER, app.settings.account, user.arn, user.id, name="gone")
    token = app.signer.issue(who, 60).token
    await app.services.identities.principals.delete_user("gone")
    basic = base64.b64encode(f"AWS:{token}".encode()).decode()
    refused = await client.get("/v2/x/tags/list", headers={"Authorization": f"Basic {basic}"})
    assert refused.status_code == 401
    events = await app.services.audit.list(AuditFilter(principal=user.arn))
    assert [e.outcome for e in events] == ["invalid-credentials"]
