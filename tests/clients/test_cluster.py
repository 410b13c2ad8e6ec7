"""Three Berth nodes on one PostgreSQL and one S3 bucket (SeaweedFS), as behind a load balancer.

The nodes share nothing but the database, the bucket and their settings (master key, root keys,
account id); each has its own data directory. The tests run in order on one cluster: pushes on one
node and pulls on another, a chunked upload that moves between nodes, and a node killed with
SIGKILL mid-push while the client retries elsewhere. All along, the background jobs run on every
node, one at a time, far more often than in production: garbage collection (every 0.3 s, 5 s grace)
and upload expiry (every 0.5 s, uploads idle for 15 s). Then every acknowledged image is pulled
back from every node, and no upload the killed node left behind survives the expiry job.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from postgres import PostgresServer, new_database
from seaweedfs import SeaweedFS

from .cluster_images import (
    Image,
    check_blob,
    check_image,
    gzipped,
    layered_layout,
    push_raw,
    with_digest,
)
from .conftest import REGION, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, RegistryServer
from .images import (
    Layout,
    layout_digest,
    sha256_digest,
    write_image_layout,
)
from .test_skopeo import skopeo

pytestmark = [
    pytest.mark.clients,
    pytest.mark.postgres,
    pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed"),
]

MIB = 1024 * 1024
TIMEOUT = 60.0
PREFIX = "cluster"
BIG_LAYER = 48 * MIB
GC_GRACE_SECONDS = 5
UPLOAD_IDLE_SECONDS = 15
JOBS = {
    "BERTH_GC_INTERVAL_SECONDS": "0.3",
    "BERTH_GC_GRACE_SECONDS": str(GC_GRACE_SECONDS),
    "BERTH_UPLOAD_EXPIRY_INTERVAL_SECONDS": "0.5",
    "BERTH_UPLOAD_EXPIRY_SECONDS": str(UPLOAD_IDLE_SECONDS),
}
PAUSE_AFTER = 24 * MIB
"""The killed PATCH stops here, after S3 has parts of it (a part is 5 MiB)."""
_FORM_TOKEN = re.compile(r'name="token" value="([^"]+)"')


@dataclass
class Cluster:
    nodes: dict[str, RegistryServer]
    s3: SeaweedFS
    bucket: str
    database_url: str
    policy: Path
    acknowledged: list[Image] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    """Uploads a killed node left unfinished."""

    @property
    def token(self) -> str:
        """Node A's login token; every node accepts it."""
        token = self.nodes["a"].token
        assert token is not None
        return token

    @property
    def creds(self) -> str:
        return f"AWS:{self.token}"

    def client(self, node: str) -> httpx.Client:
        server = self.nodes[node]
        return httpx.Client(base_url=server.url, auth=("AWS", self.token), timeout=TIMEOUT)

    def upload_objects(self) -> list[str]:
        """Keys under the bucket's uploads/ folder (the parts of unfinished uploads)."""
        listing = self.s3.client().list_objects_v2(Bucket=self.bucket, Prefix=f"{PREFIX}/uploads/")
        return [str(entry["Key"]) for entry in listing.get("Contents", [])]


def _node_env(s3: SeaweedFS, bucket: str, database_url: str, master_key: str) -> dict[str, str]:
    options = s3.store_options(bucket, prefix=PREFIX)
    return {
        "BERTH_DATABASE_URL": database_url,
        "BERTH_MASTER_KEY": master_key,
        "BERTH_STORAGE": "s3",
        "BERTH_S3_ENDPOINT": options["endpoint"],
        "BERTH_S3_BUCKET": bucket,
        "BERTH_S3_PREFIX": PREFIX,
        "BERTH_S3_REGION": options["region"],
        "BERTH_S3_ACCESS_KEY_ID": options["access_key_id"],
        "BERTH_S3_SECRET_ACCESS_KEY": options["secret_access_key"],
        **JOBS,
    }


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    seaweedfs: SeaweedFS,
    postgresql_server: PostgresServer,
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    bucket = f"berth-cluster-{uuid.uuid4().hex[:8]}"
    seaweedfs.client().create_bucket(Bucket=bucket)
    database_url = new_database(postgresql_server)
    env = _node_env(seaweedfs, bucket, database_url, base64.b64encode(os.urandom(32)).decode())
    policy = root / "policy.json"
    policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    nodes: dict[str, RegistryServer] = {}
    for name in ("a", "b", "c"):
        node_env = {**env, "BERTH_BLOB_REDIRECT": "true" if name == "c" else "false"}
        nodes[name] = RegistryServer("berth", root / name / "data", root / name, env=node_env)
        (root / name).mkdir()
    try:
        _start_at_once(list(nodes.values()))
        yield Cluster(nodes, seaweedfs, bucket, database_url, policy)
    finally:
        for node in nodes.values():
            node.stop()
        seaweedfs.client().delete_bucket(Bucket=bucket)


