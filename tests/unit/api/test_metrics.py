"""The metrics collectors, in one process and across worker processes (multiprocess mode)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from berth.api.metrics import Metrics, RequestLabels

WORKER = """
import threading
from berth.api.metrics import Metrics, RequestLabels
metrics = Metrics()
metrics.request(RequestLabels("registry", "get_blob"), 200, 0.01, 0, 100)
metrics.authorization("allow")
def download_port():
    metrics.download_answered(200)
    metrics.download_sent(1000)
thread = threading.Thread(target=download_port)
thread.start()
thread.join()
print(metrics.exposition(None).decode())
"""


def test_one_process_counts_its_requests() -> None:
    metrics = Metrics()
    metrics.request(RequestLabels("ecr", "PutImage"), 200, 0.2, 10, 20)
    metrics.request(RequestLabels(), 404, 0.001, 0, 0)
    text = metrics.exposition(2).decode()
    assert 'berth_http_requests_total{operation="PutImage",status="200",surface="ecr"} 1.0' in text
    assert 'berth_http_requests_total{operation="unknown",status="404",surface="other"} 1.0' in text
    assert "berth_upload_sessions_open 2.0" in text
    assert not Metrics().exposition(None).decode().count("} 1.0")


def test_with_a_multiprocess_dir_every_worker_is_added_up(tmp_path: Path) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    outputs = [
        subprocess.run(
            [sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, check=True
        ).stdout
        for _ in range(3)
    ]
    last = outputs[-1]
    assert (
        'berth_http_requests_total{operation="get_blob",status="200",surface="registry"} 3.0'
        in last
    )
    assert 'berth_authorization_decisions_total{outcome="allow"} 3.0' in last
    assert 'berth_http_sent_bytes_total{surface="registry"} 300.0' in last
    assert 'berth_download_port_responses_total{status="200"} 3.0' in last
    assert "berth_download_port_sent_bytes_total 3000.0" in last


def test_the_download_port_is_counted_by_status_and_bytes() -> None:
    metrics = Metrics()
    for status, size in ((200, 1000), (206, 10), (200, 0), (404, 0)):
        metrics.download_answered(status)
        metrics.download_sent(size)
    text = metrics.exposition(None).decode()
    assert 'berth_download_port_responses_total{status="200"} 2.0' in text
    assert 'berth_download_port_responses_total{status="206"} 1.0' in text
    assert 'berth_download_port_responses_total{status="404"} 1.0' in text
    assert "berth_download_port_sent_bytes_total 1010.0" in text


def test_the_upload_port_is_counted_by_status_and_bytes() -> None:
    metrics = Metrics()
    for status in (202, 202, 201, 403):
        metrics.upload_port_answered(status)
    metrics.upload_port_received(1 << 20)
    metrics.upload_port_received(5)
    text = metrics.exposition(None).decode()
    assert 'berth_upload_port_responses_total{status="202"} 2.0' in text
    assert 'berth_upload_port_responses_total{status="403"} 1.0' in text
    assert "berth_upload_port_received_bytes_total 1.048581e+06" in text
