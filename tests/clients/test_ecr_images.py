"""Images and layers through the ECR API and the registry, on one real server: what skopeo
pushes, DescribeImages describes; what PutImage puts, skopeo pulls; one tag rule for both."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import RegistryServer
from .ecr_support import (
    PARSED_OPERATIONS,
    ecr_client,
    serve,
    skopeo,
    skopeo_policy,
)
from .images import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    canonical_json,
    layout_digest,
    read_blob,
    write_image_layout,
    write_multiarch_layout,
)

pytestmark = [
    pytest.mark.clients,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    yield from serve(tmp_path_factory, "ecr-images")


@pytest.fixture(scope="module")
def ecr(server: RegistryServer) -> Iterator[Any]:
    client = ecr_client(server)
    yield client
    client.close()


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "auth.json"))
    return skopeo_policy(tmp_path)


@pytest.fixture
def name(ecr: Any) -> str:
    repository = f"img/test-{uuid.uuid4().hex[:10]}"
    ecr.create_repository(repositoryName=repository)
    return repository


def login(ecr: Any) -> str:
    """``AWS:<token>`` from GetAuthorizationToken, as skopeo's --creds takes it."""
    (data,) = ecr.get_authorization_token()["authorizationData"]
    return base64.b64decode(data["authorizationToken"]).decode()


def push(
    policy: Path, server: RegistryServer, creds: str, source: str, target: str, *extra: str
) -> None:
    skopeo(
        policy,
        "copy",
        *extra,
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        source,
        f"docker://{server.host}/{target}",
    )


def manifest_of(root: Path, digest: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(read_blob(root, digest))
    return document


def upload_layer(ecr: Any, name: str, data: bytes, part: int = 1 << 20) -> str:
    """Upload through InitiateLayerUpload / UploadLayerPart / CompleteLayerUpload."""
    upload_id = ecr.initiate_layer_upload(repositoryName=name)["uploadId"]
    for first in range(0, len(data), part):
        chunk = data[first : first + part]
        reply = ecr.upload_layer_part(
            repositoryName=name,
            uploadId=upload_id,
            partFirstByte=first,
            partLastByte=first + len(chunk) - 1,
            layerPartBlob=chunk,
        )
        assert reply["lastByteReceived"] == first + len(chunk) - 1
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    done = ecr.complete_layer_upload(repositoryName=name, uploadId=upload_id, layerDigests=[digest])
    assert done["layerDigest"] == digest
    return digest


def put_small_image(ecr: Any, name: str, tag: str | None = "v1") -> tuple[str, str]:
    """An OCI image whose blobs went up through the ECR API; ``(manifest, digest)``."""
    layer = os.urandom(3 << 20)
    config = canonical_json({"architecture": "amd64", "os": "linux", "id": uuid.uuid4().hex})
    layer_digest = upload_layer(ecr, name, layer)
    config_digest = upload_layer(ecr, name, config)
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": len(layer)}],
        }
    ).decode()
    kwargs = {"imageTag": tag} if tag else {}
    image = ecr.put_image(repositoryName=name, imageManifest=manifest, **kwargs)["image"]
    return manifest, image["imageId"]["imageDigest"]


# -- registry push, ECR describe --------------------------------------------------------------


def test_skopeo_push_is_described(
    ecr: Any, server: RegistryServer, policy: Path, tmp_path: Path, name: str
) -> None:
    layout = write_image_layout(tmp_path / "layout", "v1")
    push(policy, server, login(ecr), layout.reference, f"{name}:v1")
    manifest = manifest_of(layout.path, layout.top.digest)
    (detail,) = ecr.describe_images(repositoryName=name)["imageDetails"]
    assert detail["imageDigest"] == layout.top.digest
    assert detail["imageTags"] == ["v1"]
    assert detail["imageSizeInBytes"] == sum(layer["size"] for layer in manifest["layers"])
    assert detail["imageManifestMediaType"] == OCI_MANIFEST
    assert detail["artifactMediaType"] == OCI_CONFIG
    assert detail["imagePushedAt"].timestamp() > 0
    assert "lastRecordedPullTime" not in detail
    ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": "v1"}])
    (detail,) = ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": "v1"}])[
        "imageDetails"
    ]
    assert detail["lastRecordedPullTime"].timestamp() > 0


