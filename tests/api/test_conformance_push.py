"""Port of the conformance suite's Push workflow (conformance/02_push_test.go), for sha256 and sha512.

Contexts map to sections below: Blob Upload Streamed, Blob Upload Monolithic, Blob Upload Chunked,
Cross-Repository Blob Mount, Manifest Upload, Teardown. Go specs that hand state to the next one
(an upload session, the last response) are steps of one test here. The automatic cross-mount specs
run as the "disabled" variant, which is what Berth does (no mount without ``from``).
"""

from __future__ import annotations

import httpx
import pytest

from .conformance import ALGORITHMS, EMPTY_LAYER_TAG, NONEXISTENT_MANIFEST, Suite
from .oci import OCI_MANIFEST, OCTET, assert_error, digest_of, push_blob

NAME = "conformance/push"
CROSSMOUNT = "conformance-crossmount"


@pytest.fixture(params=ALGORITHMS)
def suite(request: pytest.FixtureRequest) -> Suite:
    return Suite(request.param)


def _relative(response: httpx.Response) -> str:
    location = response.headers["Location"]
    assert location.startswith("/v2/"), location
    return location


# -- Blob Upload Streamed -----------------------------------------------------------------------


async def test_streamed_patch_then_put(client: httpx.AsyncClient, suite: Suite) -> None:
    started = await client.post(f"/v2/{NAME}/blobs/uploads/")
    assert started.status_code == 202
    assert started.headers["Location"]

    # PATCH request with blob in body should yield 202 response
    patched = await client.patch(
        _relative(started), content=suite.blob_a.content, headers={"Content-Type": OCTET}
    )
    assert patched.status_code == 202
    assert patched.headers["Range"] == f"0-{len(suite.blob_a.content) - 1}"
    assert patched.headers["Location"] == started.headers["Location"]

    # PUT request to session URL with digest should yield 201 response
    done = await client.put(
        _relative(patched),
        params={"digest": suite.blob_a.digest},
        headers={"Content-Type": OCTET, "Content-Length": "0"},
    )
    assert done.status_code == 201
    assert done.headers["Location"] == f"/v2/{NAME}/blobs/{suite.blob_a.digest}"
    assert done.headers["Docker-Content-Digest"] == suite.blob_a.digest
    fetched = await client.get(done.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.content == suite.blob_a.content


# -- Blob Upload Monolithic ---------------------------------------------------------------------


async def test_get_nonexistent_blob_is_404(client: httpx.AsyncClient, suite: Suite) -> None:
    await push_blob(client, NAME, suite.blob_a.content, suite.algorithm)
    response = await client.get(f"/v2/{NAME}/blobs/{suite.dummy_digest}")
    assert_error(response, 404, "BLOB_UNKNOWN")


async def test_monolithic_post_with_digest(client: httpx.AsyncClient, suite: Suite) -> None:
    config = suite.configs[1]
    # POST request with digest and blob should yield a 201 or 202
    response = await client.post(
        f"/v2/{NAME}/blobs/uploads/",
        params={"digest": config.digest},
        content=config.content,
        headers={"Content-Type": OCTET, "Content-Length": config.length},
    )
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v2/{NAME}/blobs/{config.digest}"
    assert response.headers["Docker-Content-Digest"] == config.digest

    # GET request to blob URL from prior request should yield 200 (it was a 201)
    fetched = await client.get(f"/v2/{NAME}/blobs/{config.digest}")
    assert fetched.status_code == 200
    assert fetched.content == config.content


async def test_monolithic_post_then_put(client: httpx.AsyncClient, suite: Suite) -> None:
    config = suite.configs[1]
    # POST request should yield a session ID
    started = await client.post(f"/v2/{NAME}/blobs/uploads/")
    assert started.status_code == 202
    assert started.headers["Location"].startswith(f"/v2/{NAME}/blobs/uploads/")
    assert started.headers["Docker-Upload-UUID"]

    # PUT upload of a blob should yield a 201 Response
    done = await client.put(
        _relative(started),
        params={"digest": config.digest},
        content=config.content,
        headers={"Content-Type": OCTET, "Content-Length": config.length},
    )
    assert done.status_code == 201
    assert done.headers["Location"] == f"/v2/{NAME}/blobs/{config.digest}"

    # GET request to existing blob should yield 200 response
    fetched = await client.get(f"/v2/{NAME}/blobs/{config.digest}")
    assert fetched.status_code == 200
    assert fetched.content == config.content


async def test_monolithic_layer_put(client: httpx.AsyncClient, suite: Suite) -> None:
    layer = suite.layer
    # PUT upload of a layer blob should yield a 201 Response
    started = await client.post(f"/v2/{NAME}/blobs/uploads/")
    done = await client.put(
        _relative(started),
        params={"digest": layer.digest},
        content=layer.content,
        headers={"Content-Type": OCTET, "Content-Length": layer.length},
    )
    assert done.status_code == 201
    assert done.headers["Location"]

    # GET request to existing layer should yield 200 response
    fetched = await client.get(f"/v2/{NAME}/blobs/{layer.digest}")
    assert fetched.status_code == 200
    assert fetched.content == layer.content


# -- Blob Upload Chunked ------------------------------------------------------------------------


async def test_out_of_order_chunk_is_416(client: httpx.AsyncClient, suite: Suite) -> None:
    started = await client.post(f"/v2/{NAME}/blobs/uploads/", headers={"Content-Length": "0"})
    assert started.headers["Location"]
    response = await client.patch(
        _relative(started),
        content=suite.chunk_2,
        headers={
            "Content-Type": OCTET,
            "Content-Length": str(len(suite.chunk_2)),
            "Content-Range": suite.chunk_2_range,
        },
    )
    assert_error(response, 416, "BLOB_UPLOAD_INVALID")
    assert response.headers["Location"] == started.headers["Location"]
    assert response.headers["Range"] == "0-0"


async def test_chunked_upload(client: httpx.AsyncClient, suite: Suite) -> None:
    def chunk_headers(chunk: bytes, content_range: str) -> dict[str, str]:
        return {
            "Content-Type": OCTET,
            "Content-Length": str(len(chunk)),
            "Content-Range": content_range,
        }

    # PATCH request with first chunk should return 202
    started = await client.post(f"/v2/{NAME}/blobs/uploads/", headers={"Content-Length": "0"})
    session = _relative(started)
    first = await client.patch(
        session, content=suite.chunk_1, headers=chunk_headers(suite.chunk_1, suite.chunk_1_range)
    )
    assert first.status_code == 202
    assert first.headers["Range"] == suite.chunk_1_range
    assert first.headers["Location"] == session

    # Retry previous blob chunk should return 416
    retry = await client.patch(
        session, content=suite.chunk_1, headers=chunk_headers(suite.chunk_1, suite.chunk_1_range)
    )
    assert_error(retry, 416, "BLOB_UPLOAD_INVALID")
    assert retry.headers["Range"] == suite.chunk_1_range

    # Get on stale blob upload should return 204 with a range and location
    status = await client.get(session)
    assert status.status_code == 204
    assert status.headers["Location"] == session
    assert status.headers["Range"] == suite.chunk_1_range

    # PATCH request with second chunk should return 202
    second = await client.patch(
        _relative(status),
        content=suite.chunk_2,
        headers=chunk_headers(suite.chunk_2, suite.chunk_2_range),
    )
    assert second.status_code == 202
    assert second.headers["Location"]
    assert second.headers["Range"] == f"0-{len(suite.blob_b.content) - 1}"

    # PUT request with digest should return 201
    done = await client.put(
        _relative(second),
        params={"digest": suite.blob_b.digest},
        headers={"Content-Type": OCTET, "Content-Length": "0"},
    )
    assert done.status_code == 201
    assert done.headers["Location"] == f"/v2/{NAME}/blobs/{suite.blob_b.digest}"
    fetched = await client.get(done.headers["Location"])
    assert fetched.content == suite.blob_b.content


# -- Cross-Repository Blob Mount ----------------------------------------------------------------


async def test_mount_without_from_yields_session(client: httpx.AsyncClient, suite: Suite) -> None:
    response = await client.post(
        f"/v2/{CROSSMOUNT}/blobs/uploads/", params={"mount": suite.dummy_digest}
    )
    assert response.status_code == 202
    assert response.headers["Location"].startswith(f"/v2/{CROSSMOUNT}/blobs/uploads/")


async def test_mount_from_another_repository(client: httpx.AsyncClient, suite: Suite) -> None:
    await push_blob(client, NAME, suite.blob_a.content, suite.algorithm)
    # POST request to mount another repository's blob should return 201 or 202
    mounted = await client.post(
        f"/v2/{CROSSMOUNT}/blobs/uploads/",
        params={"mount": suite.blob_a.digest, "from": NAME},
    )
    assert mounted.status_code == 201
    assert mounted.headers["Docker-Content-Digest"] == suite.blob_a.digest

    # GET request to test digest within cross-mount namespace should return 200
    assert _relative(mounted) == f"/v2/{CROSSMOUNT}/blobs/{suite.blob_a.digest}"
    fetched = await client.get(_relative(mounted))
    assert fetched.status_code == 200
    assert fetched.content == suite.blob_a.content

    # Cross-mounting without from (automatic content discovery disabled) should return a 202
    again = await client.post(
        f"/v2/{CROSSMOUNT}/blobs/uploads/", params={"mount": suite.blob_a.digest}
    )
    assert again.status_code == 202
    assert again.headers["Location"].startswith(f"/v2/{CROSSMOUNT}/blobs/uploads/")


async def test_mount_of_nonexistent_blob_yields_session(
    client: httpx.AsyncClient, suite: Suite
) -> None:
    await push_blob(client, NAME, suite.blob_a.content, suite.algorithm)
    response = await client.post(
        f"/v2/{CROSSMOUNT}/blobs/uploads/",
        params={"mount": suite.dummy_digest, "from": NAME},
    )
    assert response.status_code == 202
    assert _relative(response).startswith(f"/v2/{CROSSMOUNT}/blobs/uploads/")


# -- Manifest Upload ----------------------------------------------------------------------------


async def _push_manifest_blobs(client: httpx.AsyncClient, suite: Suite) -> None:
    await push_blob(client, NAME, suite.configs[1].content, suite.algorithm)
    await push_blob(client, NAME, suite.layer.content, suite.algorithm)


async def test_get_nonexistent_manifest_is_404(client: httpx.AsyncClient, suite: Suite) -> None:
    await _push_manifest_blobs(client, suite)
    response = await client.get(f"/v2/{NAME}/manifests/{NONEXISTENT_MANIFEST}")
    assert_error(response, 404, "MANIFEST_UNKNOWN")


async def test_put_manifest_upload(client: httpx.AsyncClient, suite: Suite) -> None:
    await _push_manifest_blobs(client, suite)
    manifest = suite.manifests[1]
    if suite.algorithm != "sha256":
        response = await client.put(
            f"/v2/{NAME}/manifests/{manifest.digest}",
            content=manifest.content,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert response.status_code == 201
        assert response.headers["Docker-Content-Digest"] == manifest.digest
    # PUT should accept a manifest upload (four tags)
    for i in range(4):
        response = await client.put(
            f"/v2/{NAME}/manifests/test{i}",
            content=manifest.content,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert response.status_code == 201
        tagged = digest_of(manifest.content)
        assert response.headers["Location"] == f"/v2/{NAME}/manifests/{tagged}"
        assert response.headers["Docker-Content-Digest"] == tagged

    # GET request to manifest URL (digest) should yield 200 response
    fetched = await client.get(
        f"/v2/{NAME}/manifests/{manifest.digest}", headers={"Accept": OCI_MANIFEST}
    )
    assert fetched.status_code == 200
    assert fetched.content == manifest.content
    assert fetched.headers["Docker-Content-Digest"] == manifest.digest


async def test_manifest_with_no_layers(client: httpx.AsyncClient, suite: Suite) -> None:
    await _push_manifest_blobs(client, suite)
    manifest = suite.empty_layer_manifest
    reference = EMPTY_LAYER_TAG if suite.algorithm == "sha256" else manifest.digest
    response = await client.put(
        f"/v2/{NAME}/manifests/{reference}",
        content=manifest.content,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v2/{NAME}/manifests/{manifest.digest}"
    fetched = await client.get(response.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.content == manifest.content
    assert fetched.headers["Content-Type"] == OCI_MANIFEST


# -- Teardown -----------------------------------------------------------------------------------


async def test_teardown(client: httpx.AsyncClient, suite: Suite) -> None:
    await _push_manifest_blobs(client, suite)
    for manifest in (suite.manifests[1], suite.empty_layer_manifest):
        await client.put(
            f"/v2/{NAME}/manifests/{manifest.digest}",
            content=manifest.content,
            headers={"Content-Type": OCI_MANIFEST},
        )
    # Delete manifest created in tests (manifests before blobs, the suite's default)
    for manifest in (suite.manifests[1], suite.empty_layer_manifest):
        response = await client.delete(f"/v2/{NAME}/manifests/{manifest.digest}")
        assert response.status_code == 202
    # Delete config blob and layer blob created in tests
    for blob in (suite.configs[1], suite.layer):
        response = await client.delete(f"/v2/{NAME}/blobs/{blob.digest}")
        assert response.status_code == 202
        again = await client.delete(f"/v2/{NAME}/blobs/{blob.digest}")
        assert_error(again, 404, "BLOB_UNKNOWN")
