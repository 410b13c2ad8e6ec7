"""Whole /v2 flows as clients drive them: uploads, mounts, manifests of every type, tags, deletes,
pagination and referrers. Each step checks status, headers and body."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from .oci import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    OCTET,
    assert_error,
    descriptor,
    digest_of,
    image_manifest,
    index_manifest,
    pretty,
    push_blob,
    push_manifest,
)

NAME = "flows/app"
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
LAYER = bytes(range(256)) * 64
UUID_RE = re.compile(r"^[0-9a-f-]{36}$")


def _location(response: httpx.Response) -> str:
    location: str = response.headers["Location"]
    return location


def _assert_created(response: httpx.Response, name: str, data: bytes, algorithm: str) -> None:
    digest = digest_of(data, algorithm)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/v2/{name}/blobs/{digest}"
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.content == b""


async def _assert_blob(client: httpx.AsyncClient, name: str, data: bytes, algorithm: str) -> None:
    digest = digest_of(data, algorithm)
    head = await client.head(f"/v2/{name}/blobs/{digest}")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(data))
    assert head.headers["Docker-Content-Digest"] == digest
    got = await client.get(f"/v2/{name}/blobs/{digest}")
    assert got.status_code == 200
    assert got.headers["Content-Type"] == OCTET
    assert got.headers["Docker-Content-Digest"] == digest
    assert got.content == data


async def test_base_endpoint(client: httpx.AsyncClient) -> None:
    response = await client.get("/v2/")
    assert response.status_code == 200
    assert response.json() == {}
    head = await client.head("/v2/")
    assert head.status_code == 200 and head.content == b""


# -- uploads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
async def test_monolithic_post(client: httpx.AsyncClient, algorithm: str) -> None:
    response = await client.post(
        f"/v2/{NAME}/blobs/uploads/",
        params={"digest": digest_of(LAYER, algorithm)},
        content=LAYER,
        headers={"Content-Type": OCTET},
    )
    _assert_created(response, NAME, LAYER, algorithm)
    await _assert_blob(client, NAME, LAYER, algorithm)


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
async def test_post_then_put(client: httpx.AsyncClient, algorithm: str) -> None:
    started = await client.post(f"/v2/{NAME}/blobs/uploads/")
    assert started.status_code == 202
    assert started.headers["Range"] == "0-0"
    assert started.headers["Content-Length"] == "0"
    upload_id = started.headers["Docker-Upload-UUID"]
    assert UUID_RE.match(upload_id)
    assert _location(started) == f"/v2/{NAME}/blobs/uploads/{upload_id}"
    done = await client.put(
        _location(started), params={"digest": digest_of(LAYER, algorithm)}, content=LAYER
    )
    _assert_created(done, NAME, LAYER, algorithm)
    await _assert_blob(client, NAME, LAYER, algorithm)
    assert_error(await client.get(_location(started)), 404, "BLOB_UPLOAD_UNKNOWN")


async def test_empty_blob(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"/v2/{NAME}/blobs/uploads/", params={"digest": digest_of(b"")}, content=b""
    )
    _assert_created(response, NAME, b"", "sha256")
    head = await client.head(f"/v2/{NAME}/blobs/{digest_of(b'')}")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == "0"
    got = await client.get(f"/v2/{NAME}/blobs/{digest_of(b'')}")
    assert got.status_code == 200 and got.content == b""


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("with_range", [True, False])
async def test_chunked(client: httpx.AsyncClient, algorithm: str, with_range: bool) -> None:
    started = await client.post(f"/v2/{NAME}/blobs/uploads/")
    session = _location(started)
    pieces = [LAYER[:1000], LAYER[1000:9000], LAYER[9000:]]
    offset = 0
    for piece in pieces[:2]:
        headers = {"Content-Type": OCTET}
        if with_range:
            headers["Content-Range"] = f"{offset}-{offset + len(piece) - 1}"
        patched = await client.patch(session, content=piece, headers=headers)
        offset += len(piece)
        assert patched.status_code == 202
        assert patched.headers["Range"] == f"0-{offset - 1}"
        assert patched.headers["Location"] == session
        assert patched.headers["Docker-Upload-UUID"] == started.headers["Docker-Upload-UUID"]
        assert patched.content == b""
    # the last piece travels with the completing PUT
    headers = {"Content-Range": f"{offset}-{len(LAYER) - 1}"} if with_range else {}
    done = await client.put(
        session, params={"digest": digest_of(LAYER, algorithm)}, content=pieces[2], headers=headers
    )
    _assert_created(done, NAME, LAYER, algorithm)
    await _assert_blob(client, NAME, LAYER, algorithm)


async def test_upload_status(client: httpx.AsyncClient) -> None:
    started = await client.post(f"/v2/{NAME}/blobs/uploads/")
    session = _location(started)
    status = await client.get(session)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-0"
    assert status.headers["Docker-Upload-UUID"] == started.headers["Docker-Upload-UUID"]
    assert status.headers["Location"] == session
    await client.patch(session, content=b"0123456789")
    status = await client.get(session)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-9"
    assert status.content == b""


async def test_cancel_upload(client: httpx.AsyncClient) -> None:
    started = await client.post(f"/v2/{NAME}/blobs/uploads/")
    session = _location(started)
    await client.patch(session, content=b"abc")
    cancelled = await client.delete(session)
    assert cancelled.status_code == 204
    assert cancelled.content == b""
    assert_error(await client.get(session), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(await client.delete(session), 404, "BLOB_UPLOAD_UNKNOWN")
    response = await client.put(session, params={"digest": digest_of(b"abc")})
    assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")
    assert (await client.head(f"/v2/{NAME}/blobs/{digest_of(b'abc')}")).status_code == 404


async def test_range_request(client: httpx.AsyncClient) -> None:
    digest = await push_blob(client, NAME, LAYER)
    cases = {
        "bytes=0-9": (0, 10),
        "bytes=100-": (100, len(LAYER)),
        "bytes=-16": (len(LAYER) - 16, len(LAYER)),
    }
    for value, (start, end) in cases.items():
        got = await client.get(f"/v2/{NAME}/blobs/{digest}", headers={"Range": value})
        assert got.status_code == 206
        assert got.headers["Content-Range"] == f"bytes {start}-{end - 1}/{len(LAYER)}"
        assert got.headers["Content-Length"] == str(end - start)
        assert got.content == LAYER[start:end]


# -- mounts -------------------------------------------------------------------------------------


async def test_mount_readable_blob(client: httpx.AsyncClient) -> None:
    digest = await push_blob(client, "flows/source", LAYER)
    mounted = await client.post(
        "/v2/flows/target/blobs/uploads/", params={"mount": digest, "from": "flows/source"}
    )
    _assert_created(mounted, "flows/target", LAYER, "sha256")
    await _assert_blob(client, "flows/target", LAYER, "sha256")
    # the target's copy outlives the source's link
    assert (await client.delete(f"/v2/flows/source/blobs/{digest}")).status_code == 202
    await _assert_blob(client, "flows/target", LAYER, "sha256")


@pytest.mark.parametrize("source", ["flows/source", "flows/nowhere", "Bad..Name", ""])
async def test_mount_falls_back_to_session(client: httpx.AsyncClient, source: str) -> None:
    await push_blob(client, "flows/source", CONFIG)
    missing = digest_of(LAYER)
    response = await client.post(
        "/v2/flows/target/blobs/uploads/", params={"mount": missing, "from": source}
    )
    assert response.status_code == 202
    assert _location(response).startswith("/v2/flows/target/blobs/uploads/")
    assert UUID_RE.match(response.headers["Docker-Upload-UUID"])
    # the session works as any other
    done = await client.put(_location(response), params={"digest": missing}, content=LAYER)
    _assert_created(done, "flows/target", LAYER, "sha256")


async def test_mount_with_invalid_digest_falls_back(client: httpx.AsyncClient) -> None:
    await push_blob(client, "flows/source", CONFIG)
    response = await client.post(
        "/v2/flows/target/blobs/uploads/", params={"mount": "sha256:nope", "from": "flows/source"}
    )
    assert response.status_code == 202


# -- manifests ----------------------------------------------------------------------------------


async def _docker_image(client: httpx.AsyncClient, name: str, layer: bytes) -> bytes:
    await push_blob(client, name, CONFIG)
    await push_blob(client, name, layer)
    return image_manifest(
        CONFIG,
        [layer],
        media_type=DOCKER_MANIFEST,
        config_type=DOCKER_CONFIG,
        layer_type=DOCKER_LAYER,
    )


async def _oci_image(client: httpx.AsyncClient, name: str, layer: bytes) -> bytes:
    await push_blob(client, name, CONFIG)
    await push_blob(client, name, layer)
    return image_manifest(CONFIG, [layer])


async def _assert_manifest(
    client: httpx.AsyncClient, name: str, reference: str, body: bytes, media_type: str
) -> None:
    digest = digest_of(body, "sha512" if reference.startswith("sha512:") else "sha256")
    got = await client.get(f"/v2/{name}/manifests/{reference}", headers={"Accept": media_type})
    assert got.status_code == 200
    assert got.content == body
    assert got.headers["Content-Type"] == media_type
    assert got.headers["Docker-Content-Digest"] == digest
    assert got.headers["Content-Length"] == str(len(body))
    head = await client.head(f"/v2/{name}/manifests/{reference}")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Type"] == media_type
    assert head.headers["Docker-Content-Digest"] == digest
    assert head.headers["Content-Length"] == str(len(body))


@pytest.mark.parametrize("kind", ["docker", "oci"])
async def test_image_and_index_by_tag_and_digest(client: httpx.AsyncClient, kind: str) -> None:
    make = _docker_image if kind == "docker" else _oci_image
    image_type = DOCKER_MANIFEST if kind == "docker" else OCI_MANIFEST
    list_type = DOCKER_LIST if kind == "docker" else OCI_INDEX
    amd64 = await make(client, NAME, b"amd64 layer")
    arm64 = await make(client, NAME, b"arm64 layer")
    for body in (amd64, arm64):
        pushed = await push_manifest(client, NAME, digest_of(body), body, image_type)
        assert pushed.headers["Docker-Content-Digest"] == digest_of(body)
        assert pushed.headers["Location"] == f"/v2/{NAME}/manifests/{digest_of(body)}"
        assert "OCI-Subject" not in pushed.headers
    index = index_manifest([amd64, arm64], media_type=list_type, child_type=image_type)
    pushed = await push_manifest(client, NAME, "multi", index, list_type)
    assert pushed.headers["Docker-Content-Digest"] == digest_of(index)
    await push_manifest(client, NAME, "single", amd64, image_type)

    await _assert_manifest(client, NAME, "multi", index, list_type)
    await _assert_manifest(client, NAME, digest_of(index), index, list_type)
    await _assert_manifest(client, NAME, "single", amd64, image_type)
    await _assert_manifest(client, NAME, digest_of(arm64), arm64, image_type)


async def test_manifest_without_media_type_uses_content_type(client: httpx.AsyncClient) -> None:
    await push_blob(client, NAME, CONFIG)
    body = pretty({"schemaVersion": 2, "config": descriptor(OCI_EMPTY, CONFIG), "layers": []})
    await push_manifest(client, NAME, "bare", body, OCI_MANIFEST)
    await _assert_manifest(client, NAME, "bare", body, OCI_MANIFEST)


async def test_repush_is_idempotent(client: httpx.AsyncClient) -> None:
    body = await _oci_image(client, NAME, LAYER)
    first = await push_manifest(client, NAME, "v1", body)
    second = await push_manifest(client, NAME, "v1", body)
    assert first.headers["Docker-Content-Digest"] == second.headers["Docker-Content-Digest"]
    tags = await client.get(f"/v2/{NAME}/tags/list")
    assert tags.json() == {"name": NAME, "tags": ["v1"]}


async def test_tag_moves(client: httpx.AsyncClient) -> None:
    old = await _oci_image(client, NAME, b"old layer")
    new = await _oci_image(client, NAME, b"new layer")
    await push_manifest(client, NAME, "latest", old)
    await push_manifest(client, NAME, "latest", new)
    await _assert_manifest(client, NAME, "latest", new, OCI_MANIFEST)
    # the old manifest stays, untagged
    await _assert_manifest(client, NAME, digest_of(old), old, OCI_MANIFEST)
    tags = await client.get(f"/v2/{NAME}/tags/list")
    assert tags.json()["tags"] == ["latest"]


async def test_delete_by_tag_keeps_manifest(client: httpx.AsyncClient) -> None:
    body = await _oci_image(client, NAME, LAYER)
    await push_manifest(client, NAME, "v1", body)
    await push_manifest(client, NAME, "v2", body)
    deleted = await client.delete(f"/v2/{NAME}/manifests/v1")
    assert deleted.status_code == 202
    assert deleted.content == b""
    assert_error(await client.get(f"/v2/{NAME}/manifests/v1"), 404, "MANIFEST_UNKNOWN")
    await _assert_manifest(client, NAME, digest_of(body), body, OCI_MANIFEST)
    await _assert_manifest(client, NAME, "v2", body, OCI_MANIFEST)
    assert (await client.get(f"/v2/{NAME}/tags/list")).json()["tags"] == ["v2"]
    assert_error(await client.delete(f"/v2/{NAME}/manifests/v1"), 404, "MANIFEST_UNKNOWN")


async def test_delete_by_digest_removes_tags(client: httpx.AsyncClient) -> None:
    body = await _oci_image(client, NAME, LAYER)
    await push_manifest(client, NAME, "v1", body)
    await push_manifest(client, NAME, "v2", body)
    deleted = await client.delete(f"/v2/{NAME}/manifests/{digest_of(body)}")
    assert deleted.status_code == 202
    for reference in ("v1", "v2", digest_of(body)):
        got = await client.get(f"/v2/{NAME}/manifests/{reference}")
        assert_error(got, 404, "MANIFEST_UNKNOWN")
    assert (await client.get(f"/v2/{NAME}/tags/list")).json() == {"name": NAME, "tags": []}
    again = await client.delete(f"/v2/{NAME}/manifests/{digest_of(body)}")
    assert_error(again, 404, "MANIFEST_UNKNOWN")


async def test_blob_delete(client: httpx.AsyncClient) -> None:
    digest = await push_blob(client, NAME, LAYER)
    deleted = await client.delete(f"/v2/{NAME}/blobs/{digest}")
    assert deleted.status_code == 202
    assert deleted.content == b""
    assert_error(await client.get(f"/v2/{NAME}/blobs/{digest}"), 404, "BLOB_UNKNOWN")
    assert (await client.head(f"/v2/{NAME}/blobs/{digest}")).status_code == 404
    assert_error(await client.delete(f"/v2/{NAME}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
async def test_sha512_image(client: httpx.AsyncClient, algorithm: str) -> None:
    for blob in (CONFIG, LAYER):
        await push_blob(client, NAME, blob, algorithm)
    body = image_manifest(CONFIG, [LAYER], algorithm=algorithm)
    digest = digest_of(body, algorithm)
    pushed = await push_manifest(client, NAME, digest, body)
    assert pushed.headers["Docker-Content-Digest"] == digest
    assert pushed.headers["Location"] == f"/v2/{NAME}/manifests/{digest}"
    await _assert_manifest(client, NAME, digest, body, OCI_MANIFEST)
    index = index_manifest([body], algorithm=algorithm)
    index_digest = digest_of(index, algorithm)
    await push_manifest(client, NAME, index_digest, index, OCI_INDEX)
    await _assert_manifest(client, NAME, index_digest, index, OCI_INDEX)
    assert (await client.delete(f"/v2/{NAME}/manifests/{digest}")).status_code == 202
    assert_error(await client.get(f"/v2/{NAME}/manifests/{digest}"), 404, "MANIFEST_UNKNOWN")


# -- repositories, catalog, pagination ----------------------------------------------------------


async def test_push_creates_repository(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v2/_catalog")).json() == {"repositories": []}
    assert_error(await client.get("/v2/flows/new/tags/list"), 404, "NAME_UNKNOWN")
    body = await _oci_image(client, "flows/new", LAYER)
    await push_manifest(client, "flows/new", "v1", body)
    assert (await client.get("/v2/_catalog")).json() == {"repositories": ["flows/new"]}
    assert (await client.get("/v2/flows/new/tags/list")).json() == {
        "name": "flows/new",
        "tags": ["v1"],
    }


async def _walk(client: httpx.AsyncClient, path: str, key: str, n: int) -> list[list[str]]:
    pages: list[list[str]] = []
    url: str | None = f"{path}?n={n}"
    while url is not None:
        response = await client.get(url)
        assert response.status_code == 200
        pages.append(response.json()[key])
        link = response.headers.get("Link")
        if link is None:
            url = None
            continue
        match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
        assert match, link
        url = match.group(1)
        assert url.startswith(f"{path}?n={n}&last=")
        assert len(pages[-1]) == n
    return pages


async def test_catalog_pagination(client: httpx.AsyncClient) -> None:
    names = sorted(f"flows/repo-{i:02d}" for i in range(7))
    for name in reversed(names):
        await push_blob(client, name, CONFIG)
    pages = await _walk(client, "/v2/_catalog", "repositories", 3)
    assert pages == [names[0:3], names[3:6], names[6:7]]
    exact = await _walk(client, "/v2/_catalog", "repositories", 7)
    assert exact == [names]  # a full last page has no Link: the server looked one further
    response = await client.get("/v2/_catalog", params={"n": "2", "last": names[4]})
    assert response.json() == {"repositories": names[5:7]}
    assert "Link" not in response.headers
    response = await client.get("/v2/_catalog", params={"n": "0"})
    assert response.json() == {"repositories": []}


async def test_tags_pagination(client: httpx.AsyncClient) -> None:
    body = await _oci_image(client, NAME, LAYER)
    tags = ["1.0", "1.1", "2.0", "20", "a", "B", "latest", "v_1"]
    for tag in tags:
        await push_manifest(client, NAME, tag, body)
    ordered = sorted(tags)
    pages = await _walk(client, f"/v2/{NAME}/tags/list", "tags", 3)
    assert [tag for page in pages for tag in page] == ordered
    assert pages[0] == ordered[:3]
    assert len(pages) == 3
    response = await client.get(f"/v2/{NAME}/tags/list", params={"n": "2", "last": ordered[2]})
    assert response.json() == {"name": NAME, "tags": ordered[3:5]}
    assert response.headers["Link"] == (f'</v2/{NAME}/tags/list?n=2&last={ordered[4]}>; rel="next"')


# -- referrers ----------------------------------------------------------------------------------


async def test_referrers(client: httpx.AsyncClient) -> None:
    subject = await _oci_image(client, NAME, LAYER)
    await push_manifest(client, NAME, "v1", subject)
    await push_blob(client, NAME, b"{}")
    signature, sbom = b"signature bytes", b'{"sbom": true}'
    await push_blob(client, NAME, signature)
    await push_blob(client, NAME, sbom)
    about = descriptor(OCI_MANIFEST, subject)
    artifacts = {}
    for artifact_type, payload in (
        ("application/vnd.dev.cosign.artifact.sig.v1+json", signature),
        ("application/spdx+json", sbom),
    ):
        body = pretty(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": artifact_type,
                "config": descriptor(OCI_EMPTY, b"{}"),
                "layers": [descriptor(artifact_type, payload)],
                "subject": about,
                "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
            }
        )
        pushed = await push_manifest(client, NAME, digest_of(body), body)
        assert pushed.headers["OCI-Subject"] == digest_of(subject)
        artifacts[artifact_type] = body

    everything = await client.get(f"/v2/{NAME}/referrers/{digest_of(subject)}")
    assert everything.status_code == 200
    assert everything.headers["Content-Type"] == OCI_INDEX
    assert "OCI-Filters-Applied" not in everything.headers
    index = everything.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == OCI_INDEX
    expected = [
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest_of(body),
            "size": len(body),
            "artifactType": artifact_type,
            "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
        }
        for artifact_type, body in artifacts.items()
    ]
    assert sorted(index["manifests"], key=str) == sorted(expected, key=str)

    filtered = await client.get(
        f"/v2/{NAME}/referrers/{digest_of(subject)}",
        params={"artifactType": "application/spdx+json"},
    )
    assert filtered.status_code == 200
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in filtered.json()["manifests"]] == [
        digest_of(artifacts["application/spdx+json"])
    ]
    none = await client.get(
        f"/v2/{NAME}/referrers/{digest_of(subject)}", params={"artifactType": "x/none"}
    )
    assert none.json()["manifests"] == []
    assert none.headers["OCI-Filters-Applied"] == "artifactType"

    # deleting a referrer takes it out of the list
    sbom_digest = digest_of(artifacts["application/spdx+json"])
    assert (await client.delete(f"/v2/{NAME}/manifests/{sbom_digest}")).status_code == 202
    after = await client.get(f"/v2/{NAME}/referrers/{digest_of(subject)}")
    assert [m["digest"] for m in after.json()["manifests"]] == [
        digest_of(artifacts["application/vnd.dev.cosign.artifact.sig.v1+json"])
    ]


async def test_referrers_of_unknown_repository(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v2/flows/none/referrers/{digest_of(b'x')}")
    assert_error(response, 404, "NAME_UNKNOWN")


async def test_referrers_response_is_valid_json_document(client: httpx.AsyncClient) -> None:
    await push_blob(client, NAME, CONFIG)
    response = await client.get(f"/v2/{NAME}/referrers/{digest_of(b'nothing', 'sha512')}")
    assert response.status_code == 200
    assert json.loads(response.content) == {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [],
    }