def test_multiarch_push_sizes_and_references(
    ecr: Any, server: RegistryServer, policy: Path, tmp_path: Path, name: str
) -> None:
    layout = write_multiarch_layout(tmp_path / "multi", "multi")
    push(policy, server, login(ecr), layout.reference, f"{name}:multi", "--all")
    details = {
        d["imageDigest"]: d for d in ecr.describe_images(repositoryName=name)["imageDetails"]
    }
    children = [manifest_of(layout.path, c.digest) for c in layout.children]
    sizes = [sum(layer["size"] for layer in child["layers"]) for child in children]
    assert details[layout.top.digest]["imageManifestMediaType"] == OCI_INDEX
    assert details[layout.top.digest]["imageSizeInBytes"] == max(sizes)
    untagged = ecr.list_images(repositoryName=name, filter={"tagStatus": "UNTAGGED"})["imageIds"]
    assert {i["imageDigest"] for i in untagged} == {c.digest for c in layout.children}
    child = layout.children[0].digest
    reply = ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageDigest": child}])
    assert reply["failures"][0]["failureCode"] == "ImageReferencedByManifestList"


# -- ECR put, registry pull -------------------------------------------------------------------


def test_put_image_pulls_with_skopeo(
    ecr: Any, server: RegistryServer, policy: Path, tmp_path: Path, name: str
) -> None:
    manifest, digest = put_small_image(ecr, name, "v1")
    assert digest == "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    target = tmp_path / "pulled"
    skopeo(
        policy,
        "copy",
        "--preserve-digests",
        "--src-tls-verify=false",
        "--src-creds",
        login(ecr),
        f"docker://{server.host}/{name}:v1",
        f"oci:{target}:v1",
    )
    assert layout_digest(target, "v1") == digest
    (image,) = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageDigest": digest}])[
        "images"
    ]
    assert image["imageManifest"] == manifest
    assert image["imageManifestMediaType"] == OCI_MANIFEST


def test_put_image_rules(ecr: Any, name: str) -> None:
    manifest, digest = put_small_image(ecr, name, "v1")
    with pytest.raises(ecr.exceptions.ImageAlreadyExistsException):
        ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag="v1")
    with pytest.raises(ecr.exceptions.ImageAlreadyExistsException):
        ecr.put_image(repositoryName=name, imageManifest=manifest)
    ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag="v2", imageDigest=digest)
    with pytest.raises(ecr.exceptions.ImageDigestDoesNotMatchException):
        ecr.put_image(
            repositoryName=name,
            imageManifest=manifest,
            imageTag="v3",
            imageDigest="sha256:" + "1" * 64,
        )
    missing_layer = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": "sha256:" + "2" * 64, "size": 2},
            "layers": [],
        }
    )
    with pytest.raises(ecr.exceptions.LayersNotFoundException):
        ecr.put_image(repositoryName=name, imageManifest=missing_layer, imageTag="v4")
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.put_image(repositoryName=name, imageManifest="{not json", imageTag="v5")
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.put_image(repositoryName="img/missing", imageManifest=manifest, imageTag="v1")


