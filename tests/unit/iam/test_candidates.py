"""ActionIndex.candidates_for: statements whose resources can never match are left out."""

from __future__ import annotations

import json

from berth.iam import PolicyKind, parse_policy
from berth.iam.documents import Effect

REPOS = "arn:aws:ecr:us-east-1:123456789012:repository/"


def _policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_statically_unmatched_resources_are_left_out_and_the_rest_kept() -> None:
    policy = parse_policy(
        _policy(
            {"Sid": "Team", "Effect": "Allow", "Action": "ecr:*", "Resource": REPOS + "team/*"},
            {
                "Sid": "Mine",
                "Effect": "Allow",
                "Action": "ecr:*",
                "Resource": REPOS + "${aws:username}/*",
            },
            {"Sid": "NotWeb", "Effect": "Allow", "Action": "ecr:*", "NotResource": REPOS + "web"},
            {"Sid": "Any", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        ),
        PolicyKind.IDENTITY,
    )

    def sids(resource: str) -> list[str | None]:
        found = policy.index.candidates_for(Effect.ALLOW, "ecr:batchgetimage", resource)
        return [statement.sid for statement, _ in found]

    assert sids(REPOS + "team/app") == ["Team", "Mine", "NotWeb", "Any"]
    assert sids(REPOS + "web") == ["Mine", "Any"]
    assert sids(REPOS + "other") == ["Mine", "NotWeb", "Any"]
    assert sids(REPOS + "web") == ["Mine", "Any"]  # remembered, same answer
    assert policy.index.candidates_for(Effect.DENY, "ecr:batchgetimage", REPOS + "web") == ()