def _start_at_once(nodes: list[RegistryServer]) -> None:
    """Start every node together, so they migrate the empty database at the same moment."""
    failures: list[BaseException] = []

    def start(node: RegistryServer) -> None:
        try:
            node.start()
        except BaseException as error:  # pytest.fail raises a BaseException; reported below
            failures.append(error)

    threads = [threading.Thread(target=start, args=(node,), daemon=True) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    if failures:
        raise failures[0]
    assert all(node.token for node in nodes), "a node did not start in time"


@pytest.fixture(autouse=True)
def _registry_auth_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "auth.json"))


# -- helpers --------------------------------------------------------------------------------------


def _push(cluster: Cluster, node: str, layout: Layout, repository: str) -> Image:
    target = f"docker://{cluster.nodes[node].host}/{repository}:{layout.tag}"
    skopeo(
        cluster.policy, "copy", "--dest-tls-verify=false", "--dest-creds", cluster.creds,
        layout.reference, target,
    )  # fmt: skip
    image = Image(repository, layout.tag, layout_digest(layout.path, layout.tag))
    cluster.acknowledged.append(image)
    return image


def _pull(cluster: Cluster, node: str, image: Image, destination: Path) -> str:
    source = f"docker://{cluster.nodes[node].host}/{image.repository}:{image.tag}"
    skopeo(
        cluster.policy, "copy", "--src-tls-verify=false", "--src-creds", cluster.creds,
        source, f"oci:{destination}:{image.tag}",
    )  # fmt: skip
    return layout_digest(destination, image.tag)


