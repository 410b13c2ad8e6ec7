"""Port of the conformance suite's Content Management workflow (conformance/04_management_test.go).

Setup (``managed``): configs[3] and the layer, manifests[3] under ``tagtest0``, and the tag count
before anything is deleted. Berth allows tag, manifest and blob deletion, so where the suite
accepts 400/405 (deletion disallowed) these tests pin 202. Runs for sha256 and sha512.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from .conformance import ALGORITHMS, TEST_TAG, Suite
from .oci import OCI_MANIFEST, OCTET, assert_error, digest_of

NAME = "conformance/management"


@pytest.fixture(params=ALGORITHMS)
def suite(request: pytest.FixtureRequest) -> Suite:
    return Suite(request.param)


async def _tags(client: httpx.AsyncClient) -> list[str]:
    response = await client.get(f"/v2/{NAME}/tags/list")
    assert response.status_code == 200
    tags: list[str] = response.json()["tags"]
    return tags


@pytest.fixture
async def managed(client: httpx.AsyncClient, suite: Suite) -> AsyncIterator[tuple[Suite, int]]:
    for blob in (suite.configs[3], suite.layer):
        started = await client.post(f"/v2/{NAME}/blobs/uploads/")
        response = await client.put(
            started.headers["Location"],
            params={"digest": blob.digest},
            content=blob.content,
            headers={"Content-Type": OCTET, "Content-Length": blob.length},
        )
        assert response.status_code == 201
    manifest = suite.manifests[3]
    references = [TEST_TAG] if suite.algorithm == "sha256" else [manifest.digest, TEST_TAG]
    for reference in references:
        response = await client.put(
            f"/v2/{NAME}/manifests/{reference}",
            content=manifest.content,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert response.status_code == 201
    # Check how many tags there are before anything gets deleted
    yield suite, len(await _tags(client))


async def test_manifest_delete(client: httpx.AsyncClient, managed: tuple[Suite, int]) -> None:
    suite, num_tags = managed
    manifest = suite.manifests[3]

    # DELETE request to manifest tag should return 202
    response = await client.delete(f"/v2/{NAME}/manifests/{TEST_TAG}")
    assert response.status_code == 202
    assert response.content == b""
    tagged = await client.get(f"/v2/{NAME}/manifests/{TEST_TAG}")
    assert_error(tagged, 404, "MANIFEST_UNKNOWN")

    # DELETE request to manifest (digest) should yield 202 response unless already deleted
    response = await client.delete(f"/v2/{NAME}/manifests/{manifest.digest}")
    assert response.status_code == 202

    # GET request to deleted manifest URL should yield 404 response
    response = await client.get(f"/v2/{NAME}/manifests/{manifest.digest}")
    assert_error(response, 404, "MANIFEST_UNKNOWN")

    # GET request to tags list should reflect manifest deletion
    tags = await _tags(client)
    assert len(tags) < num_tags
    assert TEST_TAG not in tags
    if suite.algorithm != "sha256":
        # the tag's own (sha256) copy is still there by digest
        still = await client.get(f"/v2/{NAME}/manifests/{digest_of(manifest.content)}")
        assert still.status_code == 200


async def test_blob_delete(client: httpx.AsyncClient, managed: tuple[Suite, int]) -> None:
    suite, _ = managed
    # DELETE request to blob URL should yield 202 response (config blob, then layer blob)
    for blob in (suite.configs[3], suite.layer):
        response = await client.delete(f"/v2/{NAME}/blobs/{blob.digest}")
        assert response.status_code == 202
        assert response.content == b""

    # GET request to deleted blob URL should yield 404 response
    response = await client.get(f"/v2/{NAME}/blobs/{suite.configs[3].digest}")
    assert_error(response, 404, "BLOB_UNKNOWN")
    head = await client.head(f"/v2/{NAME}/blobs/{suite.layer.digest}")
    assert head.status_code == 404
