"""`berth serve --upload-port`: skopeo and oras send their upload bodies to the signed URLs on the
upload port, across two server workers, and pull back every byte."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import oras.client
import pytest

from .conftest import RegistryServer, berth_serving, free_port, option_of
from .ecr_support import ecr_client
from .images import layout_digest, read_blob, write_image_layout
from .test_ecr_images import upload_layer
from .test_oras import oras_client
from .test_skopeo import pull, push, remote, skopeo_env

__all__ = ["skopeo_env"]

pytestmark = [
    pytest.mark.clients,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    root = tmp_path_factory.mktemp("upload-port")
    metrics = root / "metrics"
    metrics.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics)}  # the workers' counters added up
    args = ["--upload-port", str(free_port()), "--workers", "2"]
    with berth_serving(root, args, env) as server:
        yield server


def upload_port_of(server: RegistryServer) -> int:
    return option_of(server, "--upload-port")


def port_answers(server: RegistryServer) -> dict[str, float]:
    """``berth_upload_port_responses`` by status, summed over the workers."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    pattern = r'^berth_upload_port_responses_total\{status="(\d+)"\} ([0-9.e+]+)$'
    found: dict[str, float] = {}
    for status, count in re.findall(pattern, text, re.MULTILINE):
        found[status] = found.get(status, 0) + float(count)
    return found


def test_skopeo_pushes_every_blob_through_the_upload_port(
    server: RegistryServer, skopeo_env: Path, tmp_path: Path
) -> None:
    before = port_answers(server).get("201", 0)
    repository = f"clients/up-{uuid.uuid4().hex[:8]}"
    layout = write_image_layout(tmp_path / "in", "v1", layer_count=3)
    target = remote(server, repository, "v1")
    push(skopeo_env, server, layout, target)
    assert port_answers(server).get("201", 0) - before >= 4  # 3 layers and the config

    out = tmp_path / "out"
    pull(skopeo_env, server, target, f"oci:{out}:v1")
    assert layout_digest(out, "v1") == layout.top.digest
    manifest = json.loads(read_blob(out, layout.top.digest))
    for descriptor in [manifest["config"], *manifest["layers"]]:
        assert read_blob(out, descriptor["digest"]) == read_blob(layout.path, descriptor["digest"])


def test_oras_pushes_an_artifact_through_the_upload_port(
    server: RegistryServer, tmp_path: Path
) -> None:
    client, config = oras_client(server, tmp_path)
    assert isinstance(client, oras.client.OrasClient)
    before = port_answers(server).get("201", 0)
    artifact = tmp_path / "notes.txt"
    artifact.write_bytes(os.urandom(3 << 20))
    target = f"{server.host}/clients/up-oras-{uuid.uuid4().hex[:8]}:v1"
    client.push(
        files=[str(artifact)], target=target, config_path=config, disable_path_validation=True
    )
    assert port_answers(server).get("201", 0) > before
    files = client.pull(target=target, config_path=config, outdir=str(tmp_path / "out"))
    assert [Path(file).read_bytes() for file in files] == [artifact.read_bytes()]


def test_the_upload_url_is_on_the_port_and_a_tampered_one_is_refused(
    server: RegistryServer,
) -> None:
    repository = f"clients/up-{uuid.uuid4().hex[:8]}"
    started = httpx.post(f"{server.url}/v2/{repository}/blobs/uploads/", auth=server.auth)
    assert started.status_code == 202
    location = started.headers["Location"]
    assert location.startswith(f"http://127.0.0.1:{upload_port_of(server)}/v2/_uploads/")
    refused = httpx.patch(location[:-4] + "AAAA", content=b"layer")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "DENIED"
    accepted = httpx.patch(location, content=b"layer")
    assert accepted.status_code == 202
    assert accepted.headers["Range"] == "0-4"


def test_the_ecr_api_layer_upload_is_unchanged(server: RegistryServer) -> None:
    ecr = ecr_client(server)
    name = f"clients/up-ecr-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=name)
    data = os.urandom(3 << 20)
    digest = upload_layer(ecr, name, data)
    found = ecr.batch_check_layer_availability(repositoryName=name, layerDigests=[digest])
    assert found["layers"][0]["layerAvailability"] == "AVAILABLE"
    ecr.close()
