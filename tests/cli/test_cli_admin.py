"""Admin commands on a stopped server's data directory: lifecycle, gc, backup and restore."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .archives import docker_save
from .conftest import Berth, RegistryServer, write_aws_files

pytestmark = pytest.mark.clients

KEEP_ONE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep the newest image",
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
REPOSITORY = "admin/app"


def _client(server: RegistryServer, home: Path) -> Berth:
    write_aws_files(home)
    return Berth(server, home)


def _populated(start: Callable[[Path], RegistryServer], tmp_path: Path) -> tuple[Berth, str, str]:
    """A server with two images in REPOSITORY (old, new) and a keep-one lifecycle policy."""
    berth = _client(start(tmp_path / "data"), tmp_path / "home")
    berth.ok("ecr", "create-repository", "--repository-name", REPOSITORY)
    host = berth.server.host
    old = berth.ok(
        "push",
        "-q",
        f"docker-archive:{docker_save(tmp_path / 'old.tar').path}",
        f"{host}/{REPOSITORY}:old",
    ).strip()
    new = berth.ok(
        "push",
        "-q",
        f"docker-archive:{docker_save(tmp_path / 'new.tar').path}",
        f"{host}/{REPOSITORY}:new",
    ).strip()
    berth.ok(
        "ecr",
        "put-lifecycle-policy",
        "--repository-name",
        REPOSITORY,
        "--lifecycle-policy-text",
        KEEP_ONE,
    )
    return berth, old, new


def test_lifecycle_then_gc_on_a_stopped_server(
    private_server: Callable[[Path], RegistryServer], tmp_path: Path
) -> None:
    berth, old, new = _populated(private_server, tmp_path)
    berth.server.stop()
    data = str(berth.server.data_dir)

    preview = berth.ok("lifecycle", "run", "--data-dir", data, "--dry-run")
    assert REPOSITORY in preview and "old" in preview
    ran = berth.ok("lifecycle", "run", "--data-dir", data, "--repository", REPOSITORY)
    assert "expired" in ran and "old" in ran
    missing = berth("lifecycle", "run", "--data-dir", data, "--repository", "no/such")
    assert missing.returncode == 1

    young = berth.ok("gc", "--data-dir", data, "--dry-run")
    assert "would remove" in young and "0 (0 B)" in young
    dry = berth.ok("gc", "--data-dir", data, "--dry-run", "--grace-hours", "0")
    assert dry.count("would remove\tsha256:") == 3
    collected = berth.ok("gc", "--data-dir", data, "--grace-hours", "0")
    assert collected.count("removed\tsha256:") == 3
    again = berth.ok("gc", "--data-dir", data, "--grace-hours", "0")
    assert "removed\tsha256:" not in again

    berth.server.start()
    images = json.loads(berth.ok("ecr", "describe-images", "--repository-name", REPOSITORY))
    assert [image["imageDigest"] for image in images["imageDetails"]] == [new]
    assert old != new
    berth.ok("pull", "-q", f"{berth.server.host}/{REPOSITORY}:new", f"oci:{tmp_path / 'out'}")


def test_backup_restore_and_serve(
    private_server: Callable[[Path], RegistryServer], tmp_path: Path
) -> None:
    berth, _, new = _populated(private_server, tmp_path)
    archive = tmp_path / "backup.tar"
    backed = berth.ok(
        "admin", "backup", "--data-dir", str(berth.server.data_dir), "--to", str(archive)
    )
    assert "6 blobs" in backed
    berth.server.stop()

    restored_dir = tmp_path / "restored"
    restored = berth.ok("admin", "restore", "--from", str(archive), "--data-dir", str(restored_dir))
    assert "6 blobs" in restored
    refused = berth("admin", "restore", "--from", str(archive), "--data-dir", str(restored_dir))
    assert refused.returncode == 1 and "--force" in refused.stderr
    berth.ok("admin", "restore", "--from", str(archive), "--data-dir", str(restored_dir), "--force")

    served = _client(private_server(restored_dir), tmp_path / "home2")
    layout = tmp_path / "pulled"
    digest = served.ok("pull", "-q", f"{served.server.host}/{REPOSITORY}:new", f"oci:{layout}")
    assert digest.strip() == new
    policy = json.loads(served.ok("ecr", "get-lifecycle-policy", "--repository-name", REPOSITORY))
    assert json.loads(policy["lifecyclePolicyText"]) == json.loads(KEEP_ONE)


def test_backup_refuses_postgresql(berth: Berth, tmp_path: Path) -> None:
    result = berth(
        "admin",
        "backup",
        "--data-dir",
        str(berth.server.data_dir),
        "--to",
        str(tmp_path / "b.tar"),
        env={"BERTH_DATABASE_URL": "postgresql+asyncpg://berth@127.0.0.1:1/berth"},
    )
    assert result.returncode == 1
    assert "pg_dump" in result.stderr
    assert not (tmp_path / "b.tar").exists()


def test_audit_lists_the_writes(
    private_server: Callable[[Path], RegistryServer], tmp_path: Path
) -> None:
    berth, _, _ = _populated(private_server, tmp_path)
    berth.server.stop()
    data = str(berth.server.data_dir)
    lines = berth.ok("audit", "--data-dir", data, "--json", "--limit", "1000").splitlines()
    events = [json.loads(line) for line in lines]
    actions = {event["action"] for event in events}
    assert {"ecr:PutImage", "ecr:CompleteLayerUpload"} <= actions
    assert all(event["outcome"] == "allow" for event in events if event["action"] == "ecr:PutImage")
    puts = berth.ok("audit", "--data-dir", data, "--json", "--action", "ecr:PutImage")
    assert {json.loads(line)["action"] for line in puts.splitlines()} == {"ecr:PutImage"}
    table = berth.ok("audit", "--data-dir", data, "--limit", "3")
    assert "Audit log (3 events)" in table
    bad = berth("audit", "--data-dir", data, "--since", "yesterday")
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr
