"""Blob push and pull throughput: Berth against CNCF distribution, on this machine, in one run.

    python benchmarks/registry_bench.py [--size-mib 1024] [--repeats 3] [--out docs/performance.md]

See benchmarks/README.md for what each figure means.
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
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

MIB = 1024 * 1024
MB = 1_000_000
READ_BUFFER = 4 * MIB
SUFFIX = 16
START_TIMEOUT = 30.0
IO_TIMEOUT = 600.0
REPOSITORY = "bench/blob"
ROOT_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
ROOT_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCOUNT_ID = "123456789012"
REPO_ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ("push monolithic", "push chunked", "pull")
DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Registry:
    """A registry process we started, and the headers that authenticate to it."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    headers: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def berth_env() -> dict[str, str]:
    return {
        **os.environ,
        "BERTH_ROOT_ACCESS_KEY_ID": ROOT_ACCESS_KEY_ID,
        "BERTH_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET_ACCESS_KEY,
        "BERTH_ACCOUNT_ID": ACCOUNT_ID,
    }


def spawn(name: str, command: list[str], work: Path, port: int, ready_path: str) -> Registry:
    log = work / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            env=berth_env(),
            start_new_session=True,
        )
    registry = Registry(name, port, process, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log.read_text()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", ready_path)
            if connection.getresponse().status == 200:
                return registry
        except OSError:
            pass
        time.sleep(0.1)
    registry.stop()
    raise RuntimeError(f"{name} not ready on :{port}{ready_path}:\n{log.read_text()[-4000:]}")


def berth_binary() -> str:
    local = Path(sys.executable).parent / "berth"
    found = str(local) if local.exists() else shutil.which("berth")
    if not found:
        raise RuntimeError("no `berth` executable next to this Python or on PATH")
    return found


def start_berth(work: Path) -> Registry:
    port, data = free_port(), work / "berth-data"
    command = [berth_binary(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    registry = spawn("berth", [*command, "--data-dir", str(data)], work, port, "/healthz")
    token = (
        subprocess.run(
            [berth_binary(), "token", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
            env=berth_env(),
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    basic = base64.b64encode(f"AWS:{token}".encode()).decode()
    registry.headers = {"Authorization": f"Basic {basic}"}
    return registry


def start_distribution(work: Path) -> Registry:
    port, config = free_port(), work / "distribution.yml"
    config.write_text(DISTRIBUTION_CONFIG.format(root=work / "distribution-data", port=port))
    return spawn("distribution", ["docker-registry", "serve", str(config)], work, port, "/v2/")


class BlobFile:
    """A file of random bytes; its last 16 bytes are rewritten to make each push a new blob."""

    def __init__(self, path: Path, size: int) -> None:
        self.path, self.size = path, size
        with path.open("wb") as output:
            for start in range(0, size, 16 * MIB):
                output.write(os.urandom(min(16 * MIB, size - start)))
        prefix = hashlib.sha256()
        with path.open("rb") as source:
            remaining = size - SUFFIX
            while remaining:
                piece = source.read(min(READ_BUFFER, remaining))
                prefix.update(piece)
                remaining -= len(piece)
        self.prefix = prefix
        self.digest = ""

    def make_variant(self, label: str) -> str:
        suffix = hashlib.sha256(label.encode()).digest()[:SUFFIX]
        with self.path.open("r+b") as output:
            output.seek(self.size - SUFFIX)
            output.write(suffix)
        state = self.prefix.copy()
        state.update(suffix)
        self.digest = "sha256:" + state.hexdigest()
        return self.digest


class Client:
    """Plain http.client: bodies go out with sendfile, come back through a large readinto."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port, self.headers = port, headers
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=IO_TIMEOUT)

    def close(self) -> None:
        self.connection.close()

    def send(
        self,
        method: str,
        target: str,
        body: tuple[BinaryIO, int, int] | None = None,
        headers: dict[str, str] | None = None,
    ) -> http.client.HTTPResponse:
        connection = self.connection
        connection.putrequest(method, target, skip_accept_encoding=True)
        all_headers = {**self.headers, **(headers or {})}
        all_headers["Content-Length"] = str(body[2] if body else 0)
        for name, value in all_headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        if body:
            source, offset, count = body
            assert connection.sock is not None
            connection.sock.sendfile(source, offset, count)
        return connection.getresponse()

    def call(
        self, method: str, target: str, expect: int, **kwargs: object
    ) -> http.client.HTTPResponse:
        response = self.send(method, target, **kwargs)  # type: ignore[arg-type]
        response.read()
        if response.status != expect:
            raise RuntimeError(f"{method} {target}: {response.status}, expected {expect}")
        return response


def path_of(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def start_upload(client: Client) -> str:
    response = client.call("POST", f"/v2/{REPOSITORY}/blobs/uploads/", 202)
    return path_of(response.headers["Location"])


def check_committed(response: http.client.HTTPResponse, digest: str) -> None:
    stored = response.headers.get("Docker-Content-Digest")
    if stored != digest:
        raise RuntimeError(f"registry stored {stored}, expected {digest}")


def push_monolithic(client: Client, blob: BlobFile, chunk: int) -> None:
    location = start_upload(client)
    with blob.path.open("rb") as source:
        octets = {"Content-Type": "application/octet-stream"}
        target = with_digest(location, blob.digest)
        response = client.call("PUT", target, 201, body=(source, 0, blob.size), headers=octets)
    check_committed(response, blob.digest)


def push_chunked(client: Client, blob: BlobFile, chunk: int) -> None:
    location = start_upload(client)
    with blob.path.open("rb") as source:
        for offset in range(0, blob.size, chunk):
            count = min(chunk, blob.size - offset)
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + count - 1}",
            }
            body = (source, offset, count)
            response = client.call("PATCH", location, 202, body=body, headers=headers)
            location = path_of(response.headers["Location"])
    response = client.call("PUT", with_digest(location, blob.digest), 201)
    check_committed(response, blob.digest)


def drain(response: http.client.HTTPResponse) -> int:
    buffer = memoryview(bytearray(READ_BUFFER))
    total = 0
    while count := response.readinto(buffer):
        total += count
    return total


def pull(client: Client, blob: BlobFile, chunk: int) -> None:
    response = client.send("GET", f"/v2/{REPOSITORY}/blobs/{blob.digest}")
    if response.status in (301, 302, 303, 307, 308):
        response.read()
        location = urlsplit(response.headers["Location"])
        redirected = http.client.HTTPConnection(location.netloc, timeout=IO_TIMEOUT)
        redirected.request("GET", path_of(response.headers["Location"]))
        response = redirected.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET blob: {response.status} {response.read()[:200]!r}")
    received = drain(response)
    if received != blob.size:
        raise RuntimeError(f"pulled {received} bytes, expected {blob.size}")


class Loopback:
    """A do-nothing HTTP peer: the best any registry could do through this client over loopback."""

    def __init__(self, blob: BlobFile) -> None:
        self.blob = blob
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                self.answer(connection)

    def answer(self, connection: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += connection.recv(65536)
        head, rest = head.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        fields = dict(line.lower().split(": ", 1) for line in lines[1:])
        if lines[0].startswith("GET"):
            reply = f"HTTP/1.1 200 OK\r\nContent-Length: {self.blob.size}\r\n\r\n"
            connection.sendall(reply.encode())
            with self.blob.path.open("rb") as source:
                connection.sendfile(source)
            return
        remaining = int(fields.get("content-length", "0")) - len(rest)
        buffer = memoryview(bytearray(READ_BUFFER))
        while remaining > 0:
            remaining -= connection.recv_into(buffer, min(len(buffer), remaining))
        connection.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")

    def push(self, blob: BlobFile) -> None:
        client = Client(self.port, {})
        try:
            with blob.path.open("rb") as source:
                client.call("PUT", "/sink", 201, body=(source, 0, blob.size))
        finally:
            client.close()

    def pull(self, blob: BlobFile) -> None:
        client = Client(self.port, {})
        try:
            response = client.send("GET", "/source")
            if drain(response) != blob.size:
                raise RuntimeError("loopback pull came back short")
        finally:
            client.close()

    def close(self) -> None:
        self.listener.close()


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def hash_file(blob: BlobFile) -> None:
    with blob.path.open("rb") as source:
        hashlib.file_digest(source, "sha256")


def write_copy(blob: BlobFile) -> None:
    copy = blob.path.with_suffix(".copy")
    with blob.path.open("rb") as source, copy.open("wb") as target:
        shutil.copyfileobj(source, target, READ_BUFFER)
        target.flush()
        os.fsync(target.fileno())
    copy.unlink()


def measure_bounds(blob: BlobFile, repeats: int) -> dict[str, list[float]]:
    loopback = Loopback(blob)
    actions = {
        "sha256": lambda: hash_file(blob),
        "disk write + fsync": lambda: write_copy(blob),
        "loopback push": lambda: loopback.push(blob),
        "loopback pull": lambda: loopback.pull(blob),
    }
    bounds: dict[str, list[float]] = {name: [] for name in actions}
    try:
        for _ in range(repeats):
            for name, action in actions.items():
                os.sync()
                bounds[name].append(timed(action))
    finally:
        loopback.close()
    return bounds


def run_operation(registry: Registry, operation: str, blob: BlobFile, chunk: int) -> float:
    action = {"push monolithic": push_monolithic, "push chunked": push_chunked, "pull": pull}
    client = Client(registry.port, registry.headers)
    try:
        return timed(lambda: action[operation](client, blob, chunk))
    finally:
        client.close()


def measure_registries(
    registries: list[Registry], blob: BlobFile, repeats: int, chunk: int
) -> dict[str, dict[str, list[float]]]:
    """Interleaved: each repeat runs every operation on every registry, so drift hits all alike."""
    times: dict[str, dict[str, list[float]]] = {
        r.name: {op: [] for op in OPERATIONS} for r in registries
    }
    for repeat in range(repeats):
        for registry in registries:
            for operation in OPERATIONS:
                if operation != "pull":
                    blob.make_variant(f"{registry.name}-{operation}-{repeat}")
                os.sync()
                seconds = run_operation(registry, operation, blob, chunk)
                times[registry.name][operation].append(seconds)
                rate = blob.size / seconds / MB
                print(f"  {registry.name:12} {operation:16} {seconds:7.2f} s {rate:8.1f} MB/s")
    return times


def rate(size: int, seconds: list[float]) -> float:
    return size / statistics.median(seconds) / MB


def markdown(results: dict[str, object], command: str) -> str:
    size = int(results["size_bytes"])  # type: ignore[call-overload]
    times: dict[str, dict[str, list[float]]] = results["registries"]  # type: ignore[assignment]
    bounds: dict[str, list[float]] = results["bounds"]  # type: ignore[assignment]
    names = list(times)
    lines = [
        "# Performance",
        "",
        f"Blob of {size // MIB} MiB, {results['repeats']} repeats, medians; "
        f"MB/s = 10^6 bytes per second. Measured {results['date']} on {results['machine']}.",
        "",
        "```",
        command,
        "```",
        "",
    ]
    header = ["operation"] + [f"{name} s | {name} MB/s" for name in names]
    both = {"berth", "distribution"} <= set(names)
    header += ["Berth / distribution"] if both else []
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * (len(names) * 2 + 1 + both)]
    for operation in OPERATIONS:
        cells = [operation]
        for name in names:
            median = statistics.median(times[name][operation])
            cells += [f"{median:.2f}", f"{rate(size, times[name][operation]):.0f}"]
        if both:
            ratio = rate(size, times["berth"][operation]) / rate(
                size, times["distribution"][operation]
            )
            cells.append(f"{ratio:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Bounds of this machine and client in the same run:", ""]
    lines += ["| bound | s | MB/s |", "| --- | --- | --- |"]
    for name, seconds in bounds.items():
        lines.append(f"| {name} | {statistics.median(seconds):.2f} | {rate(size, seconds):.0f} |")
    lines += ["", f"Raw timings: `{results['json']}`.", ""]
    return "\n".join(lines)


def display_path(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(path)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="blob size (default 1024)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each operation")
    parser.add_argument("--chunk-mib", type=int, default=16, help="PATCH size (default 16)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "performance.md")
    parser.add_argument(
        "--json", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "registry_bench.json"
    )
    parser.add_argument(
        "--registries", default="berth,distribution", help="comma-separated: berth,distribution"
    )
    parser.add_argument("--work-dir", type=Path, help="where blobs and registry data go (tmp)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/registry_bench.py", *argv])
    starters = {"berth": start_berth, "distribution": start_distribution}
    wanted = [name.strip() for name in args.registries.split(",") if name.strip()]
    unknown = set(wanted) - set(starters)
    if unknown:
        raise SystemExit(f"unknown registries {sorted(unknown)}; choose from {sorted(starters)}")
    with tempfile.TemporaryDirectory(prefix="berth-bench-", dir=args.work_dir) as temporary:
        work = Path(temporary)
        size = args.size_mib * MIB
        print(f"writing {args.size_mib} MiB of random bytes in {work}")
        blob = BlobFile(work / "blob.bin", size)
        print("measuring this machine's bounds")
        bounds = measure_bounds(blob, args.repeats)
        registries: list[Registry] = []
        try:
            for name in wanted:
                registries.append(starters[name](work))
            print("measuring registries")
            times = measure_registries(registries, blob, args.repeats, args.chunk_mib * MIB)
        finally:
            for registry in registries:
                registry.stop()
    results: dict[str, object] = {
        "command": command,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}",
        "size_bytes": size,
        "chunk_bytes": args.chunk_mib * MIB,
        "repeats": args.repeats,
        "json": display_path(args.json),
        "bounds": bounds,
        "registries": times,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    report = markdown(results, command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
