"""oras-py pushes artifacts that refer to an image; the referrers API finds them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import oras.client
import oras.oci
import pytest

from .conftest import RegistryServer
from .images import OCI_INDEX, OCI_MANIFEST, Layout, canonical_json, write_image_layout

pytestmark = pytest.mark.clients

SBOM_TYPE = "application/spdx+json"
SIGNATURE_TYPE = "application/vnd.example.signature.v1+json"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
SBOM_ANNOTATIONS = {"org.opencontainers.image.created": "2024-01-01T00:00:00Z", "kind": "sbom"}


def oras_client(server: RegistryServer, tmp_path: Path) -> tuple[oras.client.OrasClient, str]:
    """A logged-in client and the docker config file holding its login.

    oras-py's default "token" backend answers a challenge by fetching a bearer token from the
    realm; ECR (and Berth) send a Basic challenge, so the "basic" backend is the one that works.
    """
    client = oras.client.OrasClient(hostname=server.host, insecure=True, auth_backend="basic")
    config = tmp_path / "docker-config.json"
    config.write_text('{"auths": {}}')
    if server.token:
        client.login("AWS", server.token, hostname=server.host, config_path=str(config))
    return client, str(config)


def put_manifest(
    client: oras.client.OrasClient, server: RegistryServer, repository: str, ref: str, body: bytes
) -> httpx.Headers:
    url = f"{server.url}/v2/{repository}/manifests/{ref}"
    response = client.do_request(url, "PUT", data=body, headers={"Content-Type": OCI_MANIFEST})
    assert response.status_code == 201, response.text
    return httpx.Headers(dict(response.headers))


def push_image(
    client: oras.client.OrasClient, server: RegistryServer, repository: str, layout: Layout
) -> None:
    """Push an image layout's blobs with the SDK's upload_blob, then its manifest byte for byte."""
    container = client.get_container(f"{server.host}/{repository}:{layout.tag}")
    manifest_bytes = (layout.path / "blobs" / "sha256" / layout.top.digest[7:]).read_bytes()
    manifest = json.loads(manifest_bytes)
    for descriptor in [manifest["config"], *manifest["layers"]]:
        path = layout.path / "blobs" / "sha256" / descriptor["digest"][7:]
        response = client.upload_blob(str(path), container, descriptor)
        assert response.status_code in (200, 201), response.text
    put_manifest(client, server, repository, layout.tag, manifest_bytes)


def push_sbom(
    client: oras.client.OrasClient,
    config: str,
    target: str,
    subject: oras.oci.Subject,
    tmp_path: Path,
) -> bytes:
    """An OCI 1.0-style artifact: its type is its config's media type."""
    sbom = tmp_path / "sbom.spdx.json"
    sbom.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": "web", "packages": []}))
    artifact_config = tmp_path / "artifact-config.json"
    artifact_config.write_text("{}")
    client.push(
        target=target,
        config_path=config,
        files=[f"{sbom}:{SBOM_TYPE}"],
        manifest_config=f"{artifact_config}:{SBOM_TYPE}",
        manifest_annotations=SBOM_ANNOTATIONS,
        subject=subject,
        disable_path_validation=True,
        quiet=True,
    )
    return sbom.read_bytes()


def push_signature(
    client: oras.client.OrasClient,
    server: RegistryServer,
    repository: str,
    subject: oras.oci.Subject,
    tmp_path: Path,
) -> tuple[str, bytes, httpx.Headers]:
    """An OCI 1.1 artifact: explicit artifactType, empty config, pushed by digest (no tag)."""
    container = client.get_container(f"{server.host}/{repository}")
    signature = tmp_path / "signature.json"
    signature.write_text(json.dumps({"signed": subject.digest}))
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    layer = {**oras.oci.NewLayer(str(signature), media_type=SIGNATURE_TYPE)}
    layer["annotations"] = {"org.opencontainers.image.title": "signature.json"}
    empty_descriptor = {**oras.oci.NewLayer(str(empty), media_type=EMPTY_TYPE)}
    for path, descriptor in ((signature, layer), (empty, empty_descriptor)):
        response = client.upload_blob(str(path), container, descriptor)
        assert response.status_code in (200, 201), response.text
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SIGNATURE_TYPE,
        "config": empty_descriptor,
        "layers": [layer],
        "subject": {"mediaType": subject.mediaType, "digest": subject.digest, "size": subject.size},
    }
    body = canonical_json(manifest)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    headers = put_manifest(client, server, repository, digest, body)
    return digest, signature.read_bytes(), headers


def manifest_digest(server: RegistryServer, repository: str, tag: str) -> str:
    url = f"{server.url}/v2/{repository}/manifests/{tag}"
    response = httpx.get(url, auth=server.auth, headers={"Accept": OCI_MANIFEST}, timeout=30)
    response.raise_for_status()
    digest = "sha256:" + hashlib.sha256(response.content).hexdigest()
    assert response.headers["Docker-Content-Digest"] == digest
    return digest


