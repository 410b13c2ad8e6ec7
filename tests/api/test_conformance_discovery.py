"""Port of the conformance suite's Content Discovery workflow (conformance/03_discovery_test.go).

Setup (``discovered``): configs[2] and the layer; manifests[2] under four tags; then the referrers
set-up in the suite's order: the empty JSON blob, reference blob A, artifacts A (config-typed and
layer-typed) and the index artifact, all pushed *before* their subject manifests[4]; then
manifests[4] itself, reference blob B and artifacts B; and artifact C whose subject (manifests[3])
is never pushed. Each artifact push must answer ``OCI-Subject``. Runs for sha256 and sha512.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from .conformance import (
    ALGORITHMS,
    ANNOTATION,
    ARTIFACT_TYPE_A,
    EMPTY_JSON_SHA256,
    TEST_TAG,
    Blob,
    Suite,
)
from .oci import OCI_INDEX, OCI_MANIFEST, OCTET, assert_error, digest_of

NAME = "conformance/discovery"
NUM_TAGS = 4


@pytest.fixture(params=ALGORITHMS)
def suite(request: pytest.FixtureRequest) -> Suite:
    return Suite(request.param)


async def _upload(client: httpx.AsyncClient, blob: Blob) -> None:
    started = await client.post(f"/v2/{NAME}/blobs/uploads/")
    response = await client.put(
        started.headers["Location"],
        params={"digest": blob.digest},
        content=blob.content,
        headers={"Content-Type": OCTET, "Content-Length": blob.length},
    )
    assert response.status_code == 201, response.text


async def _put(
    client: httpx.AsyncClient, reference: str, blob: Blob, media_type: str = OCI_MANIFEST
) -> httpx.Response:
    response = await client.put(
        f"/v2/{NAME}/manifests/{reference}",
        content=blob.content,
        headers={"Content-Type": media_type},
    )
    assert response.status_code == 201, response.text
    return response


async def _put_artifact(
    client: httpx.AsyncClient, blob: Blob, subject: Blob, media_type: str = OCI_MANIFEST
) -> None:
    response = await _put(client, blob.digest, blob, media_type)
    assert response.headers["OCI-Subject"] == subject.digest
    assert response.headers["Docker-Content-Digest"] == blob.digest


@pytest.fixture
async def discovered(client: httpx.AsyncClient, suite: Suite) -> AsyncIterator[Suite]:
    await _upload(client, suite.configs[2])
    await _upload(client, suite.layer)
    for i in range(NUM_TAGS):
        await _put(client, f"test{i}", suite.manifests[2])

    # References setup
    if suite.algorithm == "sha256":
        assert suite.empty_json.digest == EMPTY_JSON_SHA256
    await _upload(client, suite.empty_json)
    await _upload(client, suite.ref_blob_a)
    subject = suite.manifests[4]
    await _put_artifact(client, suite.refs_a_config, subject)
    await _put_artifact(client, suite.refs_a_layer, subject)
    await _put_artifact(client, suite.refs_index, subject, OCI_INDEX)
    await _upload(client, suite.configs[4])
    await _upload(client, suite.layer)
    await _put(client, TEST_TAG if suite.algorithm == "sha256" else subject.digest, subject)
    await _upload(client, suite.ref_blob_b)
    await _put_artifact(client, suite.refs_b_config, subject)
    await _put_artifact(client, suite.refs_b_layer, subject)
    # Populate registry with test references manifest to a non-existent subject
    await _put_artifact(client, suite.refs_c_layer, suite.manifests[3])
    yield suite


# -- listing tags -------------------------------------------------------------------------------


async def _tags(client: httpx.AsyncClient, **params: str) -> httpx.Response:
    response = await client.get(f"/v2/{NAME}/tags/list", params=params)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["name"] == NAME
    return response


async def test_list_tags_is_200(client: httpx.AsyncClient, discovered: Suite) -> None:
    response = await _tags(client)
    expected = [f"test{i}" for i in range(NUM_TAGS)]
    if discovered.algorithm == "sha256":
        expected.append(TEST_TAG)
    assert response.json()["tags"] == sorted(expected)
    assert "Link" not in response.headers


async def test_tags_limited_by_n(client: httpx.AsyncClient, discovered: Suite) -> None:
    num_tags = len((await _tags(client)).json()["tags"])
    wanted = num_tags // 2
    response = await _tags(client, n=str(wanted))
    tags = response.json()["tags"]
    assert len(tags) == wanted
    assert (
        response.headers["Link"] == f'</v2/{NAME}/tags/list?n={wanted}&last={tags[-1]}>; rel="next"'
    )


async def test_tags_start_set_by_last(client: httpx.AsyncClient, discovered: Suite) -> None:
    all_tags = (await _tags(client)).json()["tags"]
    wanted = len(all_tags) // 2
    first = (await _tags(client, n=str(wanted))).json()["tags"]
    response = await _tags(client, n=str(wanted), last=first[wanted - 1])
    page = response.json()["tags"]
    assert len(page) <= wanted
    assert page == all_tags[wanted : wanted * 2]
    assert first[wanted - 1] not in page


# -- listing referrers --------------------------------------------------------------------------


async def _referrers(
    client: httpx.AsyncClient, digest: str, **params: str
) -> tuple[httpx.Response, list[dict[str, object]]]:
    response = await client.get(f"/v2/{NAME}/referrers/{digest}", params=params)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == OCI_INDEX
    body = response.json()
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == OCI_INDEX
    manifests: list[dict[str, object]] = body["manifests"]
    return response, manifests


async def test_referrers_of_nonexistent_blob_is_empty(
    client: httpx.AsyncClient, discovered: Suite
) -> None:
    response, manifests = await _referrers(client, discovered.dummy_digest)
    assert manifests == []
    assert "OCI-Filters-Applied" not in response.headers


async def test_referrers_of_existing_manifest(client: httpx.AsyncClient, discovered: Suite) -> None:
    _, manifests = await _referrers(client, discovered.manifests[4].digest)
    assert len(manifests) == 5
    assert manifests[0]["digest"] != manifests[1]["digest"]
    expected = {
        discovered.refs_a_config.digest: (OCI_MANIFEST, ARTIFACT_TYPE_A, discovered.refs_a_config),
        discovered.refs_a_layer.digest: (OCI_MANIFEST, ARTIFACT_TYPE_A, discovered.refs_a_layer),
        discovered.refs_index.digest: (
            OCI_INDEX,
            "application/vnd.food.stand",
            discovered.refs_index,
        ),
        discovered.refs_b_config.digest: (
            OCI_MANIFEST,
            "application/vnd.nba.strawberry.jam.croissant",
            discovered.refs_b_config,
        ),
        discovered.refs_b_layer.digest: (
            OCI_MANIFEST,
            "application/vnd.nba.strawberry.jam.croissant",
            discovered.refs_b_layer,
        ),
    }
    assert {str(m["digest"]) for m in manifests} == set(expected)
    for entry in manifests:
        media_type, artifact_type, blob = expected[str(entry["digest"])]
        assert entry["mediaType"] == media_type
        assert entry["artifactType"] == artifact_type
        assert entry["size"] == len(blob.content)
        annotations = entry["annotations"]
        assert isinstance(annotations, dict) and len(annotations) == 1
        assert annotations[ANNOTATION] == discovered.annotations[str(entry["digest"])]


async def test_referrers_with_artifact_type_filter(
    client: httpx.AsyncClient, discovered: Suite
) -> None:
    response, manifests = await _referrers(
        client, discovered.manifests[4].digest, artifactType=ARTIFACT_TYPE_A
    )
    assert response.headers["OCI-Filters-Applied"] == "artifactType"
    assert len(manifests) == 2
    assert {m["digest"] for m in manifests} == {
        discovered.refs_a_config.digest,
        discovered.refs_a_layer.digest,
    }
    for entry in manifests:
        annotations = entry["annotations"]
        assert isinstance(annotations, dict) and len(annotations) == 1
        assert annotations[ANNOTATION] == discovered.annotations[str(entry["digest"])]


async def test_referrers_of_missing_manifest(client: httpx.AsyncClient, discovered: Suite) -> None:
    missing = discovered.manifests[3].digest
    assert (await client.head(f"/v2/{NAME}/manifests/{missing}")).status_code == 404
    _, manifests = await _referrers(client, missing)
    assert len(manifests) == 1
    assert manifests[0]["digest"] == discovered.refs_c_layer.digest
    assert "annotations" not in manifests[0]


# -- Teardown -----------------------------------------------------------------------------------


async def test_teardown(client: httpx.AsyncClient, discovered: Suite) -> None:
    tagged_subject = digest_of(discovered.manifests[4].content)
    references = [
        discovered.refs_index.digest,
        digest_of(discovered.manifests[2].content),
        discovered.manifests[4].digest,
        discovered.refs_a_config.digest,
        discovered.refs_a_layer.digest,
        TEST_TAG,
        discovered.refs_b_config.digest,
        discovered.refs_b_layer.digest,
        discovered.refs_c_layer.digest,
    ]
    for reference in references:
        response = await client.delete(f"/v2/{NAME}/manifests/{reference}")
        # 404 is allowed: the tag went with its manifest (sha256), or was never pushed (sha512)
        assert response.status_code in (202, 404), (reference, response.text)
    assert (await client.get(f"/v2/{NAME}/manifests/{tagged_subject}")).status_code == 404
    for blob in (
        discovered.configs[2],
        discovered.layer,
        discovered.configs[4],
        discovered.ref_blob_a,
        discovered.ref_blob_b,
        discovered.empty_json,
    ):
        response = await client.delete(f"/v2/{NAME}/blobs/{blob.digest}")
        assert response.status_code == 202
    _, manifests = await _referrers(client, discovered.manifests[4].digest)
    assert manifests == []
    listed = await client.get(f"/v2/{NAME}/tags/list")
    assert listed.json()["tags"] == []
    gone = await client.get(f"/v2/{NAME}/manifests/{discovered.refs_index.digest}")
    assert_error(gone, 404, "MANIFEST_UNKNOWN")
