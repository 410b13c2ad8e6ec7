"""Berth on an S3 store (SeaweedFS): real clients push and pull; layer reads redirect to S3."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from seaweedfs import SeaweedFS

from .conftest import RegistryServer, free_port
from .images import layout_digest, read_blob, write_image_layout
from .test_skopeo import remote, skopeo, skopeo_env

pytestmark = [
    pytest.mark.clients,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]
__all__ = ["skopeo_env"]


@pytest.fixture(params=["registry-port", "upload-port"])
def s3_server(
    request: pytest.FixtureRequest, tmp_path: Path, seaweedfs: SeaweedFS, s3_bucket: str
) -> Iterator[RegistryServer]:
    """Berth on S3; the second time with ``--upload-port``, whose bodies go to S3 parts too."""
    options = seaweedfs.store_options(s3_bucket, prefix="registry")
    env = {
        "BERTH_STORAGE": "s3",
        "BERTH_S3_ENDPOINT": options["endpoint"],
        "BERTH_S3_BUCKET": s3_bucket,
        "BERTH_S3_PREFIX": "registry",
        "BERTH_S3_REGION": options.get("region", "us-east-1"),
        "BERTH_S3_ACCESS_KEY_ID": options["access_key_id"],
        "BERTH_S3_SECRET_ACCESS_KEY": options["secret_access_key"],
        "BERTH_BLOB_REDIRECT": "true",
    }
    args = ["--upload-port", str(free_port())] if request.param == "upload-port" else []
    server = RegistryServer("berth", tmp_path / "data", tmp_path, env=env, args=args)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_skopeo_round_trip_through_s3_with_redirects(
    tmp_path: Path, skopeo_env: Path, s3_server: RegistryServer
) -> None:
    source = write_image_layout(tmp_path / "source", "v1")
    target = remote(s3_server, "s3/app", "v1")
    assert s3_server.creds is not None
    creds = s3_server.creds
    skopeo(
        skopeo_env,
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        source.reference,
        target,
    )
    back = tmp_path / "back"
    skopeo(
        skopeo_env, "copy", "--src-tls-verify=false", "--src-creds", creds, target, f"oci:{back}:v1"
    )
    assert layout_digest(back, "v1") == layout_digest(source.path, "v1")
    started = httpx.post(f"{s3_server.url}/v2/s3/app/blobs/uploads/", auth=s3_server.auth)
    assert started.headers["Location"].startswith("http") == bool(s3_server.args)

    manifest = json.loads(read_blob(source.path, source.top.digest))
    layer = manifest["layers"][0]["digest"]
    response = httpx.get(
        f"{s3_server.url}/v2/s3/app/blobs/{layer}", auth=s3_server.auth, timeout=30
    )
    assert response.status_code == 307
    assert "X-Amz-Signature=" in response.headers["location"]
    fetched = httpx.get(response.headers["location"], timeout=30)
    assert fetched.status_code == 200
    assert fetched.content == read_blob(source.path, layer)
