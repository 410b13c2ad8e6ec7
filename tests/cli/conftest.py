"""The real `berth` command against a real server, with its own AWS config files.

Credentials reach the command the way they reach the aws CLI: a credentials file and a config file
(``AWS_SHARED_CREDENTIALS_FILE``, ``AWS_CONFIG_FILE``) and ``AWS_ENDPOINT_URL``; no ``AWS_*`` key
variables are set, so the files are what is read.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clients.conftest import (
    ACCOUNT_ID,
    BIN_DIR,
    REGION,
    ROOT_ACCESS_KEY_ID,
    ROOT_SECRET_ACCESS_KEY,
    RegistryServer,
    berth_env,
    launch,
)

BERTH = str(BIN_DIR / "berth")
TIMEOUT = 120

__all__ = ["ACCOUNT_ID", "Berth", "RegistryServer"]


@dataclass
class Berth:
    """Runs `berth` with an AWS config pointing at one server."""

    server: RegistryServer
    home: Path

    @property
    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in berth_env().items()
            if not key.startswith("AWS_") and not key.startswith("BERTH_ROOT")
        }
        env.update(
            HOME=str(self.home),
            AWS_CONFIG_FILE=str(self.home / "config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.home / "credentials"),
            AWS_ENDPOINT_URL=self.server.url,
            COLUMNS="200",
            NO_COLOR="1",
        )
        return env

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BERTH, *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env={**self.env, **(env or {})},
            input=stdin,
            check=False,
        )

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, f"berth {' '.join(args)}: {result.stderr}{result.stdout}"
        return result.stdout


def write_aws_files(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "credentials").write_text(
        "[default]\n"
        f"aws_access_key_id = {ROOT_ACCESS_KEY_ID}\n"
        f"aws_secret_access_key = {ROOT_SECRET_ACCESS_KEY}\n"
    )
    (home / "config").write_text(f"[default]\nregion = {REGION}\n")


@pytest.fixture(scope="session")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    server = launch("berth", tmp_path_factory.mktemp("cli-registry"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def berth(cli_server: RegistryServer, tmp_path_factory: pytest.TempPathFactory) -> Berth:
    home = tmp_path_factory.mktemp("cli-home")
    write_aws_files(home)
    return Berth(cli_server, home)


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[Callable[[Path], RegistryServer]]:
    """Start servers on data directories of the test's choosing (all stopped afterwards)."""
    servers: list[RegistryServer] = []

    def start(data_dir: Path) -> RegistryServer:
        server = RegistryServer(kind="berth", data_dir=data_dir, log_dir=tmp_path)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
