import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.domain import mediatypes
from berth.domain.manifests import parse_manifest
from berth.errors import ManifestInvalidError, PayloadTooLargeError

LIMIT = 4 * 1024 * 1024
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def _image(media_type: str | None = mediatypes.OCI_MANIFEST, **extra: object) -> bytes:
    document: dict[str, object] = {
        "schemaVersion": 2,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": D1,
            "size": 2,
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": D2, "size": 9}
        ],
    }
    if media_type:
        document["mediaType"] = media_type
    document.update(extra)
    return json.dumps(document).encode()


def test_image_manifest() -> None:
    parsed = parse_manifest(_image(), mediatypes.OCI_MANIFEST, LIMIT)
    assert parsed.media_type == mediatypes.OCI_MANIFEST
    assert [str(d.digest) for d in parsed.blobs] == [D1, D2]
    assert parsed.effective_artifact_type == "application/vnd.oci.image.config.v1+json"
    assert not parsed.is_index


def test_media_type_from_header_when_the_body_has_none() -> None:
    parsed = parse_manifest(_image(None), mediatypes.DOCKER_MANIFEST, LIMIT)
    assert parsed.media_type == mediatypes.DOCKER_MANIFEST


def test_contradicting_content_type_is_refused() -> None:
    with pytest.raises(ManifestInvalidError, match="contradicts"):
        parse_manifest(_image(), mediatypes.DOCKER_MANIFEST, LIMIT)


def test_index_with_subject_and_artifact_type() -> None:
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "artifactType": "application/example",
            "manifests": [{"mediaType": mediatypes.OCI_MANIFEST, "digest": D1, "size": 10}],
            "subject": {"mediaType": mediatypes.OCI_MANIFEST, "digest": D2, "size": 3},
        }
    ).encode()
    parsed = parse_manifest(body, None, LIMIT)
    assert parsed.is_index
    assert parsed.blobs == ()
    assert [str(d.digest) for d in parsed.manifests] == [D1]
    assert parsed.subject is not None and str(parsed.subject.digest) == D2
    assert parsed.effective_artifact_type == "application/example"


def test_non_distributable_layers_need_no_blob() -> None:
    body = json.loads(_image())
    body["layers"][0]["mediaType"] = mediatypes.DOCKER_FOREIGN_LAYER
    parsed = parse_manifest(json.dumps(body).encode(), None, LIMIT)
    assert [str(d.digest) for d in parsed.blobs] == [D1]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"schemaVersion": 1}',
        _image(schemaVersion=3),
        _image("application/vnd.docker.distribution.manifest.v1+prettyjws"),
        _image("text/plain"),
        _image(layers="nope"),
        _image(config={"mediaType": "x", "digest": "sha256:bad", "size": 1}),
        _image(config={"mediaType": "x", "digest": D1, "size": -1}),
        _image(config={"mediaType": "x", "digest": D1, "size": True}),
        _image(annotations={"a": 1}),
        b"\xff\xfe",
    ],
)
def test_malformed_manifests(body: bytes) -> None:
    with pytest.raises(ManifestInvalidError):
        parse_manifest(body, None, LIMIT)


def test_oversized_manifest() -> None:
    with pytest.raises(PayloadTooLargeError):
        parse_manifest(b" " * (LIMIT + 1), None, LIMIT)


@given(st.binary(max_size=2000))
def test_parse_raises_only_manifest_errors(body: bytes) -> None:
    with contextlib.suppress(ManifestInvalidError):
        parse_manifest(body, None, LIMIT)
