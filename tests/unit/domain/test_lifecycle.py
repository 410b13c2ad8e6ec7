"""Lifecycle policies: ECR's validation messages and ECR's evaluation rules, case by case.

The evaluation cases include the worked examples of ECR's user guide ("Examples of lifecycle
policies": multiple rules A and B, multiple tags in a single rule A and B).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.domain.lifecycle import (
    COUNT_TYPES,
    TAG_STATUSES,
    LifecycleImage,
    LifecyclePolicy,
    LifecycleRule,
    evaluate,
    parse_lifecycle_policy,
)
from berth.errors import InvalidParameterError

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PREFIX = (
    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
    "'Lifecycle policy validation failure: "
)
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _rule(priority: int = 1, action: Any = None, **selection: Any) -> dict[str, Any]:
    chosen = {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}
    chosen.update(selection)
    return {
        "rulePriority": priority,
        "description": f"rule {priority}",
        "selection": {k: v for k, v in chosen.items() if v is not None},
        "action": {"type": "expire"} if action is None else action,
    }


def _text(*rules: dict[str, Any]) -> str:
    return json.dumps({"rules": list(rules)})


def _refused(text: str) -> str:
    with pytest.raises(InvalidParameterError) as raised:
        parse_lifecycle_policy(text)
    message = raised.value.message
    assert message.startswith(PREFIX) and message.endswith("'")
    return message[len(PREFIX) : -1]


# -- validation ---------------------------------------------------------------------------------


def test_a_valid_policy_is_parsed_in_priority_order() -> None:
    text = _text(
        _rule(5, tagStatus="any", countType="sinceImagePushed", countUnit="days", countNumber=30),
        _rule(1, tagStatus="tagged", tagPrefixList=["prod", "v"], countNumber=10),
        _rule(2, tagStatus="tagged", tagPatternList=["*test*1*2*3"], countNumber=3),
        _rule(3, tagStatus="untagged", countType="sinceImagePulled", countUnit="days"),
    )
    policy = parse_lifecycle_policy(text)
    assert [rule.priority for rule in policy.rules] == [1, 2, 3, 5]
    first = policy.rules[0]
    assert first == LifecycleRule(
        priority=1,
        tag_status="tagged",
        count_type="imageCountMoreThan",
        count_number=10,
        tag_prefixes=("prod", "v"),
        description="rule 1",
    )
    assert policy.rules[3].count_unit == "days"


def test_storage_class_standard_is_accepted() -> None:
    policy = parse_lifecycle_policy(_text(_rule(1, storageClass="standard")))
    assert policy.rules[0].tag_status == "any"


INVALID = [
    pytest.param("not json", "Could not map policyString into LifecyclePolicy.", id="not-json"),
    pytest.param("[1, 2]", "Could not map policyString into LifecyclePolicy.", id="not-object"),
    pytest.param('{"rules": [NaN]}', "Could not map policyString into LifecyclePolicy.", id="nan"),
    pytest.param("{}", 'object has missing required properties (["rules"])', id="no-rules"),
    pytest.param(
        json.dumps({"rules": [], "extra": 1}),
        'object instance has properties which are not allowed by the schema: (["extra"])',
        id="unknown-top-level",
    ),
    pytest.param(
        json.dumps({"rules": {}}),
        'instance type (object) does not match any allowed primitive type (allowed: ["array"])',
        id="rules-not-array",
    ),
    pytest.param(
        json.dumps({"rules": []}),
        "array is too short: must have at least 1 elements but instance has 0 elements",
        id="no-rule",
    ),
    pytest.param(
        json.dumps({"rules": ["x"]}),
        'instance type (string) does not match any allowed primitive type (allowed: ["object"])',
        id="rule-not-object",
    ),
    pytest.param(
        json.dumps({"rules": [{"rulePriority": 1}]}),
        'object has missing required properties (["action","selection"])',
        id="rule-missing",
    ),
    pytest.param(
        _text({**_rule(), "name": "x"}),
        'object instance has properties which are not allowed by the schema: (["name"])',
        id="rule-unknown",
    ),
    pytest.param(
        _text({**_rule(), "rulePriority": "1"}),
        'instance type (string) does not match any allowed primitive type (allowed: ["integer"])',
        id="priority-string",
    ),
    pytest.param(
        _text({**_rule(), "rulePriority": 1.5}),
        'instance type (number) does not match any allowed primitive type (allowed: ["integer"])',
        id="priority-float",
    ),
    pytest.param(
        _text({**_rule(), "rulePriority": True}),
        'instance type (boolean) does not match any allowed primitive type (allowed: ["integer"])',
        id="priority-bool",
    ),
    pytest.param(
        _text(_rule(0)),
        "numeric instance is lower than the required minimum (minimum: 1, found: 0)",
        id="priority-zero",
    ),
    pytest.param(
        _text({**_rule(), "description": 3}),
        'instance type (integer) does not match any allowed primitive type (allowed: ["string"])',
        id="description-number",
    ),
    pytest.param(
        _text(_rule(1, tagStatus=None)),
        'object has missing required properties (["tagStatus"])',
        id="selection-missing",
    ),
    pytest.param(
        _text(_rule(1, tagPrefix=["a"])),
        'object instance has properties which are not allowed by the schema: (["tagPrefix"])',
        id="selection-unknown",
    ),
    pytest.param(
        _text(_rule(1, tagStatus="TAGGED")),
        'instance value ("TAGGED") not found in enum (possible values: ["tagged","untagged","any"])',
        id="tag-status",
    ),
    pytest.param(
        _text(_rule(1, countType="imageCountLessThan")),
        "instance failed to match exactly one schema (matched 0 out of 2)",
        id="count-type",
    ),
    pytest.param(
        _text(_rule(1, countType=["imageCountMoreThan"])),
        "instance failed to match exactly one schema (matched 0 out of 2)",
        id="count-type-list",
    ),
    pytest.param(
        _text(_rule(1, tagStatus=["any"])),
        'instance value (["any"]) not found in enum (possible values: ["tagged","untagged","any"])',
        id="tag-status-list",
    ),
    pytest.param(
        _text(_rule(1, countUnit="days")),
        "instance failed to match exactly one schema (matched 0 out of 2)",
        id="count-unit-with-image-count",
    ),
    pytest.param(
        _text(_rule(1, countType="sinceImagePushed")),
        "instance failed to match exactly one schema (matched 0 out of 2)",
        id="count-unit-missing",
    ),
    pytest.param(
        _text(_rule(1, countType="sinceImagePulled", countUnit="hours")),
        'instance value ("hours") not found in enum (possible values: ["days"])',
        id="count-unit-hours",
    ),
    pytest.param(
        _text(_rule(1, countNumber=0)),
        "numeric instance is lower than the required minimum (minimum: 1, found: 0)",
        id="count-number-zero",
    ),
    pytest.param(
        _text(_rule(1, countNumber="5")),
        'instance type (string) does not match any allowed primitive type (allowed: ["integer"])',
        id="count-number-string",
    ),
    pytest.param(
        _text(_rule(1, action={})),
        'object has missing required properties (["type"])',
        id="action-missing-type",
    ),
    pytest.param(
        _text(_rule(1, action={"type": "delete"})),
        'instance value ("delete") not found in enum (possible values: ["expire","transition"])',
        id="action-type",
    ),
    pytest.param(
        _text(_rule(1, action={"type": "expire", "targetStorageClass": None})),
        "instance failed to match exactly one schema (matched 0 out of 2)",
        id="target-storage-class-with-expire",
    ),
    pytest.param(
        _text(_rule(1, action={"type": "expire", "when": "now"})),
        'object instance has properties which are not allowed by the schema: (["when"])',
        id="action-unknown",
    ),
    pytest.param(
        _text(_rule(1, tagStatus="tagged")),
        "Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED.",
        id="tagged-without-list",
    ),
    pytest.param(
        _text(_rule(1, tagStatus="untagged", tagPrefixList=["a"])),
        "tagPrefixList and tagPatternList may only be used when tagStatus=TAGGED.",
        id="untagged-with-prefixes",
    ),
    pytest.param(
        _text(_rule(1, tagStatus="any", tagPatternList=["a*"])),
        "tagPrefixList and tagPatternList may only be used when tagStatus=TAGGED.",
        id="any-with-patterns",
    ),
    pytest.param(
        _text(_rule(1, tagStatus="tagged", tagPrefixList=["a"], tagPatternList=["b*"])),
        "A rule may specify either tagPrefixList or tagPatternList, but not both.",
        id="both-lists",
    ),
    pytest.param(
        _text(_rule(1, tagStatus="tagged", tagPatternList=["test*1*2*3*4*5*6"])),
        "The tag pattern 'test*1*2*3*4*5*6' has more than 4 wildcards (*).",
        id="five-wildcards",
    ),
    pytest.param(
        _text(_rule(1, tagStatus="tagged", tagPrefixList=[])),
        "array is too short: must have at least 1 elements but instance has 0 elements",
        id="empty-prefix-list",
    ),
    pytest.param(
        _text(_rule(1, tagStatus="tagged", tagPrefixList=[1])),
        'instance type (integer) does not match any allowed primitive type (allowed: ["string"])',
        id="prefix-not-string",
    ),
    pytest.param(
        _text(_rule(1, tagStatus="tagged", tagPrefixList="v")),
        'instance type (string) does not match any allowed primitive type (allowed: ["array"])',
        id="prefix-list-string",
    ),
    pytest.param(
        _text(_rule(2, tagStatus="untagged"), _rule(2, tagStatus="tagged", tagPrefixList=["a"])),
        "Rule priorities must be unique; 2 is used more than once.",
        id="duplicate-priority",
    ),
    pytest.param(
        _text(_rule(1, tagStatus="any"), _rule(2, tagStatus="untagged")),
        "Rule for tagStatus=ANY must have the lowest priority per storage class",
        id="any-not-last",
    ),
    pytest.param(
        _text(_rule(1, tagStatus="any"), _rule(2, tagStatus="any")),
        "Rule for tagStatus=ANY must have the lowest priority per storage class",
        id="two-any",
    ),
    pytest.param(
        _text(_rule(1, tagStatus="untagged"), _rule(2, tagStatus="untagged", countNumber=5)),
        "Only one rule can select Untagged images per storage class.",
        id="two-untagged",
    ),
]


@pytest.mark.parametrize(("text", "detail"), INVALID)
def test_invalid_policies_are_refused_with_ecrs_message(text: str, detail: str) -> None:
    assert _refused(text) == detail


ARCHIVE = [
    pytest.param(_rule(1, storageClass="archive"), id="storage-class-archive"),
    pytest.param(
        _rule(1, countType="sinceImageTransitioned", countUnit="days", storageClass="archive"),
        id="since-transitioned",
    ),
    pytest.param(
        _rule(1, action={"type": "transition", "targetStorageClass": "archive"}),
        id="transition",
    ),
]


@pytest.mark.parametrize("rule", ARCHIVE)
def test_the_archive_storage_class_is_refused_by_name(rule: dict[str, Any]) -> None:
    assert "archive storage class" in _refused(_text(rule))


def test_untagged_and_any_rules_together_are_accepted() -> None:
    policy = parse_lifecycle_policy(
        _text(_rule(1, tagStatus="untagged"), _rule(9, tagStatus="any", countNumber=40))
    )
    assert [rule.tag_status for rule in policy.rules] == ["untagged", "any"]


def test_four_wildcards_are_accepted() -> None:
    rule = _rule(1, tagStatus="tagged", tagPatternList=["*test*1*2*3", "test*1*2*3*"])
    assert parse_lifecycle_policy(_text(rule)).rules[0].tag_patterns == (
        "*test*1*2*3",
        "test*1*2*3*",
    )


def test_policy_text_over_30720_characters_is_refused() -> None:
    text = _text({**_rule(), "description": "x" * 30720})
    with pytest.raises(InvalidParameterError) as raised:
        parse_lifecycle_policy(text)
    assert raised.value.message == (
        "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: "
        "'Member must have length less than or equal to 30720'"
    )


@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_with_invalid_parameter(text: str) -> None:
    try:
        parse_lifecycle_policy(text)
    except InvalidParameterError as error:
        assert error.message.startswith("Invalid parameter at 'LifecyclePolicyText'")


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 3)
    | st.floats(allow_nan=False)
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
SELECTION_VALUES = {
    "tagStatus": st.sampled_from(TAG_STATUSES) | JSON_VALUES,
    "tagPrefixList": st.lists(st.text(max_size=3), max_size=2) | JSON_VALUES,
    "tagPatternList": st.lists(st.text("a*", max_size=6), max_size=2) | JSON_VALUES,
    "countType": st.sampled_from(COUNT_TYPES) | JSON_VALUES,
    "countUnit": st.just("days") | JSON_VALUES,
    "countNumber": st.integers(-1, 5) | JSON_VALUES,
    "storageClass": st.sampled_from(["standard", "archive"]) | JSON_VALUES,
}


@st.composite
def _rules(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.sets(st.sampled_from(sorted(SELECTION_VALUES))))
    selection = {key: draw(SELECTION_VALUES[key]) for key in keys}
    rule = {
        "rulePriority": draw(st.integers(0, 3) | JSON_VALUES),
        "selection": selection,
        "action": draw(st.just({"type": "expire"}) | JSON_VALUES),
    }
    return rule


@given(st.lists(_rules(), min_size=1, max_size=3))
def test_any_rule_shape_parses_or_is_refused_with_invalid_parameter(
    rules: list[dict[str, Any]],
) -> None:
    try:
        policy = parse_lifecycle_policy(json.dumps({"rules": rules}))
    except InvalidParameterError as error:
        assert error.message.startswith(PREFIX)
    else:
        assert len(policy.rules) == len(rules)


# -- evaluation ---------------------------------------------------------------------------------


def _image(
    name: str,
    *tags: str,
    days: float,
    pulled_days: float | None = None,
    media_type: str = MANIFEST,
    subject: str | None = None,
    children: tuple[str, ...] = (),
) -> LifecycleImage:
    return LifecycleImage(
        digest=name,
        tags=tags,
        pushed_at=NOW - timedelta(days=days),
        last_pulled_at=None if pulled_days is None else NOW - timedelta(days=pulled_days),
        size=100,
        media_type=media_type,
        subject=subject,
        children=children,
    )


def _policy(*rules: dict[str, Any]) -> LifecyclePolicy:
    return parse_lifecycle_policy(_text(*rules))


def _expired(policy: LifecyclePolicy, images: list[LifecycleImage]) -> dict[str, int]:
    return {e.image.digest: e.rule_priority for e in evaluate(policy, images, NOW)}


REPO_AB = [
    _image("A", "beta-1", "prod-1", days=10),
    _image("B", "beta-2", "prod-2", days=9),
    _image("C", "beta-3", days=8),
]
REPO_MULTI_A = [
    _image("A", "alpha-1", days=12),
    _image("B", "beta-1", days=11),
    _image("C", "alpha-2", "beta-2", days=10),
    _image("D", "alpha-3", days=4),
    _image("E", "beta-3", days=3),
    _image("F", "alpha-4", "beta-4", days=2),
]
REPO_MULTI_B = [
    _image("A", "alpha-1", "beta-1", "gamma-1", days=10),
    _image("B", "alpha-2", "beta-2", days=9),
    _image("C", "alpha-3", "beta-3", "gamma-2", days=8),
]
MIXED = [
    _image("u-old", days=40),
    _image("u-mid", days=20),
    _image("u-new", days=1),
    _image("p1", "prod-1", days=30),
    _image("p2", "prod-2", days=20),
    _image("p3", "prod-3", "latest", days=10),
    _image("f1", "feature-x-1", days=15),
    _image("f2", "feature-y-2", days=5),
    _image("r1", "release-1.0", days=100),
]

CASES = [
    pytest.param(
        _policy(
            _rule(1, tagStatus="tagged", tagPrefixList=["prod"]),
            _rule(2, tagStatus="tagged", tagPrefixList=["beta"]),
        ),
        REPO_AB,
        {"A": 1},
        id="ecr-example-multiple-rules-a",
    ),
    pytest.param(
        _policy(
            _rule(1, tagStatus="tagged", tagPrefixList=["beta"]),
            _rule(2, tagStatus="tagged", tagPrefixList=["prod"]),
        ),
        REPO_AB,
        {"A": 1, "B": 1},
        id="ecr-example-multiple-rules-b",
    ),
    pytest.param(
        _policy(
            _rule(
                1,
                tagStatus="tagged",
                tagPrefixList=["alpha", "beta"],
                countType="sinceImagePushed",
                countUnit="days",
                countNumber=5,
            )
        ),
        REPO_MULTI_A,
        {"C": 1},
        id="ecr-example-multiple-tags-a",
    ),
    pytest.param(
        _policy(_rule(1, tagStatus="tagged", tagPrefixList=["alpha", "beta"])),
        REPO_MULTI_B,
        {"A": 1, "B": 1},
        id="ecr-example-multiple-tags-b",
    ),
    pytest.param(
        _policy(_rule(1, tagStatus="untagged")),
        MIXED,
        {"u-old": 1, "u-mid": 1},
        id="untagged-count",
    ),
    pytest.param(
        _policy(
            _rule(
                1,
                tagStatus="untagged",
                countType="sinceImagePushed",
                countUnit="days",
                countNumber=14,
            )
        ),
        MIXED,
        {"u-old": 1, "u-mid": 1},
        id="untagged-age",
    ),
    pytest.param(
        _policy(_rule(1, tagStatus="any", countNumber=3)),
        MIXED,
        {"u-old": 1, "p1": 1, "u-mid": 1, "p2": 1, "f1": 1, "r1": 1},
        id="any-count-keeps-the-newest",
    ),
    pytest.param(
        _policy(
            _rule(1, tagStatus="tagged", tagPatternList=["prod-*"], countNumber=9999),
            _rule(
                2, tagStatus="any", countType="sinceImagePushed", countUnit="days", countNumber=7
            ),
        ),
        MIXED,
        {"u-old": 2, "u-mid": 2, "f1": 2, "r1": 2},
        id="a-higher-rule-protects-what-it-selects",
    ),
    pytest.param(
        _policy(
            _rule(1, tagStatus="tagged", tagPatternList=["prod-*"], countNumber=9999),
            _rule(2, tagStatus="any", countNumber=4),
        ),
        MIXED,
        {"u-old": 2, "u-mid": 2, "r1": 2},
        id="lower-rules-count-protected-images",
    ),
    pytest.param(
        _policy(_rule(1, tagStatus="tagged", tagPatternList=["feature-*-*"])),
        MIXED,
        {"f1": 1},
        id="wildcard-in-the-middle",
    ),
    pytest.param(
        _policy(_rule(1, tagStatus="tagged", tagPatternList=["*"], countNumber=2)),
        MIXED,
        {"p1": 1, "p2": 1, "f1": 1, "r1": 1},
        id="star-selects-every-tagged-image",
    ),
    pytest.param(
        _policy(
            _rule(
                1,
                tagStatus="tagged",
                tagPatternList=["prod-*", "lat*"],
                countType="sinceImagePushed",
                countUnit="days",
                countNumber=5,
            )
        ),
        MIXED,
        {"p3": 1},
        id="every-pattern-must-match-a-tag-of-the-image",
    ),
    pytest.param(
        _policy(
            _rule(
                1,
                tagStatus="tagged",
                tagPrefixList=["latest"],
                countType="sinceImagePushed",
                countUnit="days",
                countNumber=5,
            )
        ),
        MIXED,
        {"p3": 1},
        id="multi-tag-image-matches-by-any-of-its-tags",
    ),
    pytest.param(
        _policy(_rule(1, tagStatus="tagged", tagPatternList=["prod"])),
        MIXED,
        {},
        id="a-pattern-without-wildcard-is-exact",
    ),
    pytest.param(
        _policy(
            _rule(1, tagStatus="untagged", countNumber=1),
            _rule(2, tagStatus="tagged", tagPrefixList=["prod", "feature"], countNumber=1),
            _rule(
                3, tagStatus="any", countType="sinceImagePushed", countUnit="days", countNumber=25
            ),
        ),
        MIXED,
        {"u-old": 1, "u-mid": 1, "p1": 3, "r1": 3},
        id="three-rules",
    ),
]


@pytest.mark.parametrize(("policy", "images", "expected"), CASES)
def test_evaluation(
    policy: LifecyclePolicy, images: list[LifecycleImage], expected: dict[str, int]
) -> None:
    assert _expired(policy, images) == expected


def test_age_is_strictly_older_than_the_count() -> None:
    images = [_image("exact", days=7), _image("older", days=7.001)]
    policy = _policy(_rule(1, countType="sinceImagePushed", countUnit="days", countNumber=7))
    assert _expired(policy, images) == {"older": 1}


def test_since_image_pulled_uses_the_pull_time_or_else_the_push_time() -> None:
    images = [
        _image("pulled-recently", "a", days=100, pulled_days=2),
        _image("pulled-long-ago", "b", days=100, pulled_days=40),
        _image("never-pulled-old", "c", days=40),
        _image("never-pulled-new", "d", days=3),
    ]
    policy = _policy(_rule(1, countType="sinceImagePulled", countUnit="days", countNumber=30))
    assert _expired(policy, images) == {"pulled-long-ago": 1, "never-pulled-old": 1}


def test_image_count_ties_break_on_digest() -> None:
    images = [_image("b", days=1), _image("a", days=1), _image("c", days=1)]
    assert _expired(_policy(_rule(1, countNumber=2)), images) == {"c": 1}


def test_index_children_are_never_expired_on_their_own() -> None:
    images = [
        _image("index", "v1", days=50, media_type=INDEX, children=("amd64", "arm64")),
        _image("amd64", days=50),
        _image("arm64", days=50),
        _image("loose", days=50),
    ]
    untagged = _policy(
        _rule(
            1, tagStatus="untagged", countType="sinceImagePushed", countUnit="days", countNumber=1
        )
    )
    assert _expired(untagged, images) == {"loose": 1}
    everything = _policy(_rule(1, countType="sinceImagePushed", countUnit="days", countNumber=1))
    assert _expired(everything, images) == {"index": 1, "loose": 1}


def test_children_do_not_count_towards_image_count() -> None:
    images = [
        _image("index", "v1", days=5, media_type=INDEX, children=("child",)),
        _image("child", days=5),
        _image("old", days=9),
    ]
    assert _expired(_policy(_rule(1, tagStatus="untagged", countNumber=1)), images) == {}


def test_referrers_go_with_their_subject() -> None:
    images = [
        _image("app", "v1", days=30),
        _image("signature", days=30, subject="app"),
        _image("sbom", days=1, subject="app"),
        _image("sbom-signature", days=1, subject="sbom"),
        _image("keep", "v2", days=1),
        _image("keep-signature", days=40, subject="keep"),
        _image("orphan", days=40, subject="sha256:gone"),
    ]
    policy = _policy(
        _rule(1, tagStatus="any", countType="sinceImagePushed", countUnit="days", countNumber=10)
    )
    assert _expired(policy, images) == {
        "app": 1,
        "signature": 1,
        "sbom": 1,
        "sbom-signature": 1,
        "orphan": 1,
    }


def test_expirations_are_ordered_by_rule_then_push_time() -> None:
    policy = _policy(
        _rule(1, tagStatus="untagged"),
        _rule(2, tagStatus="tagged", tagPrefixList=["prod"]),
    )
    found = evaluate(policy, MIXED, NOW)
    assert [(e.image.digest, e.rule_priority) for e in found] == [
        ("u-old", 1),
        ("u-mid", 1),
        ("p1", 2),
        ("p2", 2),
    ]
