"""Value types with their grammars: digests, repository names, tags, references, accounts, ARNs."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import Enum

from berth.errors import DigestInvalidError, NameInvalidError, TagInvalidError

__all__ = [
    "DIGEST_ALGORITHMS",
    "AccountId",
    "Digest",
    "Principal",
    "PrincipalKind",
    "Reference",
    "RepositoryName",
    "Tag",
    "parse_reference",
]

DIGEST_ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}

_DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")
_NAME_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME_RE = re.compile(rf"^{_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*$")
_TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
_ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
NAME_MAX_LENGTH = 256


@dataclass(frozen=True, slots=True)
class Digest:
    """A content digest such as ``sha256:<64 hex>``; only sha256 and sha512 are accepted."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        match = _DIGEST_RE.match(text)
        if match is None:
            raise DigestInvalidError(
                f"invalid digest {text[:200]!r}", detail={"digest": text[:200]}
            )
        algorithm, encoded = match.groups()
        length = DIGEST_ALGORITHMS.get(algorithm)
        if length is None:
            raise DigestInvalidError(
                f"unsupported digest algorithm {algorithm!r}", detail={"digest": text[:200]}
            )
        if len(encoded) != length or not re.fullmatch(r"[a-f0-9]+", encoded):
            raise DigestInvalidError(
                f"invalid {algorithm} digest {text[:200]!r}", detail={"digest": text[:200]}
            )
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


class RepositoryName(str):
    """A repository name under the OCI grammar, at most 256 characters (as ECR allows)."""

    __slots__ = ()

    def __new__(cls, text: str) -> RepositoryName:
        if len(text) > NAME_MAX_LENGTH or not _NAME_RE.match(text):
            raise NameInvalidError(
                f"invalid repository name {text[:300]!r}: it must match "
                "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)* "
                f"and be at most {NAME_MAX_LENGTH} characters",
                detail={"name": text[:300]},
            )
        return super().__new__(cls, text)


class Tag(str):
    """A tag: ``[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}``."""

    __slots__ = ()

    def __new__(cls, text: str) -> Tag:
        if not _TAG_RE.match(text):
            raise TagInvalidError(f"invalid tag {text[:200]!r}", detail={"tag": text[:200]})
        return super().__new__(cls, text)


Reference = Tag | Digest


def parse_reference(text: str) -> Reference:
    """A manifest reference: a digest when it holds a colon, otherwise a tag."""
    if ":" in text:
        return Digest.parse(text)
    return Tag(text)


class AccountId(str):
    """A 12-digit AWS account id."""

    __slots__ = ()

    def __new__(cls, text: str) -> AccountId:
        if not _ACCOUNT_RE.match(text):
            raise ValueError(f"an account id is 12 digits, not {text!r}")
        return super().__new__(cls, text)


class PrincipalKind(Enum):
    ROOT = "root"
    USER = "user"
    ASSUMED_ROLE = "assumed-role"
    FEDERATED = "federated-user"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as authentication established it. Authorization decides what they may do.

    ``arn`` is what refusals name (``arn:aws:iam::123456789012:user/ci`` or
    ``arn:aws:sts::123456789012:assumed-role/admin/session``); ``name`` is the user name or the
    role name; ``session`` the role session name; ``access_key_id`` the key that signed the
    request or minted the token (so a deleted key revokes its tokens).
    """

    kind: PrincipalKind
    account: str
    arn: str
    user_id: str
    name: str = ""
    session: str = ""
    access_key_id: str = ""
    session_expires: float | None = None

    @property
    def is_root(self) -> bool:
        return self.kind is PrincipalKind.ROOT

    @property
    def is_anonymous(self) -> bool:
        return self.kind is PrincipalKind.ANONYMOUS

    @classmethod
    def root(cls, account: str, access_key_id: str = "") -> Principal:
        return cls(
            kind=PrincipalKind.ROOT,
            account=account,
            arn=f"arn:aws:iam::{account}:root",
            user_id=account,
            name="root",
            access_key_id=access_key_id,
        )

    @classmethod
    def anonymous(cls, account: str) -> Principal:
        return cls(PrincipalKind.ANONYMOUS, account, "*", "anonymous", name="anonymous")

    def claims(self) -> dict[str, object]:
        """The principal as the short JSON claims a signed token carries (``from_claims``)."""
        return {
            "k": self.kind.value,
            "a": self.account,
            "r": self.arn,
            "u": self.user_id,
            "n": self.name,
            "s": self.session,
            "ak": self.access_key_id,
            "se": self.session_expires,
        }

    @classmethod
    def from_claims(cls, claims: dict[str, object]) -> Principal:
        """The principal ``claims()`` wrote; KeyError or ValueError if they are not such claims."""
        expires = claims.get("se")
        return cls(
            kind=PrincipalKind(str(claims["k"])),
            account=str(claims["a"]),
            arn=str(claims["r"]),
            user_id=str(claims["u"]),
            name=str(claims["n"]),
            session=str(claims["s"]),
            access_key_id=str(claims["ak"]),
            session_expires=float(expires) if isinstance(expires, int | float) else None,
        )
