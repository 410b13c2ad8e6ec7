"""`berth serve --download-port` refuses, before it creates anything, what cannot work."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from berth.cli.main import app


def serve(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["serve", *args], env={})
    return result.exit_code, " ".join(result.output.split())


def test_a_taken_download_port_stops_serve_before_it_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = serve("--data-dir", str(tmp_path / "data"), "--download-port", str(port))
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port} for downloads" in output
    assert not (tmp_path / "data").exists()


def test_dev_tls_needs_a_download_url(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, output = serve("--data-dir", str(data), "--download-port", "5999", "--dev-tls")
    assert code == 2
    assert "the download port speaks plain HTTP" in output
    assert not (data / "tls").exists()