def _ecr(server: RegistryServer, key: str, secret: str) -> Any:
    return boto3.client(
        "ecr",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


# -- the tests, in order --------------------------------------------------------------------------


def test_a_token_and_an_access_key_from_one_node_work_on_every_node(cluster: Cluster) -> None:
    for node in cluster.nodes.values():
        response = httpx.get(f"{node.url}/v2/", auth=("AWS", cluster.token), timeout=TIMEOUT)
        assert response.status_code == 200, (node.url, response.text)
    iam = boto3.client(
        "iam",
        endpoint_url=cluster.nodes["a"].url,
        region_name=REGION,
        aws_access_key_id=ROOT_ACCESS_KEY_ID,
        aws_secret_access_key=ROOT_SECRET_ACCESS_KEY,
    )
    iam.create_user(UserName="cluster-ci")
    statement = {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}
    iam.put_user_policy(
        UserName="cluster-ci",
        PolicyName="ecr",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    key = iam.create_access_key(UserName="cluster-ci")["AccessKey"]
    for name in ("b", "c"):
        ecr = _ecr(cluster.nodes[name], key["AccessKeyId"], key["SecretAccessKey"])
        ecr.create_repository(repositoryName=f"cluster/from-{name}")
        data = ecr.get_authorization_token()["authorizationData"][0]
        password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)[1]
        response = httpx.get(
            f"{cluster.nodes['a'].url}/v2/cluster/from-{name}/tags/list",
            auth=("AWS", password),
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text


def test_a_console_session_from_one_node_works_on_every_node(cluster: Cluster) -> None:
    """Sign in on A's console (its sign-in form on B, even); browse on C with the cookie."""
    with (
        httpx.Client(base_url=cluster.nodes["b"].url, timeout=TIMEOUT) as b,
        httpx.Client(base_url=cluster.nodes["a"].url, timeout=TIMEOUT) as a,
    ):
        form_token = _FORM_TOKEN.search(b.get("/ui/login").text)
        assert form_token is not None
        a.cookies = b.cookies
        form = {
            "token": form_token.group(1),
            "method": "key",
            "access_key_id": ROOT_ACCESS_KEY_ID,
            "secret_access_key": ROOT_SECRET_ACCESS_KEY,
            "next": "/ui/",
        }
        signed_in = a.post("/ui/login", data=form)
        assert signed_in.status_code == 303, signed_in.text
        cookies = a.cookies
    with httpx.Client(base_url=cluster.nodes["c"].url, cookies=cookies, timeout=TIMEOUT) as c:
        page = c.get("/ui/repositories")
    assert page.status_code == 200, page.headers
    assert "cluster/from-b" in page.text


def test_pushes_through_a_while_b_serves_pulls(cluster: Cluster, tmp_path: Path) -> None:
    repository = "cluster/app"
    first = _push(cluster, "a", write_image_layout(tmp_path / "v0", "v0"), repository)
    layouts = [write_image_layout(tmp_path / f"v{n}", f"v{n}") for n in range(1, 4)]
    pushed: list[Image] = [first]
    failures: list[BaseException] = []

    def push_all() -> None:
        try:
            for layout in layouts:
                pushed.append(_push(cluster, "a", layout, repository))
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    pusher = threading.Thread(target=push_all, daemon=True)
    pusher.start()
    pulls_during_pushes = 0
    while pusher.is_alive():
        image = pushed[-1]
        back = tmp_path / f"pull-{pulls_during_pushes}"
        assert _pull(cluster, "b", image, back) == image.digest
        pulls_during_pushes += 1
    pusher.join(TIMEOUT)
    assert not failures, failures
    assert pulls_during_pushes >= 1
    for image in pushed:
        assert _pull(cluster, "b", image, tmp_path / f"final-{image.tag}") == image.digest
    with cluster.client("c") as client:
        tags = client.get(f"/v2/{repository}/tags/list").json()["tags"]
    assert sorted(tags) == ["v0", "v1", "v2", "v3"]


def test_a_chunked_upload_started_on_a_finishes_on_b(cluster: Cluster) -> None:
    repository = "cluster/chunked"
    data = os.urandom(13 * MIB + 12345)
    digest = sha256_digest(data)
    cut_a, cut_b = 6 * MIB + 7, 11 * MIB
    with cluster.client("a") as a, cluster.client("b") as b, cluster.client("c") as c:
        started = a.post(f"/v2/{repository}/blobs/uploads/")
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        first = a.patch(
            location,
            content=data[:cut_a],
            headers={"Content-Range": f"0-{cut_a - 1}", "Content-Type": "application/octet-stream"},
        )
        assert first.status_code == 202, first.text
        status = c.get(first.headers["Location"])
        assert status.status_code == 204, status.text
        assert status.headers["Range"] == f"0-{cut_a - 1}"
        second = b.patch(
            first.headers["Location"],
            content=data[cut_a:cut_b],
            headers={
                "Content-Range": f"{cut_a}-{cut_b - 1}",
                "Content-Type": "application/octet-stream",
            },
        )
        assert second.status_code == 202, second.text
        done = b.put(
            with_digest(second.headers["Location"], digest),
            content=data[cut_b:],
            headers={"Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
        assert done.headers["Docker-Content-Digest"] == digest
        for client in (a, b, c):
            assert check_blob(client, repository, digest) is None
    assert not cluster.upload_objects(), "a finished upload left its parts in S3"


def _stored(cluster: Cluster, digest: str) -> bool:
    hex_digest = digest.removeprefix("sha256:")
    key = f"{PREFIX}/blobs/sha256/{hex_digest[:2]}/{hex_digest}"
    listing = cluster.s3.client().list_objects_v2(Bucket=cluster.bucket, Prefix=key)
    return bool(listing.get("Contents"))


def test_gc_during_pushes_deletes_garbage_and_nothing_referenced(
    cluster: Cluster, tmp_path: Path
) -> None:
    """An image is deleted; while its unshared layer waits out the grace period and goes, pushes
    through A and C go on reusing its other layer, which must stay."""
    repository = "cluster/gc"
    shared, unshared = gzipped(2 * MIB), gzipped(MIB)
    doomed = _push(
        cluster, "b", layered_layout(tmp_path / "doomed", "doomed", [shared, unshared]), repository
    )
    cluster.acknowledged.remove(doomed)
    with cluster.client("c") as c:
        deleted = c.delete(f"/v2/{repository}/manifests/{doomed.digest}")
    assert deleted.status_code == 202, deleted.text
    deadline = time.monotonic() + GC_GRACE_SECONDS + 60
    pushes = 0
    while _stored(cluster, sha256_digest(unshared)):
        assert time.monotonic() < deadline, "GC never removed the deleted image's own layer"
        layers = [shared, gzipped(256 * 1024)]
        layout = layered_layout(tmp_path / f"keep-{pushes}", f"keep-{pushes}", layers)
        _push(cluster, "ac"[pushes % 2], layout, repository)
        pushes += 1
    assert pushes >= 2, "the pushes did not overlap garbage collection"
    assert _stored(cluster, sha256_digest(shared))
    with cluster.client("b") as b:
        kept = [image for image in cluster.acknowledged if image.repository == repository]
        problems = [problem for image in kept for problem in check_image(b, image)]
    assert not problems, "\n".join(problems)


class _HeldPush:
    """A monolithic-chunk push with plain httpx whose one big PATCH stops half-way until told."""

    def __init__(self, cluster: Cluster, node: str, repository: str, layer: bytes) -> None:
        self.cluster, self.node, self.repository, self.layer = cluster, node, repository, layer
        self.location = ""
        self.holding = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None

    def body(self) -> Iterator[bytes]:
        for start in range(0, len(self.layer), MIB):
            if start == PAUSE_AFTER:
                self.holding.set()
                self.release.wait(TIMEOUT)
            yield self.layer[start : start + MIB]

    def run(self) -> None:
        try:
            with self.cluster.client(self.node) as client:
                started = client.post(f"/v2/{self.repository}/blobs/uploads/")
                assert started.status_code == 202, started.text
                self.location = started.headers["Location"]
                client.patch(
                    self.location,
                    content=self.body(),
                    headers={
                        "Content-Length": str(len(self.layer)),
                        "Content-Type": "application/octet-stream",
                    },
                )
        except BaseException as error:  # the kill is expected to end this request
            self.error = error
        finally:
            self.holding.set()


def _wait_for_parts(cluster: Cluster, upload_id: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not any(f"/{upload_id}/part-" in key for key in cluster.upload_objects()):
        assert time.monotonic() < deadline, "the held PATCH wrote no part to S3"
        time.sleep(0.05)


def test_node_a_killed_mid_push_and_the_client_retries_through_c(
    cluster: Cluster, tmp_path: Path
) -> None:
    repository = "cluster/killed"
    before = _push(cluster, "a", write_image_layout(tmp_path / "before", "before"), repository)
    layer = os.urandom(BIG_LAYER)
    held = _HeldPush(cluster, "a", repository, layer)
    thread = threading.Thread(target=held.run, daemon=True)
    thread.start()
    assert held.holding.wait(TIMEOUT), "the push through A did not start"
    assert held.error is None, repr(held.error)
    upload_id = held.location.rstrip("/").split("?")[0].rsplit("/", 1)[-1]
    _wait_for_parts(cluster, upload_id)
    cluster.abandoned.append(upload_id)

    cluster.nodes["a"].kill()
    held.release.set()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), "the client hung after node A died"
    assert isinstance(held.error, httpx.TransportError), repr(held.error)

    with cluster.client("c") as c:
        status = c.get(held.location)
        assert status.status_code == 204, status.text
        assert status.headers["Range"] == "0-0", "node C sees bytes A never acknowledged"
        retried = push_raw(c, repository, "retried", layer)
    cluster.acknowledged.append(retried)
    with cluster.client("b") as b:
        assert not check_image(b, retried)
        assert not check_image(b, before)
        tags = b.get(f"/v2/{repository}/tags/list").json()["tags"]
    assert sorted(tags) == ["before", "retried"]


def test_every_acknowledged_image_pulls_intact_from_every_node(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.nodes["a"].restart()
    assert len(cluster.acknowledged) >= 6
    problems: list[str] = []
    for name in cluster.nodes:
        with cluster.client(name) as client:
            for image in cluster.acknowledged:
                problems += check_image(client, image)
    assert not problems, "\n".join(problems)
    last = cluster.acknowledged[-2]
    for name in cluster.nodes:
        assert _pull(cluster, name, last, tmp_path / f"skopeo-{name}") == last.digest


def test_only_the_killed_upload_left_objects_behind(cluster: Cluster) -> None:
    """Completed uploads removed their parts; no multipart upload was left open."""
    s3 = cluster.s3.client()
    assert not s3.list_multipart_uploads(Bucket=cluster.bucket).get("Uploads")
    owners = {key.split("/")[2] for key in cluster.upload_objects()}
    assert owners <= set(cluster.abandoned), owners - set(cluster.abandoned)


def _upload_rows(cluster: Cluster) -> int:
    url = make_url(cluster.database_url)
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    ) as conn:
        row = conn.execute("SELECT count(*) FROM uploads").fetchone()
    assert row is not None
    return int(row[0])


def test_no_orphaned_upload_survives_the_expiry_job(cluster: Cluster) -> None:
    """The killed node's upload (its row, its parts) goes once idle; nothing else is left."""
    assert cluster.abandoned, "the kill test left no upload behind to expire"
    deadline = time.monotonic() + UPLOAD_IDLE_SECONDS + 60
    s3 = cluster.s3.client()
    while True:
        left = {
            "objects under uploads/": len(cluster.upload_objects()),
            "multipart uploads": len(
                s3.list_multipart_uploads(Bucket=cluster.bucket).get("Uploads", [])
            ),
            "upload rows": _upload_rows(cluster),
        }
        if not any(left.values()):
            return
        assert time.monotonic() < deadline, f"left after the expiry job: {left}"
        time.sleep(0.5)
