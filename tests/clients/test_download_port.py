"""`berth serve --download-port`: skopeo and oras follow the 307 and get every byte."""

from __future__ import annotations

import json
import os
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
    root = tmp_path_factory.mktemp("download-port")
    with berth_serving(root, ["--download-port", str(free_port())]) as server:
        yield server


def download_port_of(server: RegistryServer) -> int:
    return option_of(server, "--download-port")


def test_skopeo_pulls_every_layer_through_the_download_port(
    server: RegistryServer, skopeo_env: Path, tmp_path: Path
) -> None:
    repository = f"clients/dl-{uuid.uuid4().hex[:8]}"
    layout = write_image_layout(tmp_path / "in", "v1", layer_count=3)
    target = remote(server, repository, "v1")
    push(skopeo_env, server, layout, target)

    out = tmp_path / "out"
    pull(skopeo_env, server, target, f"oci:{out}:v1")
    assert layout_digest(out, "v1") == layout.top.digest
    manifest = json.loads(read_blob(out, layout.top.digest))
    for descriptor in [manifest["config"], *manifest["layers"]]:
        assert read_blob(out, descriptor["digest"]) == read_blob(layout.path, descriptor["digest"])
        answer = httpx.get(
            f"{server.url}/v2/{repository}/blobs/{descriptor['digest']}", auth=server.auth
        )
        assert answer.status_code == 307
        location = answer.headers["Location"]
        assert location.startswith(f"http://127.0.0.1:{download_port_of(server)}/v2/_downloads/")


def test_oras_pulls_an_artifact_through_the_download_port(
    server: RegistryServer, tmp_path: Path
) -> None:
    client, config = oras_client(server, tmp_path)
    assert isinstance(client, oras.client.OrasClient)
    artifact = tmp_path / "notes.txt"
    artifact.write_bytes(b"release notes\n" * 50_000)
    target = f"{server.host}/clients/dl-oras-{uuid.uuid4().hex[:8]}:v1"
    client.push(
        files=[str(artifact)], target=target, config_path=config, disable_path_validation=True
    )

    files = client.pull(target=target, config_path=config, outdir=str(tmp_path / "out"))
    assert [Path(file).read_bytes() for file in files] == [artifact.read_bytes()]


def test_a_tampered_download_url_is_refused_in_the_registry_error_shape(
    server: RegistryServer, skopeo_env: Path, tmp_path: Path
) -> None:
    repository = f"clients/dl-{uuid.uuid4().hex[:8]}"
    layout = write_image_layout(tmp_path / "in", "v1", layer_count=1)
    push(skopeo_env, server, layout, remote(server, repository, "v1"))
    layer = json.loads(read_blob(layout.path, layout.top.digest))["layers"][0]["digest"]
    answer = httpx.get(f"{server.url}/v2/{repository}/blobs/{layer}", auth=server.auth)
    location = answer.headers["Location"]
    refused = httpx.get(location[:-4] + "AAAA")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "DENIED"
    assert httpx.get(location).status_code == 200


def test_get_download_url_for_layer_names_the_download_port(server: RegistryServer) -> None:
    ecr = ecr_client(server)
    name = f"clients/dl-ecr-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=name)
    data = os.urandom(3 << 20)
    digest = upload_layer(ecr, name, data)
    reply = ecr.get_download_url_for_layer(repositoryName=name, layerDigest=digest)
    url = reply["downloadUrl"]
    assert url.startswith(f"http://127.0.0.1:{download_port_of(server)}/v2/_downloads/")
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert response.content == data
    ecr.close()
