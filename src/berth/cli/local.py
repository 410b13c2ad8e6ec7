"""Admin commands work on a data directory in-process, through ``create_app``'s wiring.

They open the same services the server uses (metadata store, blob store, lifecycle, garbage
collection), with the background jobs off. ``berth gc`` takes the same cluster-wide lock as the
servers' GC job, so it can run while servers run and pushes go on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from berth.cli.aws import EXIT_CONFIG, fail
from berth.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from berth.services import Services

__all__ = ["load", "open_services", "sqlite_path"]

_SQLITE_PREFIXES = ("sqlite+aiosqlite:///", "sqlite:///")


def load(config: Path | None, data_dir: Path | None, must_exist: bool = True) -> Settings:
    """Settings for ``data_dir`` (a clear error, exit 253, if they are wrong or it is missing)."""
    try:
        settings = load_settings(
            config,
            None,
            data_dir=data_dir,
            lifecycle_interval_seconds=0,
            gc_interval_seconds=0,
            upload_expiry_interval_seconds=0,
        )
    except SettingsError as error:
        fail(f"error: {error}", EXIT_CONFIG)
    if must_exist and not _has_data(settings):
        fail(f"error: {settings.data_dir} holds no Berth data (no database found)", EXIT_CONFIG)
    if (
        must_exist
        and settings.account_id is None
        and not (settings.data_dir / "account-id").exists()
    ):
        fail(
            f"error: {settings.data_dir} has no account-id file: set BERTH_ACCOUNT_ID (or "
            "account_id in --config) as the server has it",
            EXIT_CONFIG,
        )
    return settings


def _has_data(settings: Settings) -> bool:
    path = sqlite_path(settings)
    return settings.data_dir.is_dir() and (path is None or path.is_file())


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file, or None when the metadata lives in PostgreSQL."""
    url = settings.resolved_database_url
    for prefix in _SQLITE_PREFIXES:
        if url.startswith(prefix):
            return Path(url[len(prefix) :])
    return None


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """The server's services over ``settings``' data, opened and closed around the block."""
    from berth.app import create_app, resolve_account  # noqa: PLC0415 (start-up time)

    berth = create_app(resolve_account(settings))
    try:
        await berth.startup()
    except SettingsError as error:
        fail(f"error: {error}", EXIT_CONFIG)
    try:
        yield berth.services
    finally:
        await berth.shutdown()
