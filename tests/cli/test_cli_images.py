"""`berth push` and `berth pull`: a `docker save` tarball in, an OCI layout out, digests equal."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from .archives import docker_save
from .conftest import Berth

pytestmark = pytest.mark.clients

needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")


def _skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["skopeo", *args], capture_output=True, text=True, timeout=120, check=False
    )


def _repository(berth: Berth) -> str:
    name = f"cli/img-{uuid.uuid4().hex[:8]}"
    berth.ok("ecr", "create-repository", "--repository-name", name)
    return name


def _layout_manifest(layout: Path) -> tuple[str, dict[str, object]]:
    (entry,) = json.loads((layout / "index.json").read_text())["manifests"]
    digest = str(entry["digest"])
    body = (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()
    assert "sha256:" + hashlib.sha256(body).hexdigest() == digest
    return digest, json.loads(body)


@needs_skopeo
def test_push_docker_archive_and_pull_to_oci_layout(berth: Berth, tmp_path: Path) -> None:
    repository = _repository(berth)
    archive = docker_save(tmp_path / "image.tar", big_layer_bytes=9 * 1024 * 1024 + 17)
    target = f"{berth.server.host}/{repository}:1.0"

    pushed = berth("push", f"docker-archive:{archive.path}", target)
    assert pushed.returncode == 0, pushed.stderr
    digest = pushed.stdout.strip()
    assert digest.startswith("sha256:")
    assert "pushed" in pushed.stderr

    again = berth("push", f"docker-archive:{archive.path}:demo:1.0", target)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == digest
    assert "exists" in again.stderr

    layout = tmp_path / "layout"
    pulled = berth("pull", target, f"oci:{layout}")
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip() == digest
    layout_digest, manifest = _layout_manifest(layout)
    assert layout_digest == digest
    layers = [layer["digest"] for layer in manifest["layers"]]  # type: ignore[attr-defined]
    assert tuple(layers) == archive.layer_digests
    assert manifest["config"]["digest"] == archive.config_digest  # type: ignore[index]
    for blob in (layout / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name

    password = berth.ok("ecr", "get-login-password").strip()
    remote = _skopeo(
        "inspect", "--raw", "--creds", f"AWS:{password}", "--tls-verify=false", f"docker://{target}"
    )
    assert remote.returncode == 0, remote.stderr
    local = _skopeo("inspect", "--raw", f"oci:{layout}")
    assert local.returncode == 0, local.stderr
    assert remote.stdout == local.stdout
    assert "sha256:" + hashlib.sha256(remote.stdout.encode()).hexdigest() == digest


@needs_skopeo
def test_push_an_oci_layout_back(berth: Berth, tmp_path: Path) -> None:
    repository = _repository(berth)
    archive = docker_save(tmp_path / "image.tar")
    first = f"{berth.server.host}/{repository}:first"
    digest = berth.ok("push", "-q", f"docker-archive:{archive.path}", first).strip()
    layout = tmp_path / "layout"
    berth.ok("pull", "-q", first, f"oci:{layout}:kept")
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "kept"

    second = f"{berth.server.host}/{repository}:second"
    assert berth.ok("push", f"oci:{layout}:kept", second).strip() == digest
    images = json.loads(berth.ok("ecr", "describe-images", "--repository-name", repository))
    (image,) = images["imageDetails"]
    assert sorted(image["imageTags"]) == ["first", "second"]
    assert image["imageDigest"] == digest


def test_transfer_errors_are_clear(berth: Berth, tmp_path: Path) -> None:
    repository = _repository(berth)
    missing = berth("pull", f"{berth.server.host}/{repository}:nope", f"oci:{tmp_path / 'x'}")
    assert missing.returncode == 1
    assert "MANIFEST_UNKNOWN" in missing.stderr
    no_file = berth(
        "push", f"docker-archive:{tmp_path / 'none.tar'}", f"{berth.server.host}/{repository}:x"
    )
    assert no_file.returncode == 1
    assert "no such file" in no_file.stderr
    bad_source = berth("push", str(tmp_path), f"{berth.server.host}/{repository}:x")
    assert bad_source.returncode == 252
    for result in (missing, no_file, bad_source):
        assert "Traceback" not in result.stderr
