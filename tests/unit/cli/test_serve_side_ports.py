"""`berth serve --download-port` and `--upload-port` refuse, before they create anything, what
cannot work."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from berth.cli.main import app


def serve(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["serve", *args], env={})
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize("side", ["download", "upload"])
def test_a_taken_side_port_stops_serve_before_it_starts(tmp_path: Path, side: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = serve("--data-dir", str(tmp_path / "data"), f"--{side}-port", str(port))
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port} for {side}s" in output
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("side", ["download", "upload"])
def test_dev_tls_needs_a_side_url(tmp_path: Path, side: str) -> None:
    data = tmp_path / "data"
    code, output = serve("--data-dir", str(data), f"--{side}-port", "5999", "--dev-tls")
    assert code == 2
    assert f"the {side} port speaks plain HTTP" in output
    assert not (data / "tls").exists()
