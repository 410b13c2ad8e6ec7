"""Median time of one IAM decision for a user with 10 identity policies of 10 statements each.

Run: .venv/bin/python benchmarks/iam_decision.py
"""

from __future__ import annotations

import json
import statistics
import time

from berth.iam import AuthorizationRequest, NamedPolicy, PolicyKind, evaluate, parse_policy
from berth.types import Principal, PrincipalKind

ACCOUNT = "123456789012"
ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:ListImages", "ecr:Describe*"]


def _policy(number: int) -> str:
    statements = [
        {
            "Sid": f"S{number}x{i}",
            "Effect": "Allow",
            "Action": [ACTIONS[i % len(ACTIONS)], f"ecr:Other{i}"],
            "Resource": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team{number}/*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": f"t{i}"}},
        }
        for i in range(10)
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def main() -> None:
    policies = [
        NamedPolicy(f"p{n}", parse_policy(_policy(n), PolicyKind.IDENTITY)) for n in range(10)
    ]
    principal = Principal(
        PrincipalKind.USER, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/ci", "AIDACI", name="ci"
    )
    request = AuthorizationRequest(
        principal=principal,
        action="ecr:BatchGetImage",
        resource=f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/team9/web",
        resource_account=ACCOUNT,
        context={"aws:PrincipalTag/team": "t8", "aws:SourceIp": "10.0.0.1"},
        identity_policies=policies,
    )
    assert evaluate(request).allowed
    loops = 1000
    samples = []
    for _ in range(200):
        start = time.perf_counter()
        for _ in range(loops):
            evaluate(request)
        samples.append((time.perf_counter() - start) / loops * 1e6)
    print(
        f"median decision time: {statistics.median(samples):.2f} us (10 policies x 10 statements)"
    )


if __name__ == "__main__":
    main()