def referrers(
    server: RegistryServer, repository: str, digest: str, artifact_type: str | None = None
) -> httpx.Response:
    params = {"artifactType": artifact_type} if artifact_type else {}
    url = f"{server.url}/v2/{repository}/referrers/{digest}"
    return httpx.get(url, params=params, auth=server.auth, timeout=30)


@pytest.fixture
def pushed(berth_server: RegistryServer, repository: str, tmp_path: Path) -> dict[str, object]:
    """An image, an SBOM and a signature that both refer to it."""
    client, config = oras_client(berth_server, tmp_path)
    layout = write_image_layout(tmp_path / "image", "v1", layer_count=2)
    push_image(client, berth_server, repository, layout)
    subject = oras.oci.Subject(OCI_MANIFEST, layout.top.digest, layout.top.size)
    sbom_target = f"{berth_server.host}/{repository}:sbom"
    sbom = push_sbom(client, config, sbom_target, subject, tmp_path)
    signature_digest, signature, headers = push_signature(
        client, berth_server, repository, subject, tmp_path
    )
    return {
        "client": client,
        "config": config,
        "subject": subject,
        "sbom": sbom,
        "sbom_target": sbom_target,
        "sbom_digest": manifest_digest(berth_server, repository, "sbom"),
        "signature": signature,
        "signature_digest": signature_digest,
        "signature_put_headers": headers,
    }


def test_pull_artifacts_back_byte_for_byte(
    berth_server: RegistryServer, repository: str, pushed: dict[str, object], tmp_path: Path
) -> None:
    client = pushed["client"]
    assert isinstance(client, oras.client.OrasClient)
    config = str(pushed["config"])

    files = client.pull(
        target=str(pushed["sbom_target"]), config_path=config, outdir=str(tmp_path / "sbom")
    )
    assert [Path(file).name for file in files] == ["sbom.spdx.json"]
    assert Path(files[0]).read_bytes() == pushed["sbom"]

    signature_target = f"{berth_server.host}/{repository}@{pushed['signature_digest']}"
    files = client.pull(target=signature_target, config_path=config, outdir=str(tmp_path / "sig"))
    assert [Path(file).read_bytes() for file in files] == [pushed["signature"]]

    manifest = client.get_manifest(str(pushed["sbom_target"]))
    assert manifest["subject"]["digest"] == pushed["subject"].digest  # type: ignore[attr-defined]
    assert manifest["annotations"] == SBOM_ANNOTATIONS


def test_referrers_lists_both_artifacts(
    berth_server: RegistryServer, repository: str, pushed: dict[str, object]
) -> None:
    subject = pushed["subject"]
    assert isinstance(subject, oras.oci.Subject)
    response = referrers(berth_server, repository, subject.digest)
    if berth_server.kind == "distribution" and response.status_code == 404:
        pytest.skip("distribution 2.8 has no referrers API")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith(OCI_INDEX)
    index = response.json()
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == OCI_INDEX
    by_digest = {entry["digest"]: entry for entry in index["manifests"]}
    assert set(by_digest) == {pushed["sbom_digest"], pushed["signature_digest"]}

    sbom = by_digest[pushed["sbom_digest"]]
    assert sbom["mediaType"] == OCI_MANIFEST
    assert sbom["artifactType"] == SBOM_TYPE
    assert sbom["annotations"] == SBOM_ANNOTATIONS
    signature = by_digest[pushed["signature_digest"]]
    assert signature["artifactType"] == SIGNATURE_TYPE

    put_headers = pushed["signature_put_headers"]
    assert isinstance(put_headers, httpx.Headers)
    assert put_headers.get("OCI-Subject") == subject.digest


def test_referrers_filters_by_artifact_type(
    berth_server: RegistryServer, repository: str, pushed: dict[str, object]
) -> None:
    subject = pushed["subject"]
    assert isinstance(subject, oras.oci.Subject)
    response = referrers(berth_server, repository, subject.digest, SBOM_TYPE)
    if berth_server.kind == "distribution" and response.status_code == 404:
        pytest.skip("distribution 2.8 has no referrers API")
    assert response.status_code == 200, response.text
    assert [entry["digest"] for entry in response.json()["manifests"]] == [pushed["sbom_digest"]]
    assert response.headers.get("OCI-Filters-Applied") == "artifactType"

    none = referrers(berth_server, repository, subject.digest, "application/x-nothing")
    assert none.status_code == 200
    assert none.json()["manifests"] == []


@pytest.mark.usefixtures("pushed")
def test_referrers_of_a_digest_nothing_refers_to_is_an_empty_index(
    berth_server: RegistryServer, repository: str
) -> None:
    digest = "sha256:" + hashlib.sha256(b"nothing refers to this").hexdigest()
    response = referrers(berth_server, repository, digest)
    if berth_server.kind == "distribution" and response.status_code == 404:
        pytest.skip("distribution 2.8 has no referrers API")
    assert response.status_code == 200, response.text
    assert response.json()["manifests"] == []
