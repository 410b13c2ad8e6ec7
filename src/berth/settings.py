"""Frozen, typed settings: defaults, then a TOML file, then ``BERTH_*`` environment variables,
then command-line flags. A setting that cannot be understood is a start-up error."""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth.secrets import parse_master_key
from berth.types import AccountId

__all__ = ["STORAGE_DRIVERS", "Settings", "SettingsError", "load_settings"]

STORAGE_DRIVERS = ("filesystem", "memory", "s3")


class SettingsError(ValueError):
    """A setting is missing, unknown or malformed."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 5000
    data_dir: Path = Path("berth-data")
    public_url: str | None = None
    account_id: str | None = None
    region: str = "us-east-1"
    root_access_key_id: str | None = None
    root_secret_access_key: str | None = None
    master_key: str | None = field(default=None, repr=False)
    database_url: str | None = None
    database_pool_size: int = 32
    """PostgreSQL connections each server worker keeps open (and half as many more, opened and
    closed as needed, under a burst). Past them every transaction opens and closes its own."""
    storage: str = "filesystem"
    storage_path: Path | None = None
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = field(default=None, repr=False)
    blob_redirect: bool = False
    download_port: int | None = None
    """Also serve blob downloads on this port (sendfile; copied to local clients); blob GETs
    redirect there."""
    download_url: str | None = None
    """The download port as clients reach it (a proxy in front, TLS); else this host at it."""
    upload_port: int | None = None
    """Also take blob upload bodies on this port; uploads' Locations point there."""
    upload_url: str | None = None
    """The upload port as clients reach it (a proxy in front, TLS); else this host at it."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    trusted_proxies: str | None = None
    http2: bool = True
    token_ttl_seconds: int = 12 * 3600
    upload_expiry_seconds: int = 24 * 3600
    upload_expiry_interval_seconds: float = 3600
    lifecycle_interval_seconds: float = 3600
    gc_interval_seconds: float = 3600
    gc_grace_seconds: int = 24 * 3600
    max_manifest_bytes: int = 4 * 1024 * 1024
    sign_in_max_failures: int = 5
    sign_in_window_seconds: int = 15 * 60
    sign_in_lockout_seconds: int = 60
    sign_in_max_lockout_seconds: int = 15 * 60
    workers: int = 1
    log_level: str = "info"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'berth.db'}"

    @property
    def account(self) -> str:
        """The account id; set (or resolved from the data dir) before the app starts."""
        if self.account_id is None:
            raise SettingsError("the account id is not resolved yet")
        return self.account_id

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def trusted_proxy_hosts(self) -> tuple[str, ...]:
        """``trusted_proxies`` as a list of addresses, networks or ``*``."""
        return tuple(
            part.strip() for part in (self.trusted_proxies or "").split(",") if part.strip()
        )

    @property
    def resolved_storage_path(self) -> Path:
        return self.storage_path or self.data_dir

    def with_overrides(self, **values: Any) -> Settings:
        return _validated(
            dataclasses.replace(self, **{k: v for k, v in values.items() if v is not None})
        )


_SIGN_IN_FIELDS = (
    "sign_in_max_failures",
    "sign_in_window_seconds",
    "sign_in_lockout_seconds",
    "sign_in_max_lockout_seconds",
)
_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name != "extra"}
_INT_FIELDS = {
    "port",
    "database_pool_size",
    "download_port",
    "upload_port",
    "token_ttl_seconds",
    "upload_expiry_seconds",
    "gc_grace_seconds",
    "max_manifest_bytes",
    "workers",
    *_SIGN_IN_FIELDS,
}
_FLOAT_FIELDS = {
    "upload_expiry_interval_seconds",
    "lifecycle_interval_seconds",
    "gc_interval_seconds",
}
_PATH_FIELDS = {"data_dir", "storage_path", "tls_cert", "tls_key"}
_BOOL_FIELDS = {"blob_redirect", "http2"}
_TRUE, _FALSE = frozenset({"true", "yes", "on", "1"}), frozenset({"false", "no", "off", "0"})


def _coerce(name: str, value: Any) -> Any:
    if name in _INT_FIELDS:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"setting {name!r} must be an integer, not {value!r}") from None
    if name in _FLOAT_FIELDS:
        return _seconds(name, value)
    if name in _PATH_FIELDS:
        return Path(str(value))
    if name in _BOOL_FIELDS:
        return _boolean(name, value)
    return str(value)


def _seconds(name: str, value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise SettingsError(
            f"setting {name!r} must be a number of seconds, not {value!r}"
        ) from None
    if not math.isfinite(seconds):
        raise SettingsError(f"setting {name!r} must be a number of seconds, not {value!r}")
    return seconds


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in _TRUE | _FALSE:
        raise SettingsError(f"setting {name!r} must be true or false, not {value!r}")
    return text in _TRUE


def _check_s3(settings: Settings) -> None:
    if settings.storage == "s3" and not settings.s3_bucket:
        raise SettingsError("BERTH_STORAGE=s3 needs BERTH_S3_BUCKET (s3_bucket in the TOML file)")
    if (settings.s3_access_key_id is None) != (settings.s3_secret_access_key is None):
        raise SettingsError(
            "set both BERTH_S3_ACCESS_KEY_ID and BERTH_S3_SECRET_ACCESS_KEY, or neither"
        )


def _validated(settings: Settings) -> Settings:
    if settings.account_id is not None:
        try:
            AccountId(settings.account_id)
        except ValueError as error:
            raise SettingsError(f"BERTH_ACCOUNT_ID: {error}") from None
    if settings.storage not in STORAGE_DRIVERS:
        known = ", ".join(STORAGE_DRIVERS)
        raise SettingsError(f"unknown storage driver {settings.storage!r}; known: {known}")
    _check_s3(settings)
    if (settings.root_access_key_id is None) != (settings.root_secret_access_key is None):
        raise SettingsError(
            "set both BERTH_ROOT_ACCESS_KEY_ID and BERTH_ROOT_SECRET_ACCESS_KEY, or neither"
        )
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise SettingsError("set both BERTH_TLS_CERT and BERTH_TLS_KEY, or neither")
    if settings.master_key is not None:
        try:
            parse_master_key(settings.master_key)
        except ValueError as error:
            raise SettingsError(f"BERTH_MASTER_KEY: {error}") from None
    if not 0 < settings.port < 65536:
        raise SettingsError(f"port must be 1-65535, not {settings.port}")
    if settings.database_pool_size < 1:
        raise SettingsError(
            f"database_pool_size must be at least 1, not {settings.database_pool_size}"
        )
    _check_download_port(settings)
    _check_upload_port(settings)
    _check_sign_in(settings)
    for name in sorted(_FLOAT_FIELDS):
        if getattr(settings, name) < 0:
            raise SettingsError(f"{name} must be 0 (off) or a number of seconds")
    for name in ("upload_expiry_seconds", "gc_grace_seconds"):
        if getattr(settings, name) < 0:
            raise SettingsError(f"{name} cannot be negative")
    return settings


def _check_sign_in(settings: Settings) -> None:
    for name in _SIGN_IN_FIELDS:
        if getattr(settings, name) < 0:
            raise SettingsError(f"{name} cannot be negative")
    if settings.sign_in_max_failures and not (
        0 < settings.sign_in_lockout_seconds <= settings.sign_in_max_lockout_seconds
        and settings.sign_in_window_seconds > 0
    ):
        raise SettingsError(
            "sign-in throttling needs sign_in_window_seconds above 0 and "
            "0 < sign_in_lockout_seconds <= sign_in_max_lockout_seconds"
        )


def _check_download_port(settings: Settings) -> None:
    port = settings.download_port
    if port is not None and port == settings.port:
        raise SettingsError(f"download_port must be 1-65535 and not port itself, not {port}")
    _check_side_port(settings, "download", port, settings.download_url)
    if port is not None and settings.storage != "filesystem":
        raise SettingsError(
            "download_port sends files from the filesystem store; with S3 use blob_redirect"
        )


def _check_upload_port(settings: Settings) -> None:
    port = settings.upload_port
    if port is not None and port in (settings.port, settings.download_port):
        raise SettingsError(
            f"upload_port must be 1-65535 and neither port nor download_port, not {port}"
        )
    _check_side_port(settings, "upload", port, settings.upload_url)


def _check_side_port(settings: Settings, side: str, port: int | None, url: str | None) -> None:
    """What the download and upload ports ask alike: a port, a well-formed URL, TLS in front."""
    if port is None:
        if url is not None:
            raise SettingsError(f"{side}_url names the {side} port; set {side}_port too")
        return
    if not 0 < port < 65536:
        raise SettingsError(f"{side}_port must be 1-65535, not {port}")
    if url is not None and (not url.startswith(("http://", "https://")) or url.endswith("/")):
        raise SettingsError(f"{side}_url must be http(s)://host[:port], not {url!r}")
    if settings.tls and url is None:
        raise SettingsError(
            f"{side}_port speaks plain HTTP; with TLS, put an HTTPS proxy in front of it and "
            f"name it in {side}_url"
        )


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"cannot read config file {path}: {error}") from None
    values: dict[str, Any] = {}
    for key, value in document.items():
        name = key.replace("-", "_").lower()
        if name not in _FIELDS:
            raise SettingsError(f"unknown setting {key!r} in {path}")
        values[name] = _coerce(name, value)
    return values


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith("BERTH_"):
            continue
        name = key.removeprefix("BERTH_").lower()
        if name in _FIELDS:
            values[name] = _coerce(name, value)
    return values


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Defaults < TOML file < ``BERTH_*`` environment < explicit overrides (None means unset)."""
    environ = os.environ if environ is None else environ
    if config_file is None and environ.get("BERTH_CONFIG"):
        config_file = Path(environ["BERTH_CONFIG"])
    values: dict[str, Any] = {}
    if config_file is not None:
        values.update(_from_toml(config_file))
    values.update(_from_env(environ))
    values.update({k: _coerce(k, v) for k, v in overrides.items() if v is not None})
    return _validated(Settings(**values))
