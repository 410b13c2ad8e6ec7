"""``/metrics`` in Prometheus's text format, and the thin ASGI middleware that counts requests.

Requests are counted by surface (registry, ecr, iam, sts, ui, ops), operation (the handler's name,
or the AWS operation's) and status, with their latency and bytes in and out; labels come from
small fixed sets, never from repository names or digests. The services report upload sessions,
authorization decisions and job runs through ``berth.services.telemetry``; the download port, on
a thread of its own, its responses and the bytes it sent (``berth.api.download_port``).

Each app has its own registry. When ``PROMETHEUS_MULTIPROC_DIR`` is set (several server workers),
prometheus-client keeps the values in files there and ``/metrics`` adds up every worker's.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from berth.api.front import service_of_scope

__all__ = ["CONTENT_TYPE", "Metrics", "MetricsMiddleware", "RequestLabels", "label_request"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

_LABELS_KEY = "berth.metrics"
_OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


@dataclass(slots=True)
class RequestLabels:
    """Put in the scope by the middleware; a dispatcher that knows better names the request."""

    surface: str | None = None
    operation: str | None = None


def label_request(scope: Scope, surface: str, operation: str) -> None:
    """Name the request's surface and operation (an AWS dispatcher, once it knows them)."""
    labels = scope.get(_LABELS_KEY)
    if isinstance(labels, RequestLabels):
        labels.surface, labels.operation = surface, operation


@dataclass(frozen=True, slots=True)
class _RequestSeries:
    requests: Counter
    latency: Histogram
    bytes_in: Counter
    bytes_out: Counter


class Metrics:
    """The Prometheus collectors of one app; also the services' ``Telemetry``."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_ENV))
        self.registry = CollectorRegistry()
        registry = self.registry
        route = ["surface", "operation"]
        self.requests = Counter(
            "berth_http_requests", "HTTP requests answered.", [*route, "status"], registry=registry
        )
        self.latency = Histogram(
            "berth_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response.",
            route,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.bytes_in = Counter(
            "berth_http_received_bytes",
            "Request body bytes received.",
            ["surface"],
            registry=registry,
        )
        self.bytes_out = Counter(
            "berth_http_sent_bytes", "Response body bytes sent.", ["surface"], registry=registry
        )
        self.uploads_started = Counter(
            "berth_upload_sessions_started", "Blob upload sessions started.", registry=registry
        )
        self.uploads_finished = Counter(
            "berth_upload_sessions_finished",
            "Blob upload sessions ended, by outcome (completed, cancelled, rejected, expired).",
            ["outcome"],
            registry=registry,
        )
        self.uploads_open = Gauge(
            "berth_upload_sessions_open",
            "Upload sessions open in the registry (all nodes), read at scrape time.",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.decisions = Counter(
            "berth_authorization_decisions",
            "Authorization decisions, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.job_runs = Counter(
            "berth_job_runs",
            "Background job attempts, by outcome (ran, skipped, failed).",
            ["job", "outcome"],
            registry=registry,
        )
        self.job_latency = Histogram(
            "berth_job_duration_seconds",
            "Time a background job's run took.",
            ["job"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.download_responses = Counter(
            "berth_download_port_responses",
            "Responses of the download port, by status.",
            ["status"],
            registry=registry,
        )
        self.download_bytes = Counter(
            "berth_download_port_sent_bytes",
            "Blob bytes the download port sent.",
            registry=registry,
        )
        self.upload_port_responses = Counter(
            "berth_upload_port_responses",
            "Responses of the upload port, by status.",
            ["status"],
            registry=registry,
        )
        self.upload_port_bytes = Counter(
            "berth_upload_port_received_bytes",
            "Upload body bytes the upload port handed to the blob store.",
            registry=registry,
        )
        self._series: dict[tuple[str, str, int], _RequestSeries] = {}
        self._download_statuses: dict[int, Counter] = {}
        self._upload_port_statuses: dict[int, Counter] = {}

    # -- Telemetry --------------------------------------------------------------------------------

    def upload_started(self) -> None:
        self.uploads_started.inc()

    def upload_finished(self, outcome: str, count: int = 1) -> None:
        self.uploads_finished.labels(outcome).inc(count)

    def authorization(self, outcome: str) -> None:
        self.decisions.labels(outcome).inc()

    def job_run(self, job: str, outcome: str, seconds: float) -> None:
        self.job_runs.labels(job, outcome).inc()
        if outcome != "skipped":
            self.job_latency.labels(job).observe(seconds)

    # -- DownloadTelemetry (called on the download port's thread) --------------------------------

    def download_answered(self, status: int) -> None:
        _by_status(self.download_responses, self._download_statuses, status).inc()

    def download_sent(self, size: int) -> None:
        if size:
            self.download_bytes.inc(size)

    # -- UploadTelemetry (called on the worker's loop) -------------------------------------------

    def upload_port_answered(self, status: int) -> None:
        _by_status(self.upload_port_responses, self._upload_port_statuses, status).inc()

    def upload_port_received(self, size: int) -> None:
        self.upload_port_bytes.inc(size)

    # -- requests and exposition ----------------------------------------------------------------

    def request(
        self, labels: RequestLabels, status: int, seconds: float, received: int, sent: int
    ) -> None:
        key = (labels.surface or "other", labels.operation or "unknown", status)
        series = self._series.get(key) or self._new_series(key)
        series.requests.inc()
        series.latency.observe(seconds)
        if received:
            series.bytes_in.inc(received)
        if sent:
            series.bytes_out.inc(sent)

    def _new_series(self, key: tuple[str, str, int]) -> _RequestSeries:
        """The children of one label set, looked up once (``labels()`` costs a few microseconds
        a call); the label sets are few and fixed, so this stays small."""
        surface, operation, status = key
        series = _RequestSeries(
            self.requests.labels(surface, operation, str(status)),
            self.latency.labels(surface, operation),
            self.bytes_in.labels(surface),
            self.bytes_out.labels(surface),
        )
        self._series[key] = series
        return series

    def exposition(self, open_uploads: int | None) -> bytes:
        """The text format; with several workers, every worker's values added up."""
        if open_uploads is not None:
            self.uploads_open.set(open_uploads)
        if not self.multiprocess:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
        return generate_latest(combined)


