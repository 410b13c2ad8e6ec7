"""A real registry process for the real-client tests.

By default the server is Berth (`berth serve`). Set `BERTH_CLIENTS_TARGET=distribution` to run the
same tests against CNCF distribution (`docker-registry`, no auth) and prove the harness itself;
tests that need authentication skip there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
ROOT_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
BIN_DIR = Path(sys.executable).parent
TARGET = os.environ.get("BERTH_CLIENTS_TARGET", "berth")

DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def berth_env() -> dict[str, str]:
    return {
        **os.environ,
        "BERTH_ROOT_ACCESS_KEY_ID": ROOT_ACCESS_KEY_ID,
        "BERTH_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET_ACCESS_KEY,
        "BERTH_ACCOUNT_ID": ACCOUNT_ID,
    }


def tail(path: Path, limit: int = 4000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-limit:] or "(empty)"


@dataclass
class RegistryServer:
    """One registry process on 127.0.0.1, its data directory and how to log in to it."""

    kind: str
    data_dir: Path
    log_dir: Path
    port: int = field(default_factory=free_port)
    token: str | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    """Extra `berth serve` arguments (`--dev-tls`, `--tls-cert FILE`, ...)."""
    ca_file: Path | None = None
    """When set, the server speaks HTTPS with a certificate this CA signed."""

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.ca_file else 'http'}://{self.host}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What httpx needs to trust this server: a context holding its CA, or the defaults."""
        if self.ca_file is None:
            return True
        return ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def requires_auth(self) -> bool:
        return self.kind == "berth"

    @property
    def creds(self) -> str | None:
        """`user:password` for skopeo's --creds, or None when the registry has no auth."""
        return f"AWS:{self.token}" if self.token else None

    @property
    def auth(self) -> tuple[str, str] | None:
        """HTTP Basic credentials for httpx."""
        return ("AWS", self.token) if self.token else None

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"{self.kind}-{self.starts}.stderr"

    def command(self) -> list[str]:
        if self.kind == "berth":
            return [
                str(BIN_DIR / "berth"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *self.args,
            ]
        config = self.data_dir / "config.yml"
        config.write_text(
            DISTRIBUTION_CONFIG.format(root=self.data_dir / "storage", port=self.port)
        )
        return ["docker-registry", "serve", str(config)]

    def health_url(self) -> str:
        return f"{self.url}/healthz" if self.kind == "berth" else f"{self.url}/v2/"

    def start(self) -> None:
        self.starts += 1
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                env={**berth_env(), **self.env},
                start_new_session=True,
            )
        self.wait_healthy()
        if self.kind == "berth":
            self.token = self.fetch_token()

    def wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        last_error = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"{self.kind} exited with {self.process.returncode} before answering "
                    f"{self.health_url()}; its output:\n{tail(self.stderr_path)}"
                )
            try:
                response = httpx.get(self.health_url(), timeout=2.0, verify=self.trust())
                if response.status_code == 200:
                    return
                last_error = f"HTTP {response.status_code}"
            except (httpx.TransportError, OSError) as error:
                last_error = repr(error)
            time.sleep(0.1)
        self.kill()
        pytest.fail(
            f"{self.kind} did not answer 200 on {self.health_url()} within {START_TIMEOUT:.0f} s "
            f"(last: {last_error}); its output:\n{tail(self.stderr_path)}"
        )

    def trust(self) -> ssl.SSLContext | bool:
        """``verify`` once the CA exists (``--dev-tls`` makes it as the server starts)."""
        if self.ca_file is not None and not self.ca_file.exists():
            raise OSError(f"{self.ca_file} does not exist yet")
        return self.verify

    def fetch_token(self) -> str:
        command = [str(BIN_DIR / "berth"), "token", "--data-dir", str(self.data_dir)]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=30,
            env={**berth_env(), **self.env},
            check=False,
        )
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            pytest.fail(
                f"`{' '.join(command)}` failed with {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return lines[-1].strip()

    def signal_group(self, signum: int) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """kill -9 the server (and any workers it forked), without a chance to clean up."""
        if self.process is None:
            return
        self.signal_group(signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
        self.signal_group(signal.SIGKILL)

    def restart(self) -> None:
        """Start again on the same port and data directory (after kill() or stop())."""
        self.stop()
        self.start()

    def create_repository(self, name: str) -> None:
        """Create a repository the ECR way (boto3), as an ECR user would before pushing.

        Berth also creates a repository on first push, so while its ECR API does not serve
        CreateRepository yet the tests go on without it; distribution always creates on push.
        """
        if self.kind != "berth":
            return
        import boto3
        import botocore.exceptions

        client = boto3.client(
            "ecr",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ROOT_ACCESS_KEY_ID,
            aws_secret_access_key=ROOT_SECRET_ACCESS_KEY,
        )
        try:
            client.create_repository(repositoryName=name)
        except client.exceptions.RepositoryAlreadyExistsException:
            pass
        except botocore.exceptions.ClientError as error:
            missing = error.response["Error"].get("Code") == "UnknownOperationException"
            if not missing and error.response["ResponseMetadata"]["HTTPStatusCode"] != 404:
                raise
        finally:
            client.close()


def launch(kind: str, root: Path, args: list[str] | None = None) -> RegistryServer:
    server = RegistryServer(kind=kind, data_dir=root / "data", log_dir=root, args=args or [])
    server.start()
    return server


@contextlib.contextmanager
def berth_serving(
    root: Path, args: list[str], env: dict[str, str] | None = None
) -> Iterator[RegistryServer]:
    """``berth serve`` with extra arguments (``--download-port N``, ...), stopped afterwards."""
    server = RegistryServer("berth", root / "data", root, args=args, env=env or {})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def option_of(server: RegistryServer, option: str) -> int:
    """The number given to one of the server's extra arguments (``--upload-port``)."""
    return int(server.args[server.args.index(option) + 1])


@pytest.fixture(scope="session")
def berth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """The registry under test, started once per session."""
    server = launch(TARGET, tmp_path_factory.mktemp("registry"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., RegistryServer]]:
    """Start private registry processes (for tests that kill them), with extra ``berth serve``
    arguments if given; all stopped afterwards."""
    servers: list[RegistryServer] = []

    def start(args: list[str] | None = None) -> RegistryServer:
        server = launch(TARGET, tmp_path / f"server-{len(servers)}", args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def repository(berth_server: RegistryServer) -> str:
    """A fresh repository name, created on the server when it needs that."""
    name = f"clients/test-{uuid.uuid4().hex[:10]}"
    berth_server.create_repository(name)
    return name


@pytest.fixture
def needs_auth(berth_server: RegistryServer) -> None:
    if not berth_server.requires_auth:
        pytest.skip(f"{berth_server.kind} runs without authentication")
