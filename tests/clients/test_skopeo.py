"""skopeo copies, inspects, lists and deletes images in a real registry."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from .conftest import RegistryServer
from .images import (
    DOCKER_MANIFEST,
    Layout,
    layout_digest,
    read_blob,
    write_docker_dir,
    write_image_layout,
    write_multiarch_layout,
)

pytestmark = [
    pytest.mark.clients,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]

TIMEOUT = 120


@pytest.fixture
def skopeo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep skopeo away from the user's credentials and policy."""
    policy = tmp_path / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "auth.json"))
    return policy


def skopeo(policy: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["skopeo", "--policy", str(policy), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"`{' '.join(command)}` failed ({result.returncode}):\n{result.stderr}")
    return result


def creds(server: RegistryServer, flag: str) -> list[str]:
    return [flag, server.creds] if server.creds else []


def remote(server: RegistryServer, repository: str, tag: str) -> str:
    return f"docker://{server.host}/{repository}:{tag}"


def push(policy: Path, server: RegistryServer, layout: Layout, target: str, *extra: str) -> None:
    skopeo(
        policy,
        "copy",
        *extra,
        "--dest-tls-verify=false",
        *creds(server, "--dest-creds"),
        layout.reference,
        target,
    )


def pull(policy: Path, server: RegistryServer, source: str, destination: str, *extra: str) -> None:
    skopeo(
        policy,
        "copy",
        *extra,
        "--src-tls-verify=false",
        *creds(server, "--src-creds"),
        source,
        destination,
    )


def inspect_raw(policy: Path, server: RegistryServer, target: str) -> bytes:
    args = ["inspect", "--raw", "--tls-verify=false", *creds(server, "--creds"), target]
    return skopeo(policy, *args).stdout.encode()


def tampered(token: str) -> str:
    """The token with eight characters in its middle changed (so not only unused bits)."""
    middle = len(token) // 2
    changed = "".join("x" if c != "x" else "y" for c in token[middle : middle + 8])
    return token[:middle] + changed + token[middle + 8 :]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_copy_image_in_and_out_keeps_digests(
    skopeo_env: Path, berth_server: RegistryServer, repository: str, tmp_path: Path
) -> None:
    layout = write_image_layout(tmp_path / "in", "v1", layer_count=3)
    target = remote(berth_server, repository, "v1")
    push(skopeo_env, berth_server, layout, target)

    assert digest_of(inspect_raw(skopeo_env, berth_server, target)) == layout.top.digest

    out = tmp_path / "out"
    pull(skopeo_env, berth_server, target, f"oci:{out}:v1")
    assert layout_digest(out, "v1") == layout.top.digest
    manifest = json.loads(read_blob(out, layout.top.digest))
    assert len(manifest["layers"]) == 3
    for descriptor in [manifest["config"], *manifest["layers"]]:
        copied = read_blob(out, descriptor["digest"])
        assert copied == read_blob(layout.path, descriptor["digest"])


def test_copy_multiarch_index_with_all_keeps_digests(
    skopeo_env: Path, berth_server: RegistryServer, repository: str, tmp_path: Path
) -> None:
    layout = write_multiarch_layout(tmp_path / "in", "multi")
    target = remote(berth_server, repository, "multi")
    push(skopeo_env, berth_server, layout, target, "--all")

    raw = inspect_raw(skopeo_env, berth_server, target)
    assert digest_of(raw) == layout.top.digest
    platforms = {entry["platform"]["architecture"] for entry in json.loads(raw)["manifests"]}
    assert platforms == {"amd64", "arm64"}

    out = tmp_path / "out"
    pull(skopeo_env, berth_server, target, f"oci:{out}:multi", "--all")
    assert layout_digest(out, "multi") == layout.top.digest
    for child in layout.children:
        assert read_blob(out, child.digest) == read_blob(layout.path, child.digest)


def test_copy_docker_schema2_image_keeps_digest(
    skopeo_env: Path, berth_server: RegistryServer, repository: str, tmp_path: Path
) -> None:
    layout = write_docker_dir(tmp_path / "in")
    target = remote(berth_server, repository, "docker")
    push(skopeo_env, berth_server, layout, target)

    raw = inspect_raw(skopeo_env, berth_server, target)
    assert digest_of(raw) == layout.top.digest
    assert json.loads(raw)["mediaType"] == DOCKER_MANIFEST

    out = tmp_path / "out"
    pull(skopeo_env, berth_server, target, f"dir:{out}")
    assert digest_of((out / "manifest.json").read_bytes()) == layout.top.digest


def test_copy_with_format_v2s2_converts_to_docker_schema2(
    skopeo_env: Path, berth_server: RegistryServer, repository: str, tmp_path: Path
) -> None:
    layout = write_image_layout(tmp_path / "in", "v1")
    target = remote(berth_server, repository, "v2s2")
    push(skopeo_env, berth_server, layout, target, "--format", "v2s2")

    raw = inspect_raw(skopeo_env, berth_server, target)
    assert json.loads(raw)["mediaType"] == DOCKER_MANIFEST
    args = ["inspect", "--tls-verify=false", *creds(berth_server, "--creds"), target]
    assert json.loads(skopeo(skopeo_env, *args).stdout)["Digest"] == digest_of(raw)

    out = tmp_path / "out"
    pull(skopeo_env, berth_server, target, f"dir:{out}")
    assert (out / "manifest.json").read_bytes() == raw


def test_inspect_reports_digest_tags_and_platform(
    skopeo_env: Path, berth_server: RegistryServer, repository: str, tmp_path: Path
) -> None:
    layout = write_image_layout(tmp_path / "in", "v1")
    push(skopeo_env, berth_server, layout, remote(berth_server, repository, "v1"))
    args = ["inspect", "--tls-verify=false", *creds(berth_server, "--creds")]
    info = json.loads(skopeo(skopeo_env, *args, remote(berth_server, repository, "v1")).stdout)
    assert info["Digest"] == layout.top.digest
    assert info["RepoTags"] == ["v1"]
    assert (info["Os"], info["Architecture"]) == ("linux", "amd64")
    assert len(info["Layers"]) == 3


def test_list_tags_lists_every_tag(
    skopeo_env: Path, berth_server: RegistryServer, repository: str, tmp_path: Path
) -> None:
    layout = write_image_layout(tmp_path / "in", "v1", layer_count=1)
    tags = ["v1", "v2", "latest", "release-2024.01"]
    for tag in tags:
        push(skopeo_env, berth_server, layout, remote(berth_server, repository, tag))
    args = ["list-tags", "--tls-verify=false", *creds(berth_server, "--creds")]
    listing = json.loads(
        skopeo(skopeo_env, *args, f"docker://{berth_server.host}/{repository}").stdout
    )
    assert sorted(listing["Tags"]) == sorted(tags)


def test_delete_removes_the_image(
    skopeo_env: Path, berth_server: RegistryServer, repository: str, tmp_path: Path
) -> None:
    layout = write_image_layout(tmp_path / "in", "v1", layer_count=1)
    target = remote(berth_server, repository, "v1")
    push(skopeo_env, berth_server, layout, target)
    skopeo(skopeo_env, "delete", "--tls-verify=false", *creds(berth_server, "--creds"), target)

    args = ["inspect", "--raw", "--tls-verify=false", *creds(berth_server, "--creds"), target]
    result = skopeo(skopeo_env, *args, check=False)
    assert result.returncode != 0
    assert "manifest unknown" in result.stderr.lower()


@pytest.mark.usefixtures("needs_auth")
def test_anonymous_access_is_refused(
    skopeo_env: Path, berth_server: RegistryServer, repository: str, tmp_path: Path
) -> None:
    layout = write_image_layout(tmp_path / "in", "v1", layer_count=1)
    target = remote(berth_server, repository, "v1")
    push(skopeo_env, berth_server, layout, target)

    challenge = httpx.get(f"{berth_server.url}/v2/", timeout=30)
    assert challenge.status_code == 401
    assert challenge.headers["WWW-Authenticate"].startswith("Basic realm=")

    pulled = skopeo(skopeo_env, "inspect", "--tls-verify=false", "--no-creds", target, check=False)
    assert pulled.returncode != 0
    assert "unauthorized" in pulled.stderr.lower()

    args = ["copy", "--dest-tls-verify=false", "--dest-no-creds", layout.reference, target]
    pushed = skopeo(skopeo_env, *args, check=False)
    assert pushed.returncode != 0
    assert "unauthorized" in pushed.stderr.lower()


@pytest.mark.usefixtures("needs_auth")
def test_wrong_password_is_refused(
    skopeo_env: Path, berth_server: RegistryServer, repository: str, tmp_path: Path
) -> None:
    layout = write_image_layout(tmp_path / "in", "v1", layer_count=1)
    target = remote(berth_server, repository, "v1")
    wrong = "AWS:" + tampered(berth_server.token or "")
    pushed = skopeo(
        skopeo_env,
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        wrong,
        layout.reference,
        target,
        check=False,
    )
    assert pushed.returncode != 0
    assert "unauthorized" in pushed.stderr.lower()

    result = skopeo(
        skopeo_env,
        "inspect",
        "--tls-verify=false",
        "--creds",
        "AWS:not-a-token",
        target,
        check=False,
    )
    assert result.returncode != 0
    assert "unauthorized" in result.stderr.lower()
