"""Bad inputs on /v2 are answered in the OCI error shape, with the right status, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from berth.app import BerthApp
from berth.auth.tokens import TokenSigner
from berth.types import Principal, RepositoryName

from .conftest import ACCOUNT_ID, BASE_URL, basic
from .oci import (
    DOCKER_LAYER,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    OCTET,
    assert_error,
    digest_of,
    image_manifest,
    index_manifest,
    push_blob,
    push_manifest,
)

NAME = "errors/app"
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
LAYER = b"layer bytes for the error tests"
MD5_DIGEST = "md5:d41d8cd98f00b204e9800998ecf8427e"
CHALLENGE = 'Basic realm="http://registry.test/",service="ecr.amazonaws.com"'


async def _session(client: httpx.AsyncClient, name: str = NAME) -> str:
    started = await client.post(f"/v2/{name}/blobs/uploads/")
    assert started.status_code == 202
    location: str = started.headers["Location"]
    return location


async def _image(client: httpx.AsyncClient) -> bytes:
    await push_blob(client, NAME, CONFIG)
    await push_blob(client, NAME, LAYER)
    return image_manifest(CONFIG, [LAYER])


# -- digests ------------------------------------------------------------------------------------


async def test_wrong_digest_on_completion(client: httpx.AsyncClient) -> None:
    session = await _session(client)
    wrong = digest_of(b"something else")
    response = await client.put(session, params={"digest": wrong}, content=LAYER)
    error = assert_error(response, 400, "DIGEST_INVALID")
    assert error["detail"] == {"expected": wrong, "actual": digest_of(LAYER)}
    assert (await client.head(f"/v2/{NAME}/blobs/{wrong}")).status_code == 404
    assert (await client.head(f"/v2/{NAME}/blobs/{digest_of(LAYER)}")).status_code == 404
    # the session is gone with its bytes
    assert_error(await client.get(session), 404, "BLOB_UPLOAD_UNKNOWN")


async def test_wrong_digest_on_monolithic_post(client: httpx.AsyncClient) -> None:
    wrong = digest_of(b"something else")
    response = await client.post(
        f"/v2/{NAME}/blobs/uploads/", params={"digest": wrong}, content=LAYER
    )
    assert_error(response, 400, "DIGEST_INVALID")
    assert (await client.head(f"/v2/{NAME}/blobs/{wrong}")).status_code == 404


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE"])
async def test_bad_digest_as_manifest_reference(client: httpx.AsyncClient, method: str) -> None:
    await _image(client)
    response = await client.request(method, f"/v2/{NAME}/manifests/sha256:baddigeststring")
    if method == "HEAD":
        assert response.status_code == 400
        assert response.content == b""
    else:
        assert_error(response, 400, "DIGEST_INVALID")


async def test_bad_digest_as_manifest_put_reference(client: httpx.AsyncClient) -> None:
    body = await _image(client)
    response = await client.put(
        f"/v2/{NAME}/manifests/sha256:baddigeststring",
        content=body,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert_error(response, 400, "DIGEST_INVALID")


async def test_manifest_put_by_other_digest(client: httpx.AsyncClient) -> None:
    body = await _image(client)
    other = digest_of(b"not the manifest")
    response = await client.put(
        f"/v2/{NAME}/manifests/{other}", content=body, headers={"Content-Type": OCI_MANIFEST}
    )
    error = assert_error(response, 400, "DIGEST_INVALID")
    assert error["detail"] == {"expected": other, "actual": digest_of(body)}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/errors/app/manifests/{d}"),
        ("PUT", "/v2/errors/app/manifests/{d}"),
        ("GET", "/v2/errors/app/blobs/{d}"),
        ("DELETE", "/v2/errors/app/blobs/{d}"),
        ("GET", "/v2/errors/app/referrers/{d}"),
        ("POST", "/v2/errors/app/blobs/uploads/?digest={d}"),
    ],
)
async def test_unknown_digest_algorithm(client: httpx.AsyncClient, method: str, path: str) -> None:
    await _image(client)
    response = await client.request(
        method, path.format(d=MD5_DIGEST), content=b"{}", headers={"Content-Type": OCI_MANIFEST}
    )
    error = assert_error(response, 400, "DIGEST_INVALID")
    assert "md5" in error["message"]


async def test_unknown_digest_algorithm_on_completion(client: httpx.AsyncClient) -> None:
    session = await _session(client)
    response = await client.put(session, params={"digest": MD5_DIGEST}, content=LAYER)
    assert_error(response, 400, "DIGEST_INVALID")


async def test_put_completion_without_digest(client: httpx.AsyncClient) -> None:
    session = await _session(client)
    response = await client.put(session, content=LAYER)
    assert_error(response, 400, "DIGEST_INVALID")
    empty = await client.put(session, params={"digest": ""})
    assert_error(empty, 400, "DIGEST_INVALID")
    # the session survives a refused completion
    status = await client.get(session)
    assert status.status_code == 204


# -- manifests ----------------------------------------------------------------------------------


async def test_manifest_over_4_mib(client: httpx.AsyncClient) -> None:
    await _image(client)
    padding = "x" * (4 * 1024 * 1024)
    body = json.dumps({"schemaVersion": 2, "annotations": {"pad": padding}}).encode()
    response = await client.put(
        f"/v2/{NAME}/manifests/big", content=body, headers={"Content-Type": OCI_MANIFEST}
    )
    assert_error(response, 413, "SIZE_INVALID")


async def test_manifest_over_4_mib_without_content_length(client: httpx.AsyncClient) -> None:
    await _image(client)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b" " * (1024 * 1024)

    response = await client.put(
        f"/v2/{NAME}/manifests/big", content=chunks(), headers={"Content-Type": OCI_MANIFEST}
    )
    assert_error(response, 413, "SIZE_INVALID")
    assert_error(await client.get(f"/v2/{NAME}/manifests/big"), 404, "MANIFEST_UNKNOWN")


@pytest.mark.parametrize("declared", ["9" * 5000, "4194305"])
async def test_manifest_declared_too_large(client: httpx.AsyncClient, declared: str) -> None:
    await _image(client)
    request = client.build_request(
        "PUT", f"/v2/{NAME}/manifests/big", content=b"{}", headers={"Content-Type": OCI_MANIFEST}
    )
    request.headers["Content-Length"] = declared
    assert_error(await client.send(request), 413, "SIZE_INVALID")


@pytest.mark.parametrize(
    "body",
    [
        b"blablabla",
        b"",
        b"[]",
        b'{"schemaVersion": 2, "config": ',
        b'{"schemaVersion": 1, "layers": []}',
        b'{"schemaVersion": 2, "mediaType": "' + OCI_MANIFEST.encode() + b'"}',
        b'{"schemaVersion": 2, "config": {"mediaType": "x", "digest": "sha256:00", "size": 1},'
        b' "layers": []}',
        b'{"schemaVersion": 2, "config": {"mediaType": "x", "digest": "sha256:'
        + b"0" * 64
        + b'", "size": -1}, "layers": []}',
        b"\xff\xfe not utf-8",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"schemaVersion": ' + b"9" * 5000 + b"}",
        b'{"schemaVersion": 2, "layers": [], "config": {"mediaType": "x", "digest": "sha256:'
        + b"0" * 64
        + b'", "size": 1e999}}',
    ],
    ids=lambda body: body[:24].decode("latin-1"),
)
async def test_malformed_manifest(client: httpx.AsyncClient, body: bytes) -> None:
    await _image(client)
    response = await client.put(
        f"/v2/{NAME}/manifests/bad", content=body, headers={"Content-Type": OCI_MANIFEST}
    )
    assert_error(response, 400, "MANIFEST_INVALID")
    assert_error(await client.get(f"/v2/{NAME}/manifests/bad"), 404, "MANIFEST_UNKNOWN")


async def test_content_type_contradicts_media_type(client: httpx.AsyncClient) -> None:
    body = await _image(client)
    response = await client.put(
        f"/v2/{NAME}/manifests/v1", content=body, headers={"Content-Type": DOCKER_MANIFEST}
    )
    error = assert_error(response, 400, "MANIFEST_INVALID")
    assert "contradicts" in error["message"]


async def test_unsupported_manifest_media_type(client: httpx.AsyncClient) -> None:
    body = json.dumps({"schemaVersion": 2, "layers": []}).encode()
    await _session(client)
    response = await client.put(
        f"/v2/{NAME}/manifests/v1", content=body, headers={"Content-Type": "text/plain"}
    )
    assert_error(response, 400, "MANIFEST_INVALID")


async def test_manifest_with_missing_blob(client: httpx.AsyncClient) -> None:
    await push_blob(client, NAME, CONFIG)
    body = image_manifest(CONFIG, [b"never pushed"])
    response = await client.put(
        f"/v2/{NAME}/manifests/v1", content=body, headers={"Content-Type": OCI_MANIFEST}
    )
    error = assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
    assert error["detail"] == {"digest": digest_of(b"never pushed")}


async def test_manifest_with_missing_config(client: httpx.AsyncClient) -> None:
    await push_blob(client, NAME, LAYER)
    body = image_manifest(b"{}", [LAYER])
    response = await client.put(
        f"/v2/{NAME}/manifests/v1", content=body, headers={"Content-Type": OCI_MANIFEST}
    )
    assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")


async def test_manifest_with_blob_of_another_repository(client: httpx.AsyncClient) -> None:
    await push_blob(client, "errors/other", CONFIG)
    await push_blob(client, "errors/other", LAYER)
    await _session(client)
    body = image_manifest(CONFIG, [LAYER])
    response = await client.put(
        f"/v2/{NAME}/manifests/v1", content=body, headers={"Content-Type": OCI_MANIFEST}
    )
    assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")


async def test_index_with_missing_child(client: httpx.AsyncClient) -> None:
    child = await _image(client)
    await push_manifest(client, NAME, digest_of(child), child)
    absent = image_manifest(CONFIG, [LAYER, LAYER])
    body = index_manifest([child, absent])
    response = await client.put(
        f"/v2/{NAME}/manifests/multi", content=body, headers={"Content-Type": OCI_INDEX}
    )
    error = assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
    assert error["detail"] == {"digest": digest_of(absent)}


@pytest.mark.parametrize(
    "layer_type",
    [
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    ],
)
async def test_non_distributable_layer_without_blob_is_accepted(
    client: httpx.AsyncClient, layer_type: str
) -> None:
    await push_blob(client, NAME, CONFIG)
    foreign = b"windows base layer kept elsewhere"
    body = json.loads(image_manifest(CONFIG, [LAYER]))
    body["layers"] = [
        {
            "mediaType": layer_type,
            "digest": digest_of(foreign),
            "size": len(foreign),
            "urls": ["https://example.com/layer.tar.gz"],
        }
    ]
    raw = json.dumps(body).encode()
    response = await push_manifest(client, NAME, "windows", raw)
    assert response.headers["Docker-Content-Digest"] == digest_of(raw)
    fetched = await client.get(f"/v2/{NAME}/manifests/windows")
    assert fetched.content == raw
    assert_error(await client.get(f"/v2/{NAME}/blobs/{digest_of(foreign)}"), 404, "BLOB_UNKNOWN")


async def test_docker_manifest_with_missing_layer(client: httpx.AsyncClient) -> None:
    await push_blob(client, NAME, CONFIG)
    body = image_manifest(CONFIG, [b"missing"], media_type=DOCKER_MANIFEST, layer_type=DOCKER_LAYER)
    response = await client.put(
        f"/v2/{NAME}/manifests/v1", content=body, headers={"Content-Type": DOCKER_MANIFEST}
    )
    assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")


async def test_invalid_tag_on_put(client: httpx.AsyncClient) -> None:
    body = await _image(client)
    for tag in (".hidden", "-dash", "a" * 129):
        response = await client.put(
            f"/v2/{NAME}/manifests/{tag}", content=body, headers={"Content-Type": OCI_MANIFEST}
        )
        assert_error(response, 400, "TAG_INVALID")


# -- ranges and uploads -------------------------------------------------------------------------


async def test_patch_out_of_order(client: httpx.AsyncClient) -> None:
    session = await _session(client)
    first = await client.patch(session, content=b"12345", headers={"Content-Range": "0-4"})
    assert first.status_code == 202
    response = await client.patch(session, content=b"67890", headers={"Content-Range": "7-11"})
    assert_error(response, 416, "BLOB_UPLOAD_INVALID")
    assert response.headers["Range"] == "0-4"
    assert response.headers["Location"] == session
    status = await client.get(session)
    assert status.headers["Range"] == "0-4"


async def test_patch_content_range_length_mismatch(client: httpx.AsyncClient) -> None:
    session = await _session(client)
    response = await client.patch(session, content=b"12345", headers={"Content-Range": "0-9"})
    assert_error(response, 400, "SIZE_INVALID")


async def test_patch_malformed_content_range(client: httpx.AsyncClient) -> None:
    session = await _session(client)
    for value in ("bytes", "5-2", "a-b", "0-" + "9" * 5000):
        response = await client.patch(session, content=b"123", headers={"Content-Range": value})
        assert_error(response, 400, "BLOB_UPLOAD_INVALID")


@pytest.mark.parametrize("name", [NAME, "uploads/tool"])
async def test_range_beyond_blob(client: httpx.AsyncClient, name: str) -> None:
    digest = await push_blob(client, name, LAYER)
    size = len(LAYER)
    for value in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=" + "9" * 5000 + "-"):
        response = await client.get(f"/v2/{name}/blobs/{digest}", headers={"Range": value})
        assert_error(response, 416, "BLOB_UPLOAD_INVALID")
        assert response.headers["Content-Range"] == f"bytes */{size}"
        assert "Location" not in response.headers


async def test_unknown_upload_id(client: httpx.AsyncClient) -> None:
    await _session(client)
    missing = f"/v2/{NAME}/blobs/uploads/00000000-0000-4000-8000-000000000000"
    assert_error(await client.get(missing), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(await client.patch(missing, content=b"x"), 404, "BLOB_UPLOAD_UNKNOWN")
    response = await client.put(missing, params={"digest": digest_of(b"x")}, content=b"x")
    assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(await client.delete(missing), 404, "BLOB_UPLOAD_UNKNOWN")
    for odd in ("%2E%2E", "not-a-uuid", "x" * 300):
        response = await client.patch(f"/v2/{NAME}/blobs/uploads/{odd}", content=b"x")
        assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")
    escaping = await client.patch(f"/v2/{NAME}/blobs/uploads/..%2F..%2Fetc", content=b"x")
    assert_error(escaping, 404, "UNSUPPORTED")  # no such route once decoded


async def test_upload_id_from_another_repository(client: httpx.AsyncClient) -> None:
    session = await _session(client, "errors/one")
    await _session(client, "errors/two")
    upload_id = session.rsplit("/", 1)[1]
    stolen = f"/v2/errors/two/blobs/uploads/{upload_id}"
    assert_error(await client.get(stolen), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(await client.patch(stolen, content=LAYER), 404, "BLOB_UPLOAD_UNKNOWN")
    response = await client.put(stolen, params={"digest": digest_of(LAYER)}, content=LAYER)
    assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(await client.delete(stolen), 404, "BLOB_UPLOAD_UNKNOWN")
    assert (await client.get(session)).status_code == 204


async def test_upload_to_unknown_repository_session(client: httpx.AsyncClient) -> None:
    response = await client.patch("/v2/errors/nowhere/blobs/uploads/abc", content=b"x")
    assert_error(response, 404, "NAME_UNKNOWN")


async def test_truncated_body_keeps_acknowledged_bytes(app: BerthApp) -> None:
    """A body that breaks off mid-way (the client went away) leaves no trace but what was acked."""
    headers = {"Authorization": basic(app.issue_root_token())}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as http:
        session = await _session(http)
        acked = await http.patch(session, content=b"first-")
        assert acked.status_code == 202

        async def breaks_off() -> AsyncIterator[bytes]:
            yield b"second-"
            yield b"x" * 70_000
            raise ConnectionResetError("client went away")

        with pytest.raises(ConnectionResetError):
            await http.patch(session, content=breaks_off())
        status = await http.get(session)
        assert status.status_code == 204
        assert status.headers["Range"] == "0-5"

        whole = b"first-second-"
        with pytest.raises(ConnectionResetError):
            await http.put(session, params={"digest": digest_of(whole)}, content=breaks_off())
        assert (await http.get(session)).headers["Range"] == "0-5"
        for partial in (b"first-second-", b"first-second-" + b"x" * 70_000):
            assert (await http.head(f"/v2/{NAME}/blobs/{digest_of(partial)}")).status_code == 404

        with pytest.raises(ConnectionResetError):
            await http.post(
                f"/v2/{NAME}/blobs/uploads/",
                params={"digest": digest_of(whole)},
                content=breaks_off(),
            )
        assert (await http.head(f"/v2/{NAME}/blobs/{digest_of(whole)}")).status_code == 404

        done = await http.put(session, params={"digest": digest_of(whole)}, content=b"second-")
        assert done.status_code == 201
        fetched = await http.get(f"/v2/{NAME}/blobs/{digest_of(whole)}")
        assert fetched.content == whole


# -- names and pagination -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["foo..bar", "Upper/case", "a" * 257, "trailing-", "-leading", "a//b", "%2E%2E/etc", "a_-b"],
)
async def test_invalid_repository_name(client: httpx.AsyncClient, name: str) -> None:
    for method, path in (
        ("GET", f"/v2/{name}/tags/list"),
        ("POST", f"/v2/{name}/blobs/uploads/"),
        ("GET", f"/v2/{name}/manifests/latest"),
        ("PUT", f"/v2/{name}/manifests/latest"),
    ):
        response = await client.request(method, path, content=b"{}")
        assert_error(response, 400, "NAME_INVALID")


async def test_name_at_the_limit_is_valid(client: httpx.AsyncClient) -> None:
    name = "a" * 128 + "/" + "b" * 127
    assert len(name) == 256
    assert (await client.post(f"/v2/{name}/blobs/uploads/")).status_code == 202


async def test_unknown_repository(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/v2/errors/none/tags/list"), 404, "NAME_UNKNOWN")
    response = await client.get(f"/v2/errors/none/blobs/{digest_of(b'x')}")
    assert_error(response, 404, "NAME_UNKNOWN")


@pytest.mark.parametrize("n", ["abc", "-1", "1.5", "", " 2", "\u00b2", "\u0663"])
async def test_tags_list_bad_n(client: httpx.AsyncClient, n: str) -> None:
    await _image(client)
    response = await client.get(f"/v2/{NAME}/tags/list", params={"n": n})
    if n == "":
        assert response.status_code == 200  # an empty n is no n
        return
    assert_error(response, 400, "PAGINATION_NUMBER_INVALID")
    catalog = await client.get("/v2/_catalog", params={"n": n})
    assert_error(catalog, 400, "PAGINATION_NUMBER_INVALID")


async def test_tags_list_huge_n_is_capped(app: BerthApp, client: httpx.AsyncClient) -> None:
    body = await _image(client)
    response = await push_manifest(client, NAME, "t0000", body)
    digest = response.headers["Docker-Content-Digest"]
    services = app.services
    repository = await services.repositories.find(RepositoryName(NAME))
    assert repository is not None
    async with services.meta.transaction() as tx:
        for i in range(1, 1005):
            await tx.tags.put(repository.id, f"t{i:04d}", digest, datetime.now(UTC))
    for n in ("1001", "99999999999999999999999", "9" * 5000):
        listed = await client.get(f"/v2/{NAME}/tags/list", params={"n": n})
        assert listed.status_code == 200
        tags = listed.json()["tags"]
        assert len(tags) == 1000
        assert tags[0] == "t0000" and tags[-1] == "t0999"
        assert listed.headers["Link"] == f'</v2/{NAME}/tags/list?n=1000&last=t0999>; rel="next"'
    unbounded = await client.get(f"/v2/{NAME}/tags/list")
    assert len(unbounded.json()["tags"]) == 1005


async def test_tags_list_last_without_n(client: httpx.AsyncClient) -> None:
    body = await _image(client)
    for tag in ("a", "b", "c", "d"):
        await push_manifest(client, NAME, tag, body)
    response = await client.get(f"/v2/{NAME}/tags/list", params={"last": "b"})
    assert response.status_code == 200
    assert response.json() == {"name": NAME, "tags": ["c", "d"]}
    assert "Link" not in response.headers
    past = await client.get(f"/v2/{NAME}/tags/list", params={"last": "zzz"})
    assert past.json() == {"name": NAME, "tags": []}


# -- authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/"),
        ("GET", "/v2/_catalog"),
        ("GET", "/v2/errors/app/tags/list"),
        ("GET", "/v2/errors/app/manifests/latest"),
        ("PUT", "/v2/errors/app/manifests/latest"),
        ("POST", "/v2/errors/app/blobs/uploads/"),
        ("GET", f"/v2/errors/app/blobs/{digest_of(b'x')}"),
    ],
)
async def test_anonymous_is_challenged(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, method: str, path: str
) -> None:
    await _image(client)
    response = await anon.request(method, path)
    assert_error(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"] == CHALLENGE


async def _with_token(anon: httpx.AsyncClient, token: str, path: str = "/v2/") -> httpx.Response:
    return await anon.get(path, headers={"Authorization": basic(token)})


async def test_forged_token(app: BerthApp, anon: httpx.AsyncClient) -> None:
    other = TokenSigner(b"k" * 32).issue(Principal.root(ACCOUNT_ID), 3600).token
    genuine = app.issue_root_token()
    tampered = genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB")
    for token in (other, tampered, "not-a-token", ""):
        response = await _with_token(anon, token)
        assert_error(response, 401, "UNAUTHORIZED")
        assert response.headers["WWW-Authenticate"] == CHALLENGE


async def test_expired_token(app: BerthApp, anon: httpx.AsyncClient) -> None:
    expired = app.signer.issue(Principal.root(ACCOUNT_ID), -60).token
    response = await _with_token(anon, expired, "/v2/errors/app/tags/list")
    error = assert_error(response, 401, "UNAUTHORIZED")
    assert "expired" in error["message"]
    assert response.headers["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize(
    "authorization",
    ["Bearer abc", "Basic !!!", "Basic " + "dXNlcg==", "Basic " + "YWRtaW46c2VjcmV0"],
)
async def test_malformed_credentials(anon: httpx.AsyncClient, authorization: str) -> None:
    response = await anon.get("/v2/", headers={"Authorization": authorization})
    assert_error(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"] == CHALLENGE


# -- routing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/v2/errors/app/nothing", "/v2/errors/app/blobs", "/v2/errors/app/tags", "/v2/x"]
)
async def test_unknown_endpoint(client: httpx.AsyncClient, path: str) -> None:
    assert_error(await client.get(path), 404, "UNSUPPORTED")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/v2/"),
        ("POST", "/v2/_catalog"),
        ("PATCH", "/v2/errors/app/manifests/latest"),
        ("POST", "/v2/errors/app/manifests/latest"),
        ("PUT", f"/v2/errors/app/blobs/{digest_of(b'x')}"),
        ("DELETE", "/v2/errors/app/tags/list"),
        ("POST", f"/v2/errors/app/referrers/{digest_of(b'x')}"),
    ],
)
async def test_wrong_method(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert_error(response, 405, "UNSUPPORTED")
    assert response.headers.get("Allow")


async def test_no_body_on_errors_for_head(client: httpx.AsyncClient) -> None:
    response = await client.head(f"/v2/{NAME}/manifests/latest")
    assert response.status_code == 404
    assert response.content == b""


async def test_octet_stream_is_not_a_manifest_type(client: httpx.AsyncClient) -> None:
    """application/octet-stream says nothing: the manifest's own mediaType decides."""
    body = await _image(client)
    response = await client.put(
        f"/v2/{NAME}/manifests/v1", content=body, headers={"Content-Type": OCTET}
    )
    assert response.status_code == 201
    fetched = await client.get(f"/v2/{NAME}/manifests/v1")
    assert fetched.headers["Content-Type"] == OCI_MANIFEST