def test_tag_immutability_on_put_image_and_skopeo(
    ecr: Any, server: RegistryServer, policy: Path, tmp_path: Path
) -> None:
    name = f"img/immutable-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(
        repositoryName=name,
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
    )
    put_small_image(ecr, name, "v1")
    other, _ = put_small_image(ecr, name, None)
    with pytest.raises(ecr.exceptions.ImageTagAlreadyExistsException) as error:
        ecr.put_image(repositoryName=name, imageManifest=other, imageTag="v1")
    assert str(error.value).endswith(
        f"The image tag 'v1' already exists in the '{name}' repository and cannot be "
        "overwritten because the repository is immutable."
    )
    ecr.put_image(repositoryName=name, imageManifest=other, imageTag="latest")
    layout = write_image_layout(tmp_path / "layout", "v1")
    result = skopeo(
        policy,
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        login(ecr),
        layout.reference,
        f"docker://{server.host}/{name}:v1",
        check=False,
    )
    assert result.returncode != 0
    assert "TAG_INVALID" in result.stderr or "tag invalid" in result.stderr.lower()
    push(policy, server, login(ecr), layout.reference, f"{name}:latest")


# -- listing, getting, deleting ---------------------------------------------------------------


def test_list_images_filters_and_pagination(ecr: Any, name: str) -> None:
    manifest, _ = put_small_image(ecr, name, "a")
    for tag in ("b", "c"):
        ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag=tag)
    put_small_image(ecr, name, None)
    every = ecr.list_images(repositoryName=name)["imageIds"]
    assert len(every) == 4
    tagged = ecr.list_images(repositoryName=name, filter={"tagStatus": "TAGGED"})["imageIds"]
    assert sorted(i["imageTag"] for i in tagged) == ["a", "b", "c"]
    paginator = ecr.get_paginator("list_images")
    pages = list(paginator.paginate(repositoryName=name, PaginationConfig={"PageSize": 1}))
    assert [i for page in pages for i in page["imageIds"]] == every
    assert len(pages) == 4
    details = ecr.get_paginator("describe_images").paginate(
        repositoryName=name, PaginationConfig={"PageSize": 1}
    )
    assert sum(len(page["imageDetails"]) for page in details) == 2
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": "nope"}])
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.list_images(repositoryName="img/missing")


def test_batch_get_image_failures_and_media_types(ecr: Any, name: str) -> None:
    _, digest = put_small_image(ecr, name, "v1")
    reply = ecr.batch_get_image(
        repositoryName=name,
        imageIds=[
            {"imageTag": "v1"},
            {"imageTag": "nope"},
            {"imageDigest": "sha256:bad"},
            {"imageDigest": digest, "imageTag": "other"},
            {},
        ],
        acceptedMediaTypes=[OCI_MANIFEST],
    )
    assert len(reply["images"]) == 1
    codes = [f["failureCode"] for f in reply["failures"]]
    assert codes == ["ImageNotFound", "InvalidImageDigest", "ImageNotFound", "MissingDigestAndTag"]
    refused = ecr.batch_get_image(
        repositoryName=name, imageIds=[{"imageTag": "v1"}], acceptedMediaTypes=[OCI_INDEX]
    )
    assert refused["images"] == [] and len(refused["failures"]) == 1


def test_batch_delete_image_as_ecr_does(ecr: Any, name: str) -> None:
    manifest, digest = put_small_image(ecr, name, "a")
    ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag="b")
    reply = ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageTag": "a"}])
    assert reply["imageIds"] == [{"imageDigest": digest, "imageTag": "a"}]
    reply = ecr.batch_delete_image(
        repositoryName=name,
        imageIds=[{"imageTag": "b", "imageDigest": "sha256:" + "3" * 64}, {"imageTag": "zz"}],
    )
    codes = [f["failureCode"] for f in reply["failures"]]
    assert codes == ["ImageTagDoesNotMatchDigest", "ImageNotFound"]
    reply = ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageTag": "b"}])
    assert ecr.list_images(repositoryName=name)["imageIds"] == []
    put_small_image(ecr, name, "c")
    with pytest.raises(ecr.exceptions.RepositoryNotEmptyException):
        ecr.delete_repository(repositoryName=name)
    ecr.delete_repository(repositoryName=name, force=True)


