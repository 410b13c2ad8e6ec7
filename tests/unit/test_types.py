import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.errors import DigestInvalidError, NameInvalidError, TagInvalidError
from berth.types import AccountId, Digest, Principal, RepositoryName, Tag, parse_reference

SHA256 = "sha256:" + "a" * 64
SHA512 = "sha512:" + "b" * 128


def test_digest_round_trips() -> None:
    assert str(Digest.parse(SHA256)) == SHA256
    assert str(Digest.parse(SHA512)) == SHA512


@pytest.mark.parametrize(
    "text",
    [
        "sha256:baddigeststring",
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha512:" + "a" * 64,
        "md5:" + "a" * 32,
        "sha256",
        ":" + "a" * 64,
        "",
    ],
)
def test_bad_digests_are_refused(text: str) -> None:
    with pytest.raises(DigestInvalidError):
        Digest.parse(text)


def test_digest_of_bytes() -> None:
    assert Digest.of(b"abc").hex == hashlib.sha256(b"abc").hexdigest()
    assert Digest.of(b"abc", "sha512").hex == hashlib.sha512(b"abc").hexdigest()


@pytest.mark.parametrize(
    "name", ["a", "library/ubuntu", "a-b/c_d/e.f", "a__b", "a---b", "x" * 256, "0/1/2"]
)
def test_good_repository_names(name: str) -> None:
    assert RepositoryName(name) == name


@pytest.mark.parametrize(
    "name", ["", "A", "a/../b", "..", "a//b", "/a", "a/", "-a", "a-", "a.", "a___b", "x" * 257]
)
def test_bad_repository_names(name: str) -> None:
    with pytest.raises(NameInvalidError):
        RepositoryName(name)


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_x", "A" * 128, "a-b.c_d"])
def test_good_tags(tag: str) -> None:
    assert Tag(tag) == tag


@pytest.mark.parametrize("tag", ["", ".x", "-x", "a" * 129, "a/b", "a:b", "a b"])
def test_bad_tags(tag: str) -> None:
    with pytest.raises(TagInvalidError):
        Tag(tag)


def test_reference_is_a_digest_when_it_has_a_colon() -> None:
    assert isinstance(parse_reference(SHA256), Digest)
    assert isinstance(parse_reference("latest"), Tag)
    with pytest.raises(DigestInvalidError):
        parse_reference("sha256:baddigeststring")


def test_account_ids_are_twelve_digits() -> None:
    assert AccountId("123456789012") == "123456789012"
    for bad in ("12345678901", "1234567890123", "12345678901a"):
        with pytest.raises(ValueError, match="12 digits"):
            AccountId(bad)


def test_root_principal() -> None:
    root = Principal.root("123456789012", "AKIAEXAMPLE")
    assert root.is_root
    assert root.arn == "arn:aws:iam::123456789012:root"
    assert not Principal.anonymous("123456789012").is_root


@given(st.text(max_size=300))
def test_digest_parse_raises_only_digest_invalid(text: str) -> None:
    with contextlib.suppress(DigestInvalidError):
        Digest.parse(text)


@given(st.text(max_size=300))
def test_name_parse_raises_only_name_invalid(text: str) -> None:
    with contextlib.suppress(NameInvalidError):
        RepositoryName(text)
