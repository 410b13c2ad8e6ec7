"""create_app(settings): the only wiring point. Builds the services once and mounts the surfaces."""

from __future__ import annotations

import base64
import gc
import json
import logging
import os
import secrets
import socket
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from anyio import to_thread
from granian.utils.proxies import wrap_asgi_with_proxy_headers
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from berth.api.aws import AwsContext
from berth.api.download_port import DownloadPort
from berth.api.ecr import ecr_app
from berth.api.front import AwsFrontDoor
from berth.api.iam import query_app
from berth.api.metrics import CONTENT_TYPE, Metrics, MetricsMiddleware
from berth.api.oci.context import RegistryContext
from berth.api.oci.routes import registry_app
from berth.api.side_ports import bind_port
from berth.api.upload_port import UploadAddresses, UploadPort
from berth.auth.credentials import ChainedCredentials, Credential, StaticCredentials
from berth.auth.keys import DatabaseCredentials
from berth.auth.middleware import RegistryAuthentication
from berth.auth.sigv4 import KeyMaterial
from berth.auth.tokens import TokenSigner
from berth.meta.base import MetaStore
from berth.meta.sql import open_meta_store
from berth.meta.sql_catalog import SqlCatalogReader
from berth.secrets import SecretBox, master_key
from berth.services import Services, build_services, utc_now
from berth.services.console import session_key
from berth.services.jobs import Job, JobScheduler
from berth.services.sign_in_throttle import SignInPolicy
from berth.settings import Settings, SettingsError, load_settings
from berth.storage import open_blob_store
from berth.storage.base import BlobStore
from berth.types import Principal
from berth.web import console_app

__all__ = [
    "BerthApp",
    "RootCredentials",
    "app_from_environment",
    "create_app",
    "resolve_account",
    "root_credentials",
    "sign_in_policy",
    "token_signer",
]

log = logging.getLogger("berth")

_TOKEN_KEY_SETTING = "registry_token_key"
_ROOT_FILE = "root-credentials.json"
_ACCOUNT_FILE = "account-id"
_ACCOUNT_SETTING = "account_id"


@dataclass(frozen=True, slots=True)
class RootCredentials:
    access_key_id: str
    secret_access_key: str
    created: bool = False
    path: Path | None = None


def _new_access_key_id() -> str:
    alphabet = string.ascii_uppercase + "234567"
    return "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))


def resolve_account(settings: Settings) -> Settings:
    """Settings with an account id: as configured, else kept in the data dir, else a new one."""
    if settings.account_id is not None:
        return settings
    path = settings.data_dir / _ACCOUNT_FILE
    if path.exists():
        return settings.with_overrides(account_id=path.read_text().strip())
    account = str(secrets.randbelow(9 * 10**11) + 10**11)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(account + "\n")
    return settings.with_overrides(account_id=account)


async def _bind_account(meta: MetaStore, account: str) -> None:
    """A database belongs to one account; starting it under another is a start-up error."""
    async with meta.transaction() as tx:
        stored = await tx.settings.put_if_absent(_ACCOUNT_SETTING, account)
    if stored != account:
        raise SettingsError(
            f"this database belongs to account {stored}, but the account id is set to {account}"
        )


def root_credentials(settings: Settings) -> RootCredentials:
    """From settings, else from the data dir, else generated once and kept there (mode 0600)."""
    if settings.root_access_key_id and settings.root_secret_access_key:
        return RootCredentials(settings.root_access_key_id, settings.root_secret_access_key)
    path = settings.data_dir / _ROOT_FILE
    if path.exists():
        stored = json.loads(path.read_text())
        return RootCredentials(stored["access_key_id"], stored["secret_access_key"], path=path)
    credentials = RootCredentials(_new_access_key_id(), secrets.token_urlsafe(30)[:40], True, path)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(
            {
                "access_key_id": credentials.access_key_id,
                "secret_access_key": credentials.secret_access_key,
            },
            handle,
        )
    return credentials


async def token_signer(meta: MetaStore) -> TokenSigner:
    """The signer every node shares: its key lives in the database (first writer wins)."""
    async with meta.transaction() as tx:
        stored = await tx.settings.put_if_absent(
            _TOKEN_KEY_SETTING, base64.b64encode(secrets.token_bytes(32)).decode()
        )
    return TokenSigner(base64.b64decode(stored))


