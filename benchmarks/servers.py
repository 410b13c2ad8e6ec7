"""The processes a benchmark run starts (Berth, distribution, nginx), each on a free 127.0.0.1 port.

Every process is started in its own session and stopped by its process group id; nothing else
on the machine is touched.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT = 60.0
ROOT_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
ROOT_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCOUNT_ID = "123456789012"

DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
catalog:
  maxentries: 1000
http:
  addr: 127.0.0.1:{port}
"""

NGINX_CONFIG = """\
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
daemon off;
events {{ worker_connections 256; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  fastcgi_temp_path {work}/nginx-fastcgi;
  uwsgi_temp_path {work}/nginx-uwsgi;
  scgi_temp_path {work}/nginx-scgi;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location / {{ }}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server process we started, and the headers that authenticate to it."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    data: Path
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def rss_bytes(self) -> int:
        """Memory of the process and its workers: the sum of their proportional set sizes.

        Workers are forked from the main process and share its pages; summing RSS would count
        those pages once per process, PSS divides them among the processes that share them.
        """
        return sum(_pss(pid) for pid in _tree(self.process.pid))

    def largest_rss_bytes(self) -> int:
        return max((_rss(pid) for pid in _tree(self.process.pid)), default=0)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its workers (threads that ended count)."""
        return sum(_cpu_seconds(pid) for pid in _tree(self.process.pid))


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending += _children(current)
    return found


def _field_kib(path: str, name: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss(pid: int) -> int:
    return _field_kib(f"/proc/{pid}/status", "VmRSS:")


def _pss(pid: int) -> int:
    return _field_kib(f"/proc/{pid}/smaps_rollup", "Pss:")


class RssSampler:
    """Samples a server's memory in a thread: peak PSS (all processes), peak RSS (largest)."""

    def __init__(self, server: Server, interval: float = 0.1) -> None:
        self.server, self.interval, self.peak, self.peak_rss = server, interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.server.rss_bytes())
            self.peak_rss = max(self.peak_rss, self.server.largest_rss_bytes())

    def close(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def berth_env() -> dict[str, str]:
    return {
        **os.environ,
        "BERTH_ROOT_ACCESS_KEY_ID": ROOT_ACCESS_KEY_ID,
        "BERTH_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET_ACCESS_KEY,
        "BERTH_ACCOUNT_ID": ACCOUNT_ID,
        "BERTH_LOG_LEVEL": "warning",
    }


def _ready(port: int, path: str) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False


def spawn(name: str, command: list[str], work: Path, port: int, ready_path: str) -> Server:
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
    server = Server(name, port, process, log, work / f"{name}-data")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log.read_text()}")
        if _ready(port, ready_path):
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} not ready on :{port}{ready_path}:\n{log.read_text()[-4000:]}")


def berth_binary() -> str:
    local = Path(sys.executable).parent / "berth"
    found = str(local) if local.exists() else shutil.which("berth")
    if not found:
        raise RuntimeError("no `berth` executable next to this Python or on PATH")
    return found


def start_berth(
    work: Path, workers: int, download_port: bool = True, upload_port: bool = True
) -> Server:
    """``berth serve``; with ``download_port``, whole-blob GETs redirect to its sendfile port;
    with ``upload_port``, upload bodies go to its own port."""
    port, data = free_port(), work / "berth-data"
    command = [berth_binary(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(data), "--workers", str(workers)]
    if download_port:
        command += ["--download-port", str(free_port())]
    if upload_port:
        command += ["--upload-port", str(free_port())]
    return spawn("berth", command, work, port, "/healthz")


def start_distribution(work: Path) -> Server:
    port, config = free_port(), work / "distribution.yml"
    config.write_text(DISTRIBUTION_CONFIG.format(root=work / "distribution-data", port=port))
    return spawn("distribution", ["docker-registry", "serve", str(config)], work, port, "/v2/")


def start_drop_server(work: Path) -> Server:
    """granian serving ``drop_app``, with the same HTTP settings as ``berth serve``."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "granian"), "--interface", "asgi"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-ws"]
    command += ["--working-dir", str(Path(__file__).parent), "drop_app:app"]
    return spawn("granian-drop", command, work, port, "/")


def start_nginx(work: Path, root: Path, probe: str) -> Server:
    port, config = free_port(), work / "nginx.conf"
    config.write_text(NGINX_CONFIG.format(work=work, port=port, root=root))
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    return spawn("nginx", [binary, "-c", str(config), "-p", str(work)], work, port, probe)
