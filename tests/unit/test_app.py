import gc
import stat
from pathlib import Path

import pytest

from berth.app import create_app, resolve_account, root_credentials
from berth.settings import SettingsError, load_settings


def test_root_credentials_are_generated_once_and_kept(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path)
    first = root_credentials(settings)
    again = root_credentials(settings)
    assert first.created and not again.created
    assert (first.access_key_id, first.secret_access_key) == (
        again.access_key_id,
        again.secret_access_key,
    )
    assert first.access_key_id.startswith("AKIA") and len(first.access_key_id) == 20
    assert first.path is not None
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600


def test_root_credentials_from_settings(tmp_path: Path) -> None:
    environ = {
        "BERTH_ROOT_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "BERTH_ROOT_SECRET_ACCESS_KEY": "s",
    }
    settings = load_settings(environ=environ, data_dir=tmp_path)
    assert root_credentials(settings).access_key_id == "AKIAIOSFODNN7EXAMPLE"
    assert not (tmp_path / "root-credentials.json").exists()


def test_account_is_kept_in_the_data_dir(tmp_path: Path) -> None:
    first = resolve_account(load_settings(environ={}, data_dir=tmp_path))
    again = resolve_account(load_settings(environ={}, data_dir=tmp_path))
    assert first.account == again.account
    assert len(first.account) == 12


async def test_a_database_refuses_another_account(tmp_path: Path) -> None:
    app = create_app(load_settings(environ={}, data_dir=tmp_path, account_id="111111111111"))
    await app.startup()
    await app.shutdown()
    other = create_app(load_settings(environ={}, data_dir=tmp_path, account_id="222222222222"))
    with pytest.raises(SettingsError, match="belongs to account 111111111111"):
        await other.startup()


async def test_tokens_survive_a_restart(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path, account_id="111111111111")
    app = create_app(settings)
    await app.startup()
    token = app.issue_root_token()
    await app.shutdown()
    again = create_app(settings)
    await again.startup()
    assert again.signer.verify(token).is_root
    await again.shutdown()


async def test_a_server_start_freezes_what_start_up_made(tmp_path: Path) -> None:
    app = create_app(load_settings(environ={}, data_dir=tmp_path, account_id="111111111111"))
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        return next(messages)

    async def send(message: dict[str, str]) -> None:
        sent.append(message["type"])
        if message["type"] == "lifespan.startup.complete":
            assert gc.get_freeze_count() > 0

    try:
        await app({"type": "lifespan"}, receive, send)
    finally:
        gc.unfreeze()
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
