"""A real ``berth serve`` for the IAM and STS client tests, and boto3 / aws CLI helpers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx

ROOT_KEY = "AKIAIOSFODNN7EXAMPLE"
ROOT_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCOUNT = "123456789012"
REGION = "us-east-1"
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    data_dir: Path
    home: Path

    def client(
        self,
        service: str,
        key: str = ROOT_KEY,
        secret: str = ROOT_SECRET,
        token: str | None = None,
        region: str = REGION,
    ) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
        )

    def cli_env(self, profiles: dict[str, dict[str, str]]) -> dict[str, str]:
        """Environment for ``aws`` with a credentials file holding ``profiles``."""
        credentials = self.home / "credentials"
        config = self.home / "config"
        credentials.write_text(
            "".join(
                f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items() if "key" in k)
                for name, values in profiles.items()
            )
        )
        config.write_text(
            "".join(
                ("[default]\n" if name == "default" else f"[profile {name}]\n")
                + "".join(f"{k} = {v}\n" for k, v in values.items() if "key" not in k)
                for name, values in profiles.items()
            )
        )
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "AWS_ENDPOINT_URL": self.url,
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
            "AWS_DEFAULT_REGION": REGION,
            "AWS_PAGER": "",
        }

    def aws(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "aws"), *args, "--output", "json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    def aws_json(self, env: dict[str, str], *args: str) -> Any:
        done = self.aws(env, *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}


def root_profiles() -> dict[str, dict[str, str]]:
    return {"default": {"aws_access_key_id": ROOT_KEY, "aws_secret_access_key": ROOT_SECRET}}


@contextmanager
def running_server(root: Path) -> Iterator[Server]:
    data_dir, home = root / "data", root / "home"
    home.mkdir(parents=True)
    port = _free_port()
    env = {
        **os.environ,
        "BERTH_ROOT_ACCESS_KEY_ID": ROOT_KEY,
        "BERTH_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET,
        "BERTH_ACCOUNT_ID": ACCOUNT,
    }
    log = (root / "server.log").open("wb")
    command = [str(BIN / "berth"), "serve", "--port", str(port), "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, stdout=log, stderr=log, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(process, url, root / "server.log")
        yield Server(url, data_dir, home)
    finally:
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"berth exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"berth did not start: {log.read_text(errors='replace')[-3000:]}")