def test_list_image_referrers(ecr: Any, server: RegistryServer, name: str) -> None:
    _, subject = put_small_image(ecr, name, "v1")
    empty = b"{}"
    empty_digest = upload_layer(ecr, name, empty)
    referrer = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.sbom",
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": empty_digest,
                "size": 2,
            },
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1},
            "annotations": {"org.example": "yes"},
        }
    ).decode()
    ecr.put_image(repositoryName=name, imageManifest=referrer)
    (found,) = ecr.list_image_referrers(repositoryName=name, subjectId={"imageDigest": subject})[
        "referrers"
    ]
    assert found["artifactType"] == "application/vnd.example.sbom"
    assert found["annotations"] == {"org.example": "yes"}
    none = ecr.list_image_referrers(
        repositoryName=name,
        subjectId={"imageDigest": subject},
        filter={"artifactTypes": ["application/other"]},
    )
    assert none["referrers"] == []


def test_lifecycle_preview_lists_the_images_to_expire(ecr: Any, name: str) -> None:
    digests = [put_small_image(ecr, name, f"v{number}")[1] for number in range(3)]
    policy = json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": 1,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    )
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=policy)
    ecr.start_lifecycle_policy_preview(repositoryName=name)
    preview = ecr.get_lifecycle_policy_preview(repositoryName=name)
    assert preview["status"] == "COMPLETE"
    assert preview["summary"]["expiringImageTotalCount"] == 2
    expiring = {r["imageDigest"] for r in preview["previewResults"]}
    assert expiring == set(digests[:2])
    assert all(r["action"]["type"] == "EXPIRE" for r in preview["previewResults"])
    assert all(r["appliedRulePriority"] == 1 for r in preview["previewResults"])
    first = ecr.get_lifecycle_policy_preview(repositoryName=name, maxResults=1)
    assert len(first["previewResults"]) == 1 and first["nextToken"]
    only = ecr.get_lifecycle_policy_preview(repositoryName=name, imageIds=[{"imageTag": "v0"}])
    assert [r["imageDigest"] for r in only["previewResults"]] == [digests[0]]


# -- layers -----------------------------------------------------------------------------------


def test_layer_upload_rules(ecr: Any, name: str) -> None:
    upload_id = ecr.initiate_layer_upload(repositoryName=name)["uploadId"]
    with pytest.raises(ecr.exceptions.EmptyUploadException):
        ecr.complete_layer_upload(
            repositoryName=name, uploadId=upload_id, layerDigests=["sha256:" + "4" * 64]
        )
    ecr.upload_layer_part(
        repositoryName=name,
        uploadId=upload_id,
        partFirstByte=0,
        partLastByte=2,
        layerPartBlob=b"abc",
    )
    with pytest.raises(ecr.exceptions.InvalidLayerPartException):
        ecr.upload_layer_part(
            repositoryName=name,
            uploadId=upload_id,
            partFirstByte=10,
            partLastByte=12,
            layerPartBlob=b"def",
        )
    with pytest.raises(ecr.exceptions.InvalidLayerPartException):
        ecr.upload_layer_part(
            repositoryName=name,
            uploadId=upload_id,
            partFirstByte=3,
            partLastByte=9,
            layerPartBlob=b"def",
        )
    with pytest.raises(ecr.exceptions.InvalidLayerException):
        ecr.complete_layer_upload(
            repositoryName=name, uploadId=upload_id, layerDigests=["sha256:" + "5" * 64]
        )
    with pytest.raises(ecr.exceptions.UploadNotFoundException):
        ecr.upload_layer_part(
            repositoryName=name,
            uploadId=str(uuid.uuid4()),
            partFirstByte=0,
            partLastByte=0,
            layerPartBlob=b"x",
        )
    data = os.urandom(1000)
    digest = upload_layer(ecr, name, data, part=300)
    again = ecr.initiate_layer_upload(repositoryName=name)["uploadId"]
    ecr.upload_layer_part(
        repositoryName=name, uploadId=again, partFirstByte=0, partLastByte=999, layerPartBlob=data
    )
    with pytest.raises(ecr.exceptions.LayerAlreadyExistsException):
        ecr.complete_layer_upload(repositoryName=name, uploadId=again, layerDigests=[digest])