def _by_status(counter: Counter, children: dict[int, Counter], status: int) -> Counter:
    """``counter``'s child for ``status``, looked up by prometheus-client only the first time."""
    child = children.get(status)
    if child is None:
        child = children[status] = counter.labels(str(status))
    return child


class MetricsMiddleware:
    """Counts each HTTP request once it is answered; the only cost on the path is counters."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        labels = RequestLabels()
        scope[_LABELS_KEY] = labels
        counts = _Counts()
        started = time.perf_counter()
        try:
            await self.app(scope, counts.receiving(receive), counts.sending(send))
        finally:
            _fill_in(labels, scope)
            seconds = time.perf_counter() - started
            self.metrics.request(labels, counts.status, seconds, counts.received, counts.sent)


@dataclass(slots=True)
class _Counts:
    status: int = 500
    received: int = 0
    sent: int = 0
    length: int = 0

    def receiving(
        self, receive: Callable[[], Awaitable[Message]]
    ) -> Callable[[], Awaitable[Message]]:
        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
            return message

        return counted

    def sending(
        self, send: Callable[[Message], Awaitable[None]]
    ) -> Callable[[Message], Awaitable[None]]:
        async def counted(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                self.status = int(message["status"])
                self.length = _content_length(message.get("headers", []))
            elif kind == "http.response.body":
                self.sent += len(message.get("body", b""))
            elif kind == "http.response.pathsend":
                self.sent += self.length
            await send(message)

        return counted


def _content_length(headers: list[tuple[bytes, bytes]]) -> int:
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def _fill_in(labels: RequestLabels, scope: Scope) -> None:
    """The surface from the path, the operation from the route's handler, unless a dispatcher
    named them already."""
    if labels.surface is None:
        labels.surface = _surface(scope)
    if labels.operation is None:
        endpoint = scope.get("endpoint")
        if inspect.isfunction(endpoint) or inspect.ismethod(endpoint):
            labels.operation = endpoint.__name__


def _surface(scope: Scope) -> str:
    path: str = scope.get("path", "")
    if path == "/v2" or path.startswith("/v2/"):
        return "registry"
    if path == "/ui" or path.startswith("/ui/"):
        return "ui"
    if path in _OPS_PATHS:
        return "ops"
    if path == "/":
        service = service_of_scope(scope)
        return service if service in ("ecr", "iam", "sts") else "aws"
    return "other"