def open_blobs(settings: Settings) -> BlobStore:
    if settings.storage == "filesystem":
        return open_blob_store("filesystem", root=settings.resolved_storage_path)
    if settings.storage == "s3":
        return open_blob_store(
            "s3",
            bucket=settings.s3_bucket,
            endpoint=settings.s3_endpoint,
            prefix=settings.s3_prefix,
            region=settings.s3_region or settings.region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    return open_blob_store(settings.storage)


async def not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    message = "no such endpoint" if status == 404 else "method not allowed"
    return JSONResponse({"message": message}, status_code=status)


async def home(request: Request) -> Response:
    return RedirectResponse("/ui/", status_code=307)


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    berth: BerthApp = request.app.state.berth
    try:
        await berth.services.meta.check()
        await berth.services.blobs.check()
    except Exception as error:  # readiness reports any failure, whatever its kind
        return JSONResponse({"ready": False, "reason": type(error).__name__}, status_code=503)
    return JSONResponse({"ready": True})


async def metrics(request: Request) -> Response:
    berth: BerthApp = request.app.state.berth
    try:
        async with berth.services.meta.read() as tx:
            open_uploads: int | None = await tx.uploads.count()
    except Exception:  # the database being down must not take the metrics with it
        log.warning("metrics: could not count open upload sessions", exc_info=True)
        open_uploads = None
    return Response(berth.metrics.exposition(open_uploads), media_type=CONTENT_TYPE)


def sign_in_policy(settings: Settings) -> SignInPolicy:
    return SignInPolicy(
        max_failures=settings.sign_in_max_failures,
        window=timedelta(seconds=settings.sign_in_window_seconds),
        lockout=timedelta(seconds=settings.sign_in_lockout_seconds),
        max_lockout=timedelta(seconds=settings.sign_in_max_lockout_seconds),
    )


def node_name() -> str:
    """This process, as job runs in the audit log name it."""
    return f"{socket.gethostname()}:{os.getpid()}"


class BerthApp:
    """The ASGI application. Resources open at lifespan start (or ``startup()`` in tests)."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = resolve_account(settings)
        self.clock = clock
        self._router: Starlette | None = None
        self._app: MetricsMiddleware | None = None
        self._services: Services | None = None
        self._signer: TokenSigner | None = None
        self._jobs: JobScheduler | None = None
        self._download_port: DownloadPort | None = None
        self._upload_port: UploadPort | None = None
        self.metrics = Metrics()

    @property
    def services(self) -> Services:
        assert self._services is not None, "BerthApp.startup() has not run"
        return self._services

    @property
    def signer(self) -> TokenSigner:
        assert self._signer is not None, "BerthApp.startup() has not run"
        return self._signer

    async def startup(self) -> None:
        settings = self.settings
        meta = await open_meta_store(
            settings.resolved_database_url,
            registry_id=settings.account,
            pool_size=settings.database_pool_size,
        )
        try:
            await _bind_account(meta, settings.account)
        except SettingsError:
            await meta.close()
            raise
        self._signer = await token_signer(meta)
        console_key = await session_key(meta)
        self._box = SecretBox(master_key(settings))
        self._services = build_services(
            meta,
            open_blobs(settings),
            account=settings.account,
            region=settings.region,
            max_manifest_bytes=settings.max_manifest_bytes,
            clock=self.clock,
            secret_box=self._box,
            root_access_key_id=root_credentials(settings).access_key_id,
            upload_expiry=timedelta(seconds=settings.upload_expiry_seconds),
            gc_grace=timedelta(seconds=settings.gc_grace_seconds),
            telemetry=self.metrics,
            sign_in_policy=sign_in_policy(settings),
        )
        registry = registry_app(
            RegistryContext(
                self._services,
                settings.public_url,
                settings.blob_redirect,
                settings.download_port,
                settings.download_url,
                settings.upload_port,
                settings.upload_url,
            )
        )
        aws = self._aws_context()
        router = Starlette(
            routes=[
                Mount("/v2", app=RegistryAuthentication(registry, self._signer, settings.account)),
                Route("/healthz", healthz, methods=["GET"]),
                Route("/readyz", readyz, methods=["GET"]),
                Route("/metrics", metrics, methods=["GET"]),
                Route("/", AwsFrontDoor(ecr_app(aws), query_app(aws)), methods=["POST"]),
                Route("/", home, methods=["GET"]),
                Mount(
                    "/ui",
                    app=console_app(
                        self._services,
                        SqlCatalogReader(meta.engine),
                        aws.credentials,
                        console_key,
                        settings.public_url,
                    ),
                ),
            ],
            exception_handlers={HTTPException: not_found},
        )
        router.state.berth = self
        self._router = router
        self._app = MetricsMiddleware(router, self.metrics)
        self._jobs = self._scheduler()
        self._jobs.start()
        self._services.audit.start()

    @property
    def jobs(self) -> JobScheduler:
        assert self._jobs is not None, "BerthApp.startup() has not run"
        return self._jobs

    def _scheduler(self) -> JobScheduler:
        services, settings = self.services, self.settings

        async def expire_uploads() -> str:
            return (await services.upload_expiry.run()).summary()

        async def expire_images() -> str:
            return f"expired {len(await services.lifecycle.run())} image(s)"

        async def collect_garbage() -> str:
            return (await services.gc.run()).summary()

        async def purge_sign_in_failures() -> str:
            return f"dropped {await services.sign_in_throttle.purge()} sign-in failure counter(s)"

        purge_interval = settings.sign_in_window_seconds if settings.sign_in_max_failures else 0
        jobs = [
            Job("upload-expiry", settings.upload_expiry_interval_seconds, expire_uploads),
            Job("lifecycle", settings.lifecycle_interval_seconds, expire_images),
            Job("gc", settings.gc_interval_seconds, collect_garbage),
            Job("sign-in-failures", purge_interval, purge_sign_in_failures),
        ]
        return JobScheduler(
            services.meta,
            jobs,
            node=node_name(),
            clock=self.clock,
            audit=services.audit,
            observe=self.metrics.job_run,
        )

    def _aws_context(self) -> AwsContext:
        settings = self.settings
        root = root_credentials(settings)
        principal = Principal.root(settings.account, root.access_key_id)
        static = StaticCredentials(
            {root.access_key_id: Credential(KeyMaterial(root.secret_access_key), principal)}
        )
        database = DatabaseCredentials(self.services.meta, self._box, settings.account)
        credentials = ChainedCredentials([static, database])
        return AwsContext(
            services=self.services,
            credentials=credentials,
            account=settings.account,
            region=settings.region,
            public_url=settings.public_url,
            issue_token=lambda who: self.signer.issue(who, settings.token_ttl_seconds),
            clock=self.clock,
            download_port=settings.download_port,
            download_url=settings.download_url,
        )

    async def serve_download_port(self) -> None:
        """Listen on ``download_port`` too, beside this worker's siblings (``SO_REUSEPORT``)."""
        settings = self.settings
        if settings.download_port is None or self._download_port is not None:
            return
        key = await self.services.downloads.signing_key()
        sock = bind_port(settings.host, settings.download_port, reuse_port=True)
        self._download_port = DownloadPort(
            settings.resolved_storage_path, key, telemetry=self.metrics
        )
        self._download_port.start(sock)

    async def serve_upload_port(self) -> None:
        """Take upload bodies on ``upload_port`` too, on this worker's loop (``SO_REUSEPORT``)."""
        settings = self.settings
        if settings.upload_port is None or self._upload_port is not None:
            return
        key = await self.services.downloads.signing_key()
        addresses = UploadAddresses(
            upload_port=settings.upload_port,
            upload_url=settings.upload_url,
            registry_port=settings.port,
            registry_url=settings.public_url,
            registry_scheme="https" if settings.tls else "http",
            trusted_proxies=settings.trusted_proxy_hosts,
        )
        port = UploadPort(self.services, key, addresses, telemetry=self.metrics)
        await port.start(bind_port(settings.host, settings.upload_port, reuse_port=True))
        self._upload_port = port

    async def shutdown(self) -> None:
        if self._upload_port is not None:
            await self._upload_port.stop()
            self._upload_port = None
        if self._download_port is not None:
            await to_thread.run_sync(self._download_port.stop)
            self._download_port = None
        if self._jobs is not None:
            await self._jobs.stop()
        if self._services is not None:
            await self._services.audit.stop()
            await self._services.blobs.close()
            await self._services.meta.close()

    def issue_root_token(self, access_key_id: str = "") -> str:
        principal = Principal.root(self.settings.account, access_key_id)
        return self.signer.issue(principal, self.settings.token_ttl_seconds).token

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        assert self._app is not None, "the lifespan has not started"
        await self._app(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                    await self.serve_download_port()
                    await self.serve_upload_port()
                except Exception as error:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                _freeze_startup_objects()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _freeze_startup_objects() -> None:
    """Keep what the server holds from start-up (modules, the app, its pools) out of garbage
    collection: a full collection then scans only what requests left behind, a few milliseconds
    instead of a pause of tens of milliseconds that stalls every request in flight.

    No collection first: it would write to every object's header, copying the memory pages the
    worker still shares with the process it was forked from (26 MB more PSS, measured)."""
    gc.freeze()


def create_app(settings: Settings, clock: Callable[[], datetime] = utc_now) -> BerthApp:
    return BerthApp(settings, clock)


def app_from_environment() -> Any:
    """The factory each server worker calls: settings come from BERTH_* variables.

    Behind trusted proxies (``BERTH_TRUSTED_PROXIES``) the client address and scheme come from
    their ``X-Forwarded-For`` and ``X-Forwarded-Proto`` headers, so ``aws:SourceIp`` and
    ``aws:SecureTransport`` describe the real client.
    """
    settings = load_settings()
    berth = create_app(settings)
    if not settings.trusted_proxy_hosts:
        return berth
    return wrap_asgi_with_proxy_headers(berth, trusted_hosts=list(settings.trusted_proxy_hosts))
