from datetime import UTC, datetime

from berth.services.templates import CreationTemplate, matching_template

AT = datetime(2024, 1, 1, tzinfo=UTC)


def template(prefix: str, applied_for: tuple[str, ...] = ("CREATE_ON_PUSH",)) -> CreationTemplate:
    return CreationTemplate(prefix, applied_for, AT, AT, tag_mutability=prefix)


TEMPLATES = {
    "ROOT": template("ROOT"),
    "prod": template("prod"),
    "prod/web": template("prod/web"),
    "replica": template("replica", ("REPLICATION",)),
}


def chosen(name: str) -> str | None:
    found = matching_template(TEMPLATES, name, "CREATE_ON_PUSH")
    return None if found is None else found.prefix


def test_longest_namespace_prefix_wins() -> None:
    assert chosen("prod/web/api") == "prod/web"
    assert chosen("prod/db") == "prod"
    assert chosen("prod") == "prod"


def test_a_prefix_is_a_namespace_not_a_string_prefix() -> None:
    assert chosen("production") == "ROOT"


def test_templates_for_other_purposes_do_not_apply() -> None:
    assert chosen("replica/x") == "ROOT"
    assert (
        matching_template({"replica": TEMPLATES["replica"]}, "replica/x", "CREATE_ON_PUSH") is None
    )


def test_round_trip_through_json() -> None:
    original = CreationTemplate(
        "team",
        ("CREATE_ON_PUSH",),
        AT,
        AT,
        resource_tags=(("a", "b"),),
        tag_mutability_exclusions=("x*",),
    )
    assert CreationTemplate.from_json(original.to_json()) == original
