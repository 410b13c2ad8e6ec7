import base64

import pytest

from berth.auth.tokens import TokenSigner, basic_credentials
from berth.errors import ExpiredTokenError, UnauthorizedError
from berth.types import Principal

KEY = b"k" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_issue_and_verify() -> None:
    signer = TokenSigner(KEY)
    root = Principal.root("123456789012", "AKIAEXAMPLE")
    issued = signer.issue(root, 3600)
    assert signer.verify(issued.token) == root
    decoded = base64.b64decode(issued.authorization_token).decode()
    assert decoded == f"AWS:{issued.token}"


def test_expired_token() -> None:
    clock = Clock()
    signer = TokenSigner(KEY, clock)
    token = signer.issue(Principal.root("123456789012"), 60).token
    clock.now += 61
    with pytest.raises(ExpiredTokenError):
        signer.verify(token)


def test_session_expiry_caps_the_token() -> None:
    clock = Clock()
    signer = TokenSigner(KEY, clock)
    principal = Principal.root("123456789012")
    session = Principal(**{**_fields(principal), "session_expires": clock.now + 10})
    assert signer.issue(session, 3600).expires_at == int(clock.now + 10)


def _fields(principal: Principal) -> dict[str, object]:
    return {name: getattr(principal, name) for name in principal.__slots__}


@pytest.mark.parametrize("mutation", ["flip", "other-key", "garbage", "empty"])
def test_forged_tokens_are_refused(mutation: str) -> None:
    signer = TokenSigner(KEY)
    token = signer.issue(Principal.root("123456789012"), 3600).token
    forged = {
        "flip": token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        "other-key": TokenSigner(b"x" * 32).issue(Principal.root("123456789012"), 3600).token,
        "garbage": "b1.%%%.%%%",
        "empty": "",
    }[mutation]
    with pytest.raises(UnauthorizedError):
        signer.verify(forged)


def test_basic_credentials() -> None:
    header = "Basic " + base64.b64encode(b"AWS:tok:en").decode()
    assert basic_credentials(header) == ("AWS", "tok:en")
    assert basic_credentials("Bearer abc") is None
    for bad in ("Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()):
        with pytest.raises(UnauthorizedError):
            basic_credentials(bad)
