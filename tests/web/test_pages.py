"""Each page's content, and the same IAM decisions the APIs make."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from berth.app import BerthApp
from berth.meta.identities import OwnerKind

from . import seed
from .conftest import BASE_URL, csrf_of, sign_in, token_in

READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:DescribeRepositories",
                "ecr:GetAuthorizationToken",
                "ecr:GetDownloadUrlForLayer",
                "ecr:GetRepositoryPolicy",
                "ecr:ListImages",
            ],
            "Resource": "*",
        }
    ],
}
ONLY_WEB = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["ecr:DescribeRepositories", "ecr:DescribeImages"],
            "Resource": "arn:aws:ecr:us-east-1:123456789012:repository/team/*",
        }
    ],
}
PASSWORD = "Corr3ct-Horse-Battery"
ACCOUNT_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}


async def _user(app: BerthApp, name: str, policy: dict[str, object]) -> tuple[str, str]:
    identities = app.services.identities
    await identities.principals.create_user(name)
    await identities.policies.put_inline(OwnerKind.USER, name, "console", json.dumps(policy))
    key = await identities.credentials.create_access_key(name)
    await identities.credentials.create_login_profile(name, PASSWORD)
    return key.key.id, key.secret_access_key


@pytest.fixture
async def images(app: BerthApp) -> dict[str, str]:
    services = app.services
    amd = await seed.push_image(services, "team/web", "1.0")
    arm = await seed.push_image(services, "team/web", "1.0-arm64", layers=(b"arm" * 400,))
    index = await seed.push_index(services, "team/web", "latest", [amd, arm])
    signature = await seed.push_signature(services, "team/web", amd)
    await seed.push_image(services, "team/api", "2.0")
    await seed.push_image(services, "other/db", "9")
    return {"amd": amd, "arm": arm, "index": index, "signature": signature}


@pytest.fixture
async def reader(app: BerthApp, images: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    key_id, secret = await _user(app, "reader", READ_ONLY)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        assert (await sign_in(client, key_id, secret)).status_code == 303
        yield client


async def test_the_repository_list_shows_counts_sizes_and_last_push(
    root: httpx.AsyncClient, images: dict[str, str]
) -> None:
    page = await root.get("/ui/repositories")
    assert page.status_code == 200
    text = page.text
    assert text.index("other/db") < text.index("team/api") < text.index("team/web")
    assert 'data-label="Images">4</td>' in text  # team/web: two images, an index, a signature
    assert "seconds ago" in text or "second ago" in text


async def test_the_repository_list_searches_and_sorts(
    root: httpx.AsyncClient, images: dict[str, str]
) -> None:
    found = (await root.get("/ui/repositories", params={"q": "TEAM"})).text
    assert "team/web" in found and "team/api" in found and "other/db" not in found
    by_count = (await root.get("/ui/repositories", params={"sort": "images"})).text
    assert by_count.index("team/web") < by_count.index("team/api")
    by_name_desc = (await root.get("/ui/repositories", params={"order": "desc"})).text
    assert by_name_desc.index("team/web") < by_name_desc.index("other/db")
    like = (await root.get("/ui/repositories", params={"q": "%_"})).text
    assert "No repository you may describe" in like


async def test_the_repository_list_pages(app: BerthApp, root: httpx.AsyncClient) -> None:
    for number in range(30):
        await app.services.repositories.create(seed.RepositoryName(f"many/r{number:02d}"))
    first = await root.get("/ui/repositories", params={"n": 25})
    assert "many/r24" in first.text and "many/r25" not in first.text
    assert "offset=25" in first.text
    second = await root.get("/ui/repositories", params={"n": 25, "offset": 25})
    assert "many/r25" in second.text and "many/r24" not in second.text


async def test_bad_query_parameters_are_ignored_not_errors(
    root: httpx.AsyncClient, images: dict[str, str]
) -> None:
    for params in (
        {"sort": "nope", "order": "sideways", "offset": "-5", "n": "abc"},
        {"offset": "9" * 40, "q": "x" * 5000},
        {"q": "\x00'\";--"},
    ):
        assert (await root.get("/ui/repositories", params=params)).status_code == 200
    assert (await root.get("/ui/repositories/team/web", params={"offset": "x"})).status_code == 200


async def test_a_repository_shows_images_tags_and_pull_commands(
    root: httpx.AsyncClient, images: dict[str, str]
) -> None:
    page = await root.get("/ui/repositories/team/web")
    assert page.status_code == 200
    assert "docker pull berth.test/team/web:1.0" in page.text
    assert "docker pull berth.test/team/web:latest" in page.text
    assert f"docker pull berth.test/team/web@{images['signature']}" in page.text
    assert "application/vnd.dev.cosign.artifact.sig.v1+json" in page.text
    assert "MUTABLE" in page.text
    filtered = await root.get("/ui/repositories/team/web", params={"tag": "arm"})
    assert "1.0-arm64" in filtered.text and "team/web:latest" not in filtered.text
    shouting = await root.get("/ui/repositories/team/web", params={"tag": "ARM"})
    assert "1.0-arm64" in shouting.text, "the tag filter ignores case on every database"


async def test_an_unknown_or_invalid_repository_is_a_page_not_a_crash(
    root: httpx.AsyncClient,
) -> None:
    missing = await root.get("/ui/repositories/no/such")
    assert missing.status_code == 404
    assert "does not exist" in missing.text
    invalid = await root.get("/ui/repositories/UPPER/Case")
    assert invalid.status_code == 400
    bad_ref = await root.get("/ui/repositories/team/web/-/images/sha256:zz")
    assert bad_ref.status_code == 400
    unknown = await root.get("/ui/repositories/team/web/-/images/nope")
    assert unknown.status_code == 404


async def test_an_image_shows_its_layers_config_and_referrers(
    root: httpx.AsyncClient, images: dict[str, str]
) -> None:
    page = await root.get("/ui/repositories/team/web/-/images/1.0")
    assert page.status_code == 200
    text = page.text
    assert images["amd"] in text
    assert "900 B" in text and "450 B" in text  # the two layers
    assert '["/usr/bin/web"]' in text  # the entrypoint
    assert "MODE=production" in text
    assert "org.opencontainers.image.source" in text
    assert "ADD rootfs.tar /" in text
    assert "8080/tcp" in text
    assert images["signature"][:19] in text
    assert "cosign" in text


async def test_an_index_shows_its_platforms(
    root: httpx.AsyncClient, images: dict[str, str]
) -> None:
    page = await root.get("/ui/repositories/team/web/-/images/latest")
    assert "linux/amd64" in page.text
    assert "linux/arm64/v8" in page.text
    assert images["arm"][:19] in page.text


async def test_a_referrer_links_to_its_subject(
    root: httpx.AsyncClient, images: dict[str, str]
) -> None:
    page = await root.get(f"/ui/repositories/team/web/-/images/{images['signature']}")
    assert page.status_code == 200
    assert f"/-/images/{images['amd']}" in page.text


async def test_a_bad_repository_policy_is_refused_with_the_reason(
    root: httpx.AsyncClient, images: dict[str, str]
) -> None:
    token = await csrf_of(root)
    url = "/ui/repositories/team/web/-/policy"
    bad = await root.post(url, data={"csrf_token": token, "policy_text": '{"Statement": ['})
    assert bad.status_code == 400
    assert "Invalid repository policy provided" in bad.text
    assert "not valid JSON" in bad.text
    assert "{&#34;Statement&#34;: [" in bad.text  # the draft is kept
    no_principal = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}],
    }
    refused = await root.post(
        url, data={"csrf_token": token, "policy_text": json.dumps(no_principal)}
    )
    assert refused.status_code == 400
    assert "Principal" in refused.text


async def test_a_repository_policy_is_saved_and_applies_at_once(
    app: BerthApp, root: httpx.AsyncClient, images: dict[str, str]
) -> None:
    arn = "arn:aws:ecr:us-east-1:123456789012:repository/team/web"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NoDeletes",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "ecr:DeleteRepository",
                "Resource": arn,
            }
        ],
    }
    token = await csrf_of(root)
    saved = await root.post(
        "/ui/repositories/team/web/-/policy",
        data={"csrf_token": token, "policy_text": json.dumps(policy)},
    )
    assert saved.status_code == 303
    page = await root.get(saved.headers["location"])
    assert "Repository policy saved." in page.text and "NoDeletes" in page.text
    params = {
        "principal": "arn:aws:iam::123456789012:root",
        "action": "ecr:DeleteRepository",
        "resource": arn,
    }
    simulated = await root.get("/ui/simulator", params=params)
    assert "Denied (explicit deny)" in simulated.text
    assert "NoDeletes" in simulated.text
    deleted = await root.post(
        "/ui/repositories/team/web/-/policy/delete", data={"csrf_token": token}
    )
    assert deleted.status_code == 303
    assert "Allowed" in (await root.get("/ui/simulator", params=params)).text


async def test_policy_changes_need_the_csrf_token(
    root: httpx.AsyncClient, images: dict[str, str]
) -> None:
    response = await root.post(
        "/ui/repositories/team/web/-/policy", data={"policy_text": json.dumps(READ_ONLY)}
    )
    assert response.status_code == 403
    page = await root.get("/ui/repositories/team/web")
    assert "DockerRegistry" not in page.text and "ecr:GetAuthorizationToken" not in page.text


async def test_the_lifecycle_policy_is_validated_saved_and_previewed(
    root: httpx.AsyncClient, images: dict[str, str]
) -> None:
    token = await csrf_of(root)
    url = "/ui/repositories/team/web/-/lifecycle"
    bad = await root.post(url, data={"csrf_token": token, "lifecycle_text": '{"rules": []}'})
    assert bad.status_code == 400
    assert "too short" in bad.text
    rule = {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "imageCountMoreThan",
                    "countNumber": 1,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    text = json.dumps(rule)
    preview = await root.post(url + "/preview", data={"csrf_token": token, "lifecycle_text": text})
    assert preview.status_code == 200
    assert "would expire" in preview.text
    saved = await root.post(url, data={"csrf_token": token, "lifecycle_text": text})
    assert saved.status_code == 303
    assert "Lifecycle policy saved." in (await root.get(saved.headers["location"])).text


async def test_a_read_only_user_sees_repositories_but_not_iam(
    reader: httpx.AsyncClient,
) -> None:
    listing = await reader.get("/ui/repositories")
    assert "team/web" in listing.text
    assert 'href="/ui/iam/users"' not in listing.text
    for path in ("/ui/iam/users", "/ui/iam/roles", "/ui/iam/policies", "/ui/audit"):
        page = await reader.get(path)
        assert page.status_code == 403, path
        assert "arn:aws:iam::123456789012:user/reader is not authorized to perform" in page.text


async def test_a_read_only_user_gets_tags_without_describe_images(
    reader: httpx.AsyncClient,
) -> None:
    page = await reader.get("/ui/repositories/team/web")
    assert page.status_code == 200
    assert "not authorized to perform: ecr:DescribeImages" in page.text
    assert "team/web:1.0" in page.text
    assert "Last pulled" not in page.text


async def test_a_read_only_user_cannot_change_the_policy(
    reader: httpx.AsyncClient,
) -> None:
    page = await reader.get("/ui/repositories/team/web")
    token = token_in(page.text)
    response = await reader.post(
        "/ui/repositories/team/web/-/policy",
        data={"csrf_token": token, "policy_text": json.dumps(READ_ONLY)},
    )
    assert response.status_code == 403
    assert "not authorized to perform: ecr:SetRepositoryPolicy" in response.text
    lifecycle = await reader.get("/ui/repositories/team/web")
    assert "not authorized to perform: ecr:GetLifecyclePolicy" in lifecycle.text


async def test_a_user_sees_only_the_repositories_policies_let_them_describe(
    app: BerthApp, images: dict[str, str], anon: httpx.AsyncClient
) -> None:
    key_id, secret = await _user(app, "teamster", ONLY_WEB)
    assert (await sign_in(anon, key_id, secret)).status_code == 303
    listing = await anon.get("/ui/repositories")
    assert "team/web" in listing.text and "team/api" in listing.text
    assert "other/db" not in listing.text
    denied = await anon.get("/ui/repositories/other/db")
    assert denied.status_code == 403
    assert "ecr:DescribeRepositories" in denied.text
    image = await anon.get("/ui/repositories/team/web/-/images/1.0")
    assert image.status_code == 403
    assert "ecr:BatchGetImage" in image.text


async def test_an_iam_user_signs_in_with_a_console_password(
    app: BerthApp, images: dict[str, str], anon: httpx.AsyncClient
) -> None:
    await _user(app, "dana", READ_ONLY)
    page = await anon.get("/ui/login")
    form = {"token": token_in(page.text), "method": "password", "user_name": "dana"}
    wrong = await anon.post("/ui/login", data={**form, "password": "nope"})
    assert wrong.status_code == 401
    page = await anon.get("/ui/login")
    form["token"] = token_in(page.text)
    right = await anon.post("/ui/login", data={**form, "password": PASSWORD})
    assert right.status_code == 303
    listing = await anon.get("/ui/repositories")
    assert "arn:aws:iam::123456789012:user/dana" in listing.text


async def test_deleting_the_access_key_ends_its_sessions(
    app: BerthApp, images: dict[str, str], anon: httpx.AsyncClient
) -> None:
    key_id, secret = await _user(app, "temp", READ_ONLY)
    assert (await sign_in(anon, key_id, secret)).status_code == 303
    assert (await anon.get("/ui/repositories")).status_code == 200
    await app.services.identities.credentials.delete_access_key("temp", key_id)
    assert (await anon.get("/ui/repositories")).status_code == 303


async def test_iam_pages_list_users_roles_and_policies(
    app: BerthApp, root: httpx.AsyncClient
) -> None:
    await _user(app, "ci", READ_ONLY)
    identities = app.services.identities
    await identities.principals.create_role(
        "pusher", json.dumps(ACCOUNT_TRUST), description="CI pushes"
    )
    policy = await identities.policies.create_policy("ReadOnly", json.dumps(READ_ONLY))
    users = await root.get("/ui/iam/users")
    assert "ci" in users.text and "arn:aws:iam::123456789012:user/ci" in users.text
    user = await root.get("/ui/iam/users/ci")
    assert "AKIA" in user.text and "console" in user.text and "set" in user.text
    roles = await root.get("/ui/iam/roles")
    assert "pusher" in roles.text and "CI pushes" in roles.text
    role = await root.get("/ui/iam/roles/pusher")
    assert "sts:AssumeRole" in role.text
    policies = await root.get("/ui/iam/policies")
    assert "ReadOnly" in policies.text
    shown = await root.get("/ui/iam/policy", params={"arn": policy.arn})
    assert "ecr:GetAuthorizationToken" in shown.text
    assert (await root.get("/ui/iam/users/nobody")).status_code == 404
    assert (await root.get("/ui/iam/policy", params={"arn": "nonsense"})).status_code == 404


async def test_the_simulator_names_the_deciding_statement(
    app: BerthApp, root: httpx.AsyncClient, images: dict[str, str]
) -> None:
    await _user(app, "ci", READ_ONLY)
    arn = "arn:aws:ecr:us-east-1:123456789012:repository/team/web"
    allowed = await root.get(
        "/ui/simulator",
        params={
            "principal": "arn:aws:iam::123456789012:user/ci",
            "action": "ecr:BatchGetImage",
            "resource": arn,
        },
    )
    assert "Allowed" in allowed.text
    assert "identity-based policy" in allowed.text and "console" in allowed.text
    denied = await root.get(
        "/ui/simulator",
        params={
            "principal": "arn:aws:iam::123456789012:user/ci",
            "action": "ecr:PutImage",
            "resource": arn,
            "context": "aws:SourceIp=10.0.0.7\naws:TagKeys=a\naws:TagKeys=b",
        },
    )
    assert "Denied (implicit deny)" in denied.text
    assert "because no identity-based policy allows the ecr:PutImage action" in denied.text


async def test_the_simulator_reports_bad_input(root: httpx.AsyncClient) -> None:
    for params in (
        {"principal": "nonsense", "action": "ecr:PutImage", "resource": "*"},
        {"principal": "arn:aws:iam::123456789012:root", "action": "PutImage", "resource": "*"},
        {"principal": "arn:aws:iam::123456789012:root", "action": "ecr:PutImage", "resource": ""},
        {"principal": "arn:aws:iam::123456789012:user/ghost", "action": "ecr:X", "resource": "*"},
        {
            "principal": "arn:aws:iam::123456789012:root",
            "action": "a:b",
            "resource": "*",
            "context": "no-equals-sign",
        },
    ):
        page = await root.get("/ui/simulator", params=params)
        assert 400 <= page.status_code < 500, params
        assert 'class="alert error"' in page.text


async def test_the_simulator_handles_roles(app: BerthApp, root: httpx.AsyncClient) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    identities = app.services.identities
    await identities.principals.create_role("admin", json.dumps(trust))
    admin = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}],
    }
    await identities.policies.put_inline(OwnerKind.ROLE, "admin", "all-ecr", json.dumps(admin))
    page = await root.get(
        "/ui/simulator",
        params={
            "principal": "arn:aws:iam::123456789012:role/admin",
            "action": "ecr:PutImage",
            "resource": "arn:aws:ecr:us-east-1:123456789012:repository/x",
        },
    )
    assert "Allowed" in page.text and "all-ecr" in page.text


async def test_the_simulator_says_the_root_may_not_assume_a_role(
    app: BerthApp, root: httpx.AsyncClient
) -> None:
    await app.services.identities.principals.create_role("deploy", json.dumps(ACCOUNT_TRUST))
    page = await root.get(
        "/ui/simulator",
        params={
            "principal": "arn:aws:iam::123456789012:root",
            "action": "sts:AssumeRole",
            "resource": "arn:aws:iam::123456789012:role/deploy",
        },
    )
    assert page.status_code == 200
    assert "Denied (implicit deny)" in page.text
    assert "Roles may not be assumed by root accounts." in page.text
    assert "No policy can allow it." in page.text


async def test_the_audit_log_lists_refusals_and_changes_with_filters(
    app: BerthApp, reader: httpx.AsyncClient, root: httpx.AsyncClient
) -> None:
    await reader.get("/ui/iam/users")
    token = await csrf_of(root)
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "ecr:ListImages", "Resource": "*"}
            ],
        }
    )
    await root.post(
        "/ui/repositories/team/web/-/policy", data={"csrf_token": token, "policy_text": policy}
    )
    page = await root.get("/ui/audit")
    assert page.status_code == 200
    assert "iam:ListUsers" in page.text and "ecr:SetRepositoryPolicy" in page.text
    denied = await root.get("/ui/audit", params={"outcome": "implicit-deny"})
    assert "iam:ListUsers" in denied.text and "ecr:SetRepositoryPolicy" not in denied.text
    by_action = await root.get("/ui/audit", params={"action": "ecr:SetRepositoryPolicy"})
    assert "iam:ListUsers" not in by_action.text
    later = await root.get("/ui/audit", params={"since": "2999-01-01T00:00"})
    assert "No events match" in later.text
    bad = await root.get("/ui/audit", params={"since": "yesterday"})
    assert bad.status_code == 400 and "since must be a date" in bad.text


async def test_unknown_pages_and_methods(root: httpx.AsyncClient) -> None:
    assert (await root.get("/ui/nothing-here")).status_code == 404
    assert (await root.delete("/ui/repositories")).status_code == 405
    static = await root.get("/ui/static/htmx.min.js")
    assert static.status_code == 200 and "Zero-Clause BSD" in static.text[:200]


async def test_pages_carry_security_headers(root: httpx.AsyncClient) -> None:
    page = await root.get("/ui/repositories")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"


async def test_an_oversized_or_crowded_form_is_refused(root: httpx.AsyncClient) -> None:
    token = await csrf_of(root)
    big = await root.post("/ui/logout", data={"csrf_token": token, "x": "y" * 300_000})
    assert big.status_code == 413
    crowded = await root.post("/ui/logout", content="&".join(f"f{i}=1" for i in range(80)))
    assert crowded.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/ui/repositories/%00",
        "/ui/repositories/" + "a" * 3000,
        "/ui/repositories/team/web/-/images/" + "b" * 3000,
        "/ui/repositories/team/web/-/images/sha512:abc",
        "/ui/repositories/team/web/-/images/%E2%98%83",
        "/ui/repositories/team//web",
        "/ui/repositories/-/images/x",
        "/ui/iam/users/%00%FF",
        "/ui/iam/roles/" + "r" * 5000,
        "/ui/iam/policy?arn=%00",
        "/ui/simulator?action=%00&principal=arn:aws:iam::1:user/&resource=%FF",
        "/ui/simulator?action=ecr:X&principal=arn:aws:sts::123456789012:assumed-role/&resource=*",
        "/ui/audit?before=99999999999999999999&since=2024-13-45T99:99",
        "/ui/static/../app.py",
    ],
)
async def test_bad_input_is_answered_never_a_server_error(
    root: httpx.AsyncClient, images: dict[str, str], path: str
) -> None:
    response = await root.get(path)
    assert response.status_code < 500, response.text[:500]
    assert "Traceback" not in response.text


async def test_bad_form_bodies_are_answered_never_a_server_error(
    root: httpx.AsyncClient, images: dict[str, str]
) -> None:
    token = await csrf_of(root)
    for body in (b"\xff\xfe\x00", b"policy_text=%ZZ&csrf_token=" + token.encode(), b"=&=&&"):
        response = await root.post(
            "/ui/repositories/team/web/-/policy",
            content=body,
            headers={"X-CSRF-Token": token, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code < 500, response.text[:500]
    login = await root.post("/ui/login", content=b"\xff" * 100)
    assert login.status_code < 500
