import pytest

from berth.domain.tags import check_tag_mutability, tag_is_mutable, wildcard_matches
from berth.errors import InvalidParameterError


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("latest", "latest", True),
        ("latest", "latest2", False),
        ("v*", "v1.2", True),
        ("*-dev", "x-dev", True),
        ("a*b*c", "axxbyyc", True),
        ("a.c", "abc", False),
    ],
)
def test_wildcards(pattern: str, text: str, expected: bool) -> None:
    assert wildcard_matches(pattern, text) is expected


def test_mutability_settings_and_exclusions() -> None:
    assert tag_is_mutable("MUTABLE", (), "v1")
    assert not tag_is_mutable("IMMUTABLE", (), "v1")
    assert tag_is_mutable("IMMUTABLE_WITH_EXCLUSION", ("latest",), "latest")
    assert not tag_is_mutable("IMMUTABLE_WITH_EXCLUSION", ("latest",), "v1")
    assert not tag_is_mutable("MUTABLE_WITH_EXCLUSION", ("release-*",), "release-1")
    assert tag_is_mutable("MUTABLE_WITH_EXCLUSION", ("release-*",), "dev")


def test_exclusions_go_with_the_exclusion_settings() -> None:
    check_tag_mutability("IMMUTABLE_WITH_EXCLUSION", ("x",))
    check_tag_mutability("MUTABLE", ())
    with pytest.raises(InvalidParameterError):
        check_tag_mutability("IMMUTABLE", ("x",))
    with pytest.raises(InvalidParameterError):
        check_tag_mutability("MUTABLE_WITH_EXCLUSION", ())
