"""`berth policy check` (local, with line and column) and `berth policy simulate` (the server)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from .conftest import ACCOUNT_ID, Berth

REPOSITORY_ARN = f"arn:aws:ecr:us-east-1:{ACCOUNT_ID}:repository/web"

GOOD = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Pull",
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": REPOSITORY_ARN,
            }
        ],
    },
    indent=2,
)

BAD = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Pull", "Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"},
    {
      "Sid": "Push",
      "Effect": "Allwo",
      "Action": "ecr:PutImage",
      "Resource": "*"
    }
  ]
}
"""

RISKY = """{
  "Statement": [
    {"Effect": "Allow", "Action": ["ecr:PutImage", "ecr:BatchGetImages"], "Resource": "*"},
    {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
  ]
}
"""


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_check_accepts_a_good_policy(berth: Berth, tmp_path: Path) -> None:
    result = berth("policy", "check", str(_file(tmp_path, "good.json", GOOD)))
    assert result.returncode == 0, result.stdout
    assert "valid identity policy (1 statement, 0 warnings)" in result.stdout


def test_check_points_at_the_problem(berth: Berth, tmp_path: Path) -> None:
    path = _file(tmp_path, "bad.json", BAD)
    result = berth("policy", "check", str(path))
    assert result.returncode == 1
    assert f"{path}:7:7: error: Invalid effect: Allwo" in result.stdout
    assert "Sid 'Push'" in result.stdout
    lines = result.stdout.splitlines()
    caret = lines.index('        "Effect": "Allwo",') + 1
    assert lines[caret] == "        ^"

    syntax = _file(tmp_path, "syntax.json", '{\n  "Version": "2012-10-17"\n  "Statement": []\n}\n')
    result = berth("policy", "check", str(syntax))
    assert result.returncode == 1
    assert f"{syntax}:3:3: error: Syntax errors in policy." in result.stdout

    trust = berth("policy", "check", "--kind", "trust", str(_file(tmp_path, "g.json", GOOD)))
    assert trust.returncode == 1
    assert "Principal" in trust.stdout


def test_check_lints(berth: Berth, tmp_path: Path) -> None:
    path = _file(tmp_path, "risky.json", RISKY)
    result = berth("policy", "check", str(path))
    assert result.returncode == 0
    assert (
        f"{path}:3:52: warning: Statement[0]: unknown ECR action ecr:BatchGetImages; did you mean ecr:BatchGetImage?"
        in result.stdout
    )
    assert (
        f'{path}:3:75: warning: Statement[0]: write actions (ecr:PutImage) on "Resource": "*"'
        in (result.stdout)
    )
    assert "NotAction" in result.stdout and 'no "Version"' in result.stdout
    assert "4 warnings" in result.stdout
    strict = berth("policy", "check", "--strict", str(path))
    assert strict.returncode == 1


@pytest.mark.clients
def test_simulate_says_allowed_or_denied_and_why(berth: Berth, tmp_path: Path) -> None:
    user = f"sim-{uuid.uuid4().hex[:6]}"
    arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"
    good = _file(tmp_path, "good.json", GOOD)
    berth.ok("iam", "create-user", "--user-name", user)
    berth.ok(
        "iam",
        "put-user-policy",
        "--user-name",
        user,
        "--policy-name",
        "pull",
        "--policy-document",
        f"file://{good}",
    )

    allowed = berth(
        "policy",
        "simulate",
        "--principal",
        arn,
        "--action",
        "ecr:BatchGetImage",
        "--resource",
        REPOSITORY_ARN,
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "allowed" in allowed.stdout and "decided by pull" in allowed.stdout

    denied = berth(
        "policy",
        "simulate",
        "--principal",
        arn,
        "--action",
        "ecr:PutImage",
        "--resource",
        REPOSITORY_ARN,
    )
    assert denied.returncode == 1
    assert "denied (implicitDeny)" in denied.stdout

    custom = _file(
        tmp_path,
        "custom.json",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "All", "Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
                    {
                        "Sid": "NoDelete",
                        "Effect": "Deny",
                        "Action": "ecr:BatchDeleteImage",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
                    },
                ],
            },
            indent=2,
        ),
    )
    explicit = berth(
        "policy",
        "simulate",
        "--principal",
        arn,
        "--action",
        "ecr:BatchDeleteImage",
        "--resource",
        REPOSITORY_ARN,
        "--policy-file",
        str(custom),
        "--context",
        "aws:RequestedRegion=us-east-1",
    )
    assert explicit.returncode == 1
    assert "denied (explicitDeny)" in explicit.stdout
    assert f"statement NoDelete at {custom}:10:5" in explicit.stdout

    other_region = berth(
        "policy",
        "simulate",
        "--principal",
        arn,
        "--action",
        "ecr:BatchDeleteImage",
        "--resource",
        REPOSITORY_ARN,
        "--policy-file",
        str(custom),
        "--context",
        "aws:RequestedRegion=eu-west-1",
    )
    assert other_region.returncode == 0
    assert "statement All" in other_region.stdout

    as_json = berth(
        "--output",
        "json",
        "policy",
        "simulate",
        "--principal",
        arn,
        "--action",
        "ecr:PutImage",
        "--resource",
        REPOSITORY_ARN,
    )
    assert json.loads(as_json.stdout)["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