def test_batch_check_layer_availability(ecr: Any, name: str) -> None:
    digest = upload_layer(ecr, name, b"layer bytes")
    reply = ecr.batch_check_layer_availability(
        repositoryName=name, layerDigests=[digest, "sha256:" + "6" * 64, "nonsense"]
    )
    assert reply["layers"] == [
        {"layerDigest": digest, "layerAvailability": "AVAILABLE", "layerSize": 11}
    ]
    assert [f["failureCode"] for f in reply["failures"]] == [
        "MissingLayerDigest",
        "InvalidLayerDigest",
    ]


def test_download_url_works_without_credentials(ecr: Any, name: str) -> None:
    data = os.urandom(4096)
    digest = upload_layer(ecr, name, data)
    reply = ecr.get_download_url_for_layer(repositoryName=name, layerDigest=digest)
    assert reply["layerDigest"] == digest
    response = httpx.get(reply["downloadUrl"], timeout=30)
    assert response.status_code == 200 and response.content == data
    tampered = reply["downloadUrl"][:-3] + (
        "AAA" if not reply["downloadUrl"].endswith("AAA") else "BBB"
    )
    assert httpx.get(tampered, timeout=30).status_code == 403
    with pytest.raises(ecr.exceptions.LayersNotFoundException):
        ecr.get_download_url_for_layer(repositoryName=name, layerDigest="sha256:" + "7" * 64)


# -- registry settings that change pushes -----------------------------------------------------


def test_create_on_push_uses_the_template(
    ecr: Any, server: RegistryServer, policy: Path, tmp_path: Path
) -> None:
    prefix = f"team-{uuid.uuid4().hex[:6]}"
    ecr.create_repository_creation_template(
        prefix=prefix,
        appliedFor=["CREATE_ON_PUSH"],
        imageTagMutability="IMMUTABLE",
        resourceTags=[{"Key": "team", "Value": prefix}],
    )
    name = f"{prefix}/app"
    layout = write_image_layout(tmp_path / "layout", "v1")
    push(policy, server, login(ecr), layout.reference, f"{name}:v1")
    (repository,) = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    tags = ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"])["tags"]
    assert tags == [{"Key": "team", "Value": prefix}]
    ecr.delete_repository_creation_template(prefix=prefix)


def test_blob_mounting_setting(ecr: Any, server: RegistryServer, name: str) -> None:
    digest = upload_layer(ecr, name, os.urandom(100))
    target = f"img/mount-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=target)
    auth = ("AWS", login(ecr).split(":", 1)[1])
    url = f"{server.url}/v2/{target}/blobs/uploads/?mount={digest}&from={name}"
    ecr.put_account_setting(name="BLOB_MOUNTING", value="DISABLED")
    try:
        assert httpx.post(url, auth=auth, timeout=30).status_code == 202
    finally:
        ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    assert httpx.post(url, auth=auth, timeout=30).status_code == 201


def test_zz_every_served_operation_was_parsed_by_botocore() -> None:
    """Every reply in this session went through botocore's parser (see ecr_support)."""
    wanted = {
        "BatchCheckLayerAvailability",
        "BatchDeleteImage",
        "BatchGetImage",
        "CompleteLayerUpload",
        "CreateRepository",
        "DescribeImages",
        "GetAuthorizationToken",
        "GetDownloadUrlForLayer",
        "InitiateLayerUpload",
        "ListImageReferrers",
        "ListImages",
        "PutImage",
        "UploadLayerPart",
    }
    assert wanted <= PARSED_OPERATIONS
