"""Port of the conformance suite's Pull workflow (conformance/01_pull_test.go), for sha256 and sha512.

Each Go ``Specify`` is a test here (or a step, where the Go specs hand state to each other); the
Setup specs are the ``pulled`` fixture and the Teardown specs are ``test_teardown``. Where the Go
suite accepts alternatives (``400 or 404``, a digest header checked only when present) Berth's
answer is pinned to the one it gives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from .conformance import ALGORITHMS, INVALID_MANIFEST, NONEXISTENT_MANIFEST, TEST_TAG, Suite
from .oci import OCI_ERROR_CODES, OCI_MANIFEST, OCTET, assert_error, digest_of

NAME = "conformance/pull"
ACCEPT = {"Accept": OCI_MANIFEST}


@pytest.fixture(params=ALGORITHMS)
def suite(request: pytest.FixtureRequest) -> Suite:
    return Suite(request.param)


@pytest.fixture
async def pulled(client: httpx.AsyncClient, suite: Suite) -> AsyncIterator[Suite]:
    """Setup: configs[0] and [1] and the layer by POST+PUT; manifest[0] by tag, [1] by digest."""
    for blob in (suite.configs[0], suite.configs[1], suite.layer):
        started = await client.post(f"/v2/{NAME}/blobs/uploads/")
        assert started.status_code == 202
        response = await client.put(
            started.headers["Location"],
            params={"digest": blob.digest},
            content=blob.content,
            headers={"Content-Type": OCTET, "Content-Length": blob.length},
        )
        assert 200 <= response.status_code < 300, response.text
    if suite.algorithm != "sha256":
        # A tag push names no digest, so the registry uses the canonical algorithm for it;
        # the sha512 data set is pushed by its own digest first.
        response = await client.put(
            f"/v2/{NAME}/manifests/{suite.manifests[0].digest}",
            content=suite.manifests[0].content,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert response.status_code == 201, response.text
    for reference, manifest in ((TEST_TAG, suite.manifests[0]), (None, suite.manifests[1])):
        response = await client.put(
            f"/v2/{NAME}/manifests/{reference or manifest.digest}",
            content=manifest.content,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert 200 <= response.status_code < 300, response.text
    yield suite


# -- Pull blobs ---------------------------------------------------------------------------------


async def test_head_nonexistent_blob_is_404(client: httpx.AsyncClient, pulled: Suite) -> None:
    response = await client.head(f"/v2/{NAME}/blobs/{pulled.dummy_digest}")
    assert response.status_code == 404
    assert response.content == b""


async def test_head_existing_blob_is_200(client: httpx.AsyncClient, pulled: Suite) -> None:
    config = pulled.configs[0]
    response = await client.head(f"/v2/{NAME}/blobs/{config.digest}")
    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == config.digest
    assert response.headers["Content-Length"] == config.length
    assert response.content == b""


async def test_get_nonexistent_blob_is_404(client: httpx.AsyncClient, pulled: Suite) -> None:
    response = await client.get(f"/v2/{NAME}/blobs/{pulled.dummy_digest}")
    assert_error(response, 404, "BLOB_UNKNOWN")


async def test_get_existing_blob_is_200(client: httpx.AsyncClient, pulled: Suite) -> None:
    config = pulled.configs[0]
    response = await client.get(f"/v2/{NAME}/blobs/{config.digest}")
    assert response.status_code == 200
    assert response.content == config.content
    assert response.headers["Docker-Content-Digest"] == config.digest
    assert digest_of(response.content, pulled.algorithm) == config.digest


# -- Pull manifests -----------------------------------------------------------------------------


async def test_head_nonexistent_manifest_is_404(client: httpx.AsyncClient, pulled: Suite) -> None:
    response = await client.head(f"/v2/{NAME}/manifests/{NONEXISTENT_MANIFEST}")
    assert response.status_code == 404
    assert response.content == b""


@pytest.mark.parametrize("index", [0, 1])
async def test_head_manifest_by_digest_is_200(
    client: httpx.AsyncClient, pulled: Suite, index: int
) -> None:
    manifest = pulled.manifests[index]
    response = await client.head(f"/v2/{NAME}/manifests/{manifest.digest}", headers=ACCEPT)
    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == manifest.digest
    assert response.headers["Content-Type"] == OCI_MANIFEST
    assert response.headers["Content-Length"] == manifest.length
    assert response.content == b""


async def test_head_manifest_by_tag_is_200(client: httpx.AsyncClient, pulled: Suite) -> None:
    manifest = pulled.manifests[0]
    response = await client.head(f"/v2/{NAME}/manifests/{TEST_TAG}", headers=ACCEPT)
    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == digest_of(manifest.content)
    assert response.headers["Content-Length"] == manifest.length


async def test_get_nonexistent_manifest_is_404(client: httpx.AsyncClient, pulled: Suite) -> None:
    response = await client.get(f"/v2/{NAME}/manifests/{NONEXISTENT_MANIFEST}")
    assert_error(response, 404, "MANIFEST_UNKNOWN")


@pytest.mark.parametrize("index", [0, 1])
async def test_get_manifest_by_digest_is_200(
    client: httpx.AsyncClient, pulled: Suite, index: int
) -> None:
    manifest = pulled.manifests[index]
    response = await client.get(f"/v2/{NAME}/manifests/{manifest.digest}", headers=ACCEPT)
    assert response.status_code == 200
    assert response.content == manifest.content
    assert response.headers["Content-Type"] == OCI_MANIFEST
    assert response.headers["Docker-Content-Digest"] == manifest.digest


async def test_get_manifest_by_tag_is_200(client: httpx.AsyncClient, pulled: Suite) -> None:
    manifest = pulled.manifests[0]
    response = await client.get(f"/v2/{NAME}/manifests/{TEST_TAG}", headers=ACCEPT)
    assert response.status_code == 200
    assert response.content == manifest.content
    assert response.headers["Content-Type"] == OCI_MANIFEST
    assert response.headers["Docker-Content-Digest"] == digest_of(manifest.content)


# -- Error codes --------------------------------------------------------------------------------


async def test_400_body_is_oci_error_json(client: httpx.AsyncClient, pulled: Suite) -> None:
    response = await client.request(
        "GET",
        f"/v2/{NAME}/manifests/sha256:totallywrong",
        content=INVALID_MANIFEST,
        headers={"Content-Type": OCI_MANIFEST},
    )
    error = assert_error(response, 400, "DIGEST_INVALID")
    assert error["code"] in OCI_ERROR_CODES


# -- Teardown -----------------------------------------------------------------------------------


async def test_teardown(client: httpx.AsyncClient, pulled: Suite) -> None:
    """Manifests first (deleteManifestBeforeBlobs defaults to true), then the blobs."""
    for manifest in pulled.manifests[:2]:
        response = await client.delete(f"/v2/{NAME}/manifests/{manifest.digest}")
        assert response.status_code == 202
    for blob in (pulled.configs[0], pulled.configs[1], pulled.layer):
        response = await client.delete(f"/v2/{NAME}/blobs/{blob.digest}")
        assert response.status_code == 202
        assert (await client.get(f"/v2/{NAME}/blobs/{blob.digest}")).status_code == 404
    for manifest in pulled.manifests[:2]:
        response = await client.get(f"/v2/{NAME}/manifests/{manifest.digest}")
        assert_error(response, 404, "MANIFEST_UNKNOWN")
