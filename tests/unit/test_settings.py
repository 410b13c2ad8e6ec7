from pathlib import Path
from typing import Any

import pytest

from berth.settings import SettingsError, load_settings


def test_defaults() -> None:
    settings = load_settings(environ={})
    assert (settings.host, settings.port, settings.region) == ("127.0.0.1", 5000, "us-east-1")
    assert settings.account_id is None
    assert settings.storage == "filesystem"


def test_precedence_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "berth.toml"
    config.write_text('region = "eu-west-1"\nport = 6000\naccount_id = "111111111111"\n')
    environ = {"BERTH_PORT": "7000", "BERTH_ACCOUNT_ID": "222222222222"}
    settings = load_settings(config, environ, account_id="333333333333")
    assert settings.region == "eu-west-1"
    assert settings.port == 7000
    assert settings.account_id == "333333333333"


def test_database_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(environ={"BERTH_DATA_DIR": str(tmp_path)})
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'berth.db'}"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"BERTH_ACCOUNT_ID": "12"}, "12 digits"),
        ({"BERTH_STORAGE": "filesytem"}, "unknown storage driver 'filesytem'"),
        ({"BERTH_PORT": "many"}, "must be an integer"),
        ({"BERTH_PORT": "70000"}, "port must be"),
        ({"BERTH_ROOT_ACCESS_KEY_ID": "AKIA"}, "set both"),
    ],
)
def test_bad_settings_are_start_up_errors(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=environ)


def test_unknown_key_in_file(tmp_path: Path) -> None:
    config = tmp_path / "berth.toml"
    config.write_text('colour = "blue"\n')
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        load_settings(config, {})


def test_tls_files_come_in_pairs(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    settings = load_settings(environ={"BERTH_TLS_CERT": str(cert), "BERTH_TLS_KEY": str(key)})
    assert (settings.tls_cert, settings.tls_key, settings.tls) == (cert, key, True)
    with pytest.raises(SettingsError, match="BERTH_TLS_KEY"):
        load_settings(environ={"BERTH_TLS_CERT": str(cert)})
    assert not load_settings(environ={}).tls


def test_http2_can_be_turned_off() -> None:
    assert load_settings(environ={}).http2 is True
    assert load_settings(environ={"BERTH_HTTP2": "false"}).http2 is False
    with pytest.raises(SettingsError, match="http2"):
        load_settings(environ={"BERTH_HTTP2": "sometimes"})


def test_background_job_settings() -> None:
    defaults = load_settings(environ={})
    assert (defaults.gc_interval_seconds, defaults.gc_grace_seconds) == (3600, 86400)
    assert (defaults.upload_expiry_interval_seconds, defaults.lifecycle_interval_seconds) == (
        3600,
        3600,
    )
    tuned = load_settings(
        environ={
            "BERTH_GC_INTERVAL_SECONDS": "0.5",
            "BERTH_GC_GRACE_SECONDS": "60",
            "BERTH_UPLOAD_EXPIRY_INTERVAL_SECONDS": "0",
        }
    )
    assert (tuned.gc_interval_seconds, tuned.gc_grace_seconds) == (0.5, 60)
    assert tuned.upload_expiry_interval_seconds == 0


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"BERTH_GC_INTERVAL_SECONDS": "-1"}, "gc_interval_seconds must be 0"),
        ({"BERTH_GC_INTERVAL_SECONDS": "soon"}, "must be a number of seconds"),
        ({"BERTH_LIFECYCLE_INTERVAL_SECONDS": "nan"}, "must be a number of seconds"),
        ({"BERTH_GC_GRACE_SECONDS": "-5"}, "gc_grace_seconds cannot be negative"),
        ({"BERTH_GC_GRACE_SECONDS": "1.5"}, "must be an integer"),
    ],
)
def test_bad_job_settings_are_start_up_errors(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=environ)


def test_download_port_and_url() -> None:
    settings = load_settings(environ={"BERTH_DOWNLOAD_PORT": "5001"})
    assert (settings.download_port, settings.download_url) == (5001, None)
    assert load_settings(environ={}).download_port is None
    behind = load_settings(
        environ={
            "BERTH_DOWNLOAD_PORT": "5001",
            "BERTH_TLS_CERT": "c.pem",
            "BERTH_TLS_KEY": "k.pem",
            "BERTH_DOWNLOAD_URL": "https://downloads.example.com",
        }
    )
    assert behind.download_url == "https://downloads.example.com"


