"""/metrics: Prometheus's text format, after a few requests on each surface."""

from __future__ import annotations

import json
import re

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from prometheus_client.parser import text_string_to_metric_families

from berth.app import BerthApp, root_credentials

from .conftest import BASE_URL
from .oci import push_blob

TARGET = "AmazonEC2ContainerRegistry_V20150921."


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


async def ecr(app: BerthApp, anon: httpx.AsyncClient, operation: str, body: object) -> int:
    root = root_credentials(app.settings)
    data = json.dumps(body).encode()
    headers = {"X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.1"}
    request = AWSRequest(method="POST", url=BASE_URL + "/", data=data, headers=headers)
    credentials = Credentials(root.access_key_id, root.secret_access_key)
    SigV4Auth(credentials, "ecr", app.settings.region).add_auth(request)
    prepared = request.prepare()
    response = await anon.post("/", content=data, headers=dict(prepared.headers.items()))
    return response.status_code


async def test_requests_uploads_and_decisions_are_counted(
    app: BerthApp, client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    assert (await client.get("/v2/")).status_code == 200
    data = b"counted bytes" * 100
    await push_blob(client, "metrics/web", data)
    assert (await client.get("/v2/metrics/web/blobs/sha256:" + "0" * 64)).status_code == 404
    assert (await client.get("/v2/no/such/route/at/all/x")).status_code == 404
    assert (await anon.get("/v2/")).status_code == 401
    assert (await anon.get("/v2/metrics/web/tags/list")).status_code == 401
    assert await ecr(app, anon, "DescribeRepositories", {}) == 200
    assert (
        await anon.post("/", data={"Action": "ListUsers", "Version": "2010-05-08"})
    ).status_code == 403
    assert (await anon.get("/healthz")).status_code == 200

    response = await anon.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    requests = "berth_http_requests_total"
    assert value(text, requests, surface="registry", operation="get_base", status="200") == 1
    assert value(text, requests, surface="registry", operation="get_base", status="401") == 1
    assert value(text, requests, surface="registry", operation="start_upload", status="202") == 1
    assert value(text, requests, surface="registry", operation="complete_upload", status="201") == 1
    assert value(text, requests, surface="registry", operation="get_blob", status="404") == 1
    assert value(text, requests, surface="ecr", operation="DescribeRepositories", status="200") == 1
    assert value(text, requests, surface="iam", operation="ListUsers", status="403") == 1
    assert value(text, requests, surface="ops", operation="healthz", status="200") == 1
    assert value(text, "berth_http_received_bytes_total", surface="registry") >= len(data)
    assert value(text, "berth_http_sent_bytes_total", surface="ops") == 2
    assert value(text, "berth_upload_sessions_started_total") == 1
    assert value(text, "berth_upload_sessions_finished_total", outcome="completed") == 1
    assert value(text, "berth_upload_sessions_open") == 0
    assert value(text, "berth_authorization_decisions_total", outcome="allow") >= 3
    assert value(text, "berth_authorization_decisions_total", outcome="implicit-deny") >= 1
    histogram = "berth_http_request_duration_seconds_count"
    assert value(text, histogram, surface="registry", operation="start_upload") == 1


async def test_no_repository_name_or_digest_becomes_a_label(
    app: BerthApp, client: httpx.AsyncClient
) -> None:
    for n in range(3):
        await push_blob(client, f"metrics/repo-{n}", f"blob {n}".encode())
    text = (await client.get("/metrics")).text
    assert "repo-" not in text
    assert not re.search(r"sha256:[0-9a-f]{8}", text)


async def test_an_open_session_and_a_job_run_show(app: BerthApp, client: httpx.AsyncClient) -> None:
    assert (await client.post("/v2/metrics/web/blobs/uploads/")).status_code == 202
    await app.jobs.run("gc")
    async with app.services.meta.exclusive("job:gc"):
        await app.jobs.run("gc")
    text = (await client.get("/metrics")).text
    assert value(text, "berth_upload_sessions_open") == 1
    assert value(text, "berth_job_runs_total", job="gc", outcome="ran") == 1
    assert value(text, "berth_job_runs_total", job="gc", outcome="skipped") == 1
    assert value(text, "berth_job_duration_seconds_count", job="gc") == 1
