"""Request rates: wrk for manifest PUTs (a generated Lua script makes each body and tag unique and
prints the summary as one JSON line), ApacheBench for fixed requests (GET, HEAD, POST)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"socket_errors":%d,"status_errors":%d,'
    .. '"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""

_UNIQUE_PUT = """
local counter = 0
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local headers = {{}}
{headers_table}
request = function()
  counter = counter + 1
  local body = string.format({template}, id, counter)
  return wrk.format("PUT", string.format({path}, id, counter), headers, body)
end
"""


@dataclass(frozen=True)
class Rate:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def _lua_string(text: str) -> str:
    return json.dumps(text)


def unique_put_script(path_format: str, template: str, headers: dict[str, str]) -> str:
    """PUTs whose path and body take (thread id, counter) through string.format's two %d."""
    table = "\n".join(f"headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
    body = _UNIQUE_PUT.format(
        headers_table=table, template=_lua_string(template), path=_lua_string(path_format)
    )
    return body + _DONE


def run(url: str, script: str, *, seconds: float, connections: int = 32, threads: int = 2) -> Rate:
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (make bench-deps)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        command = [
            binary,
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
        ]
        command += ["--timeout", "10s", "-s", handle.name, url]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed: {done.stderr or done.stdout}")
        output = done.stdout
    finally:
        Path(handle.name).unlink()
    line = next(line for line in output.splitlines() if line.startswith("WRKJSON "))
    summary = json.loads(line.removeprefix("WRKJSON "))
    errors = summary["socket_errors"] + summary["status_errors"]
    duration = summary["duration_us"] / 1e6
    return Rate(
        requests_per_second=summary["requests"] / duration,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        requests=summary["requests"],
        errors=errors,
    )


def run_ab(
    url: str,
    method: str,
    headers: dict[str, str],
    *,
    seconds: float,
    body: bytes | None = None,
    connections: int = 32,
) -> Rate:
    """Fixed requests with ApacheBench, keep-alive: unlike wrk, it knows a HEAD has no body."""
    binary = shutil.which("ab")
    if binary is None:
        raise RuntimeError("ab is not installed (make bench-deps: apache2-utils)")
    command = [binary, "-k", "-q", "-c", str(connections), "-t", str(max(1, round(seconds)))]
    command += ["-n", "10000000", "-s", "10"]
    if method == "HEAD":
        command.append("-i")
    for name, value in headers.items():
        if name.lower() == "content-type":
            command += ["-T", value]
        elif name.lower() != "content-length":
            command += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("wb", suffix=".body") as payload:
        if body is not None:
            payload.write(body)
            payload.flush()
            command += ["-p", payload.name]
        done = subprocess.run([*command, url], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ab failed: {done.stderr or done.stdout}")
    return _ab_rate(done.stdout)


def _ab_rate(output: str) -> Rate:
    fields: dict[str, str] = {}
    percentiles: dict[str, float] = {}
    for line in output.splitlines():
        name, _, value = line.partition(":")
        if value:
            fields[name.strip()] = value.strip()
        parts = line.split()
        if len(parts) == 2 and parts[0].endswith("%"):
            percentiles[parts[0]] = float(parts[1])
    complete = int(fields["Complete requests"])
    errors = int(fields.get("Failed requests", "0")) + int(fields.get("Non-2xx responses", "0"))
    return Rate(
        requests_per_second=float(fields["Requests per second"].split()[0]),
        p50_ms=percentiles.get("50%", 0.0),
        p99_ms=percentiles.get("99%", 0.0),
        requests=complete,
        errors=errors,
    )