def test_upload_port_and_url() -> None:
    settings = load_settings(environ={"BERTH_UPLOAD_PORT": "5002"})
    assert (settings.upload_port, settings.upload_url) == (5002, None)
    assert load_settings(environ={}).upload_port is None
    behind = load_settings(
        environ={
            "BERTH_UPLOAD_PORT": "5002",
            "BERTH_TLS_CERT": "c.pem",
            "BERTH_TLS_KEY": "k.pem",
            "BERTH_UPLOAD_URL": "https://uploads.example.com",
            "BERTH_STORAGE": "s3",
            "BERTH_S3_BUCKET": "b",
            "BERTH_S3_ENDPOINT": "http://127.0.0.1:9000",
        }
    )
    assert behind.upload_url == "https://uploads.example.com"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"BERTH_UPLOAD_PORT": "5000"}, "neither port nor download_port"),
        (
            {"BERTH_UPLOAD_PORT": "5001", "BERTH_DOWNLOAD_PORT": "5001"},
            "neither port nor download_port",
        ),
        ({"BERTH_UPLOAD_PORT": "70000"}, "upload_port must be 1-65535"),
        ({"BERTH_UPLOAD_PORT": "later"}, "must be an integer"),
        ({"BERTH_UPLOAD_URL": "http://u.example.com"}, "set upload_port too"),
        ({"BERTH_UPLOAD_PORT": "5002", "BERTH_UPLOAD_URL": "u.example.com"}, "must be http"),
        (
            {"BERTH_UPLOAD_PORT": "5002", "BERTH_TLS_CERT": "c", "BERTH_TLS_KEY": "k"},
            "upload_port speaks plain HTTP",
        ),
    ],
)
def test_bad_upload_port_settings_are_start_up_errors(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=environ)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"BERTH_DOWNLOAD_PORT": "5000"}, "not port itself"),
        ({"BERTH_DOWNLOAD_PORT": "0"}, "download_port must be 1-65535"),
        ({"BERTH_DOWNLOAD_PORT": "soon"}, "must be an integer"),
        ({"BERTH_DOWNLOAD_URL": "http://d.example.com"}, "set download_port too"),
        (
            {"BERTH_DOWNLOAD_PORT": "5001", "BERTH_DOWNLOAD_URL": "d.example.com:5001"},
            "must be http",
        ),
        (
            {"BERTH_DOWNLOAD_PORT": "5001", "BERTH_DOWNLOAD_URL": "http://d.example.com/"},
            "must be http",
        ),
        (
            {"BERTH_DOWNLOAD_PORT": "5001", "BERTH_TLS_CERT": "c", "BERTH_TLS_KEY": "k"},
            "plain HTTP",
        ),
        (
            {
                "BERTH_DOWNLOAD_PORT": "5001",
                "BERTH_STORAGE": "s3",
                "BERTH_S3_BUCKET": "b",
                "BERTH_S3_ENDPOINT": "http://127.0.0.1:9000",
            },
            "filesystem store",
        ),
    ],
)
def test_bad_download_settings_are_start_up_errors(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=environ)


def test_sign_in_throttling_settings() -> None:
    assert load_settings(environ={}).sign_in_max_failures == 5
    settings = load_settings(
        environ={
            "BERTH_SIGN_IN_MAX_FAILURES": "3",
            "BERTH_SIGN_IN_WINDOW_SECONDS": "600",
            "BERTH_SIGN_IN_LOCKOUT_SECONDS": "30",
            "BERTH_SIGN_IN_MAX_LOCKOUT_SECONDS": "3600",
        }
    )
    assert (settings.sign_in_max_failures, settings.sign_in_window_seconds) == (3, 600)
    assert (settings.sign_in_lockout_seconds, settings.sign_in_max_lockout_seconds) == (30, 3600)
    off = load_settings(
        environ={"BERTH_SIGN_IN_MAX_FAILURES": "0", "BERTH_SIGN_IN_LOCKOUT_SECONDS": "0"}
    )
    assert off.sign_in_max_failures == 0


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"BERTH_SIGN_IN_MAX_FAILURES": "five"}, "must be an integer"),
        ({"BERTH_SIGN_IN_MAX_FAILURES": "-1"}, "cannot be negative"),
        ({"BERTH_SIGN_IN_LOCKOUT_SECONDS": "0"}, "sign_in_lockout_seconds"),
        ({"BERTH_SIGN_IN_LOCKOUT_SECONDS": "1000"}, "sign_in_max_lockout_seconds"),
        ({"BERTH_SIGN_IN_WINDOW_SECONDS": "0"}, "sign_in_window_seconds"),
    ],
)
def test_bad_sign_in_settings_are_start_up_errors(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=environ)


def test_database_pool_size_reaches_the_postgresql_engine() -> None:
    from berth.meta.sql import create_engine

    settings = load_settings(environ={"BERTH_DATABASE_POOL_SIZE": "7"})
    engine = create_engine("postgresql://berth@127.0.0.1:1/berth", settings.database_pool_size)
    pool: Any = engine.sync_engine.pool
    assert (pool.size(), pool._max_overflow) == (7, 3)
    assert load_settings(environ={}).database_pool_size == 32


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "database_pool_size must be at least 1"), ("many", "must be an integer")],
)
def test_bad_database_pool_size_is_a_start_up_error(value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ={"BERTH_DATABASE_POOL_SIZE": value})
