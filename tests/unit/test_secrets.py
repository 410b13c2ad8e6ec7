import base64
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.secrets import (
    SecretBox,
    SecretError,
    hash_password,
    master_key,
    parse_master_key,
    verify_password,
)
from berth.settings import SettingsError, load_settings

KEY = bytes(range(32))


def test_sealed_secret_opens_and_is_not_clear_text() -> None:
    box = SecretBox(KEY)
    sealed = box.seal_text("wJalrXUtnFEMI/K7MDENG", "AKIAEXAMPLE")
    assert b"wJalrXUtnFEMI" not in sealed
    assert sealed[0] == 1
    assert box.open_text(sealed, "AKIAEXAMPLE") == "wJalrXUtnFEMI/K7MDENG"


def test_each_seal_uses_a_fresh_nonce() -> None:
    box = SecretBox(KEY)
    assert box.seal(b"same") != box.seal(b"same")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),
        lambda b: b"\x02" + b[1:],
        lambda b: b[:5],
        lambda b: b"",
    ],
)
def test_tampered_secret_does_not_open(tamper: object) -> None:
    box = SecretBox(KEY)
    sealed = box.seal(b"secret")
    with pytest.raises(SecretError):
        box.open(tamper(sealed))  # type: ignore[operator]


def test_secret_is_bound_to_its_purpose_and_key() -> None:
    sealed = SecretBox(KEY).seal(b"secret", b"AKIA1")
    with pytest.raises(SecretError):
        SecretBox(KEY).open(sealed, b"AKIA2")
    with pytest.raises(SecretError):
        SecretBox(bytes(32)).open(sealed, b"AKIA1")


@settings(max_examples=50)
@given(st.binary(max_size=512), st.binary(max_size=32))
def test_round_trip(plaintext: bytes, purpose: bytes) -> None:
    box = SecretBox(KEY)
    assert box.open(box.seal(plaintext, purpose), purpose) == plaintext


def test_box_refuses_a_short_key() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SecretBox(b"short")


def test_master_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path)
    first = master_key(settings)
    assert len(first) == 32
    assert master_key(settings) == first
    assert stat.S_IMODE((tmp_path / "master.key").stat().st_mode) == 0o600


def test_master_key_from_settings(tmp_path: Path) -> None:
    text = base64.b64encode(KEY).decode()
    settings = load_settings(environ={"BERTH_MASTER_KEY": text}, data_dir=tmp_path)
    assert master_key(settings) == KEY
    assert not (tmp_path / "master.key").exists()
    assert text not in repr(settings)


@pytest.mark.parametrize("text", ["not base64!", base64.b64encode(b"short").decode()])
def test_malformed_master_key_is_a_startup_error(text: str) -> None:
    with pytest.raises(SettingsError, match="BERTH_MASTER_KEY"):
        load_settings(environ={"BERTH_MASTER_KEY": text})
    with pytest.raises(ValueError):
        parse_master_key(text)


def test_password_hash_verifies_and_is_salted() -> None:
    stored = hash_password("Corr3ct-horse")
    assert stored.startswith("scrypt$")
    assert "Corr3ct-horse" not in stored
    assert stored != hash_password("Corr3ct-horse")
    assert verify_password("Corr3ct-horse", stored)
    assert not verify_password("corr3ct-horse", stored)


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$x$8$1$AA==$AA==", "bcrypt$1$2$3$4$5"])
def test_unknown_hash_formats_never_verify(stored: str) -> None:
    assert not verify_password("anything", stored)
