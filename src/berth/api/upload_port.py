"""The upload port: blob upload bodies read on the worker's own loop, beside the ASGI server.

granian hands a request body to Python one network read at a time, each through its runtime
thread, the GIL and the event loop's self-pipe: skopeo's 200 MiB image arrives in about 7,500
pieces and costs 40,000 context switches, which held ``skopeo copy`` in to 0.92-0.97x of
distribution (docs/performance.md). With ``upload_port`` set, ``berth serve`` also listens there,
and an upload's ``Location`` is a signed URL on this port; the client sends its PATCHes, the
closing PUT (and any GET or DELETE of the upload) there, as ECR's clients send layer parts to
wherever ``InitiateLayerUpload`` pointed them.

The URL names the repository, the upload and the caller (``services.downloads.UploadGrant``);
it does not authorize. Each request is decided by IAM exactly as on the registry port
(``ecr:UploadLayerPart``, ``ecr:CompleteLayerUpload``), and the bytes go to the same
``UploadService``, digest-verified, so nothing differs but the socket they arrive on.

This server runs on the worker's own event loop (the services live there), as an
``asyncio.Protocol``: h11 parses each request's head and a chunked body, a Content-Length body
is counted off the socket's reads, and its bytes reach the blob store as the socket gave them.
The handler wakes once ``_PIECE`` bytes wait, and reading stops while ``_HIGH_WATER`` do, so a
fast client costs a few hundred wake-ups per 200 MiB and a slow disk holds the client back. While
a body comes, the socket reports it readable only once ``_PIECE`` bytes (or the rest of the body)
have arrived (``SO_RCVLOWAT``): one read a MiB instead of one per 64 KiB segment, and pieces the
blob store writes and hashes with one call each. A client that sends less than that in a watchdog
tick is read anyway, so slow clients are not mistaken for stalled ones.
Each server worker binds the port with ``SO_REUSEPORT``; an upload may go on on another worker,
as it may behind a load balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl

import h11
from granian.utils.proxies import wrap_asgi_with_proxy_headers

from berth.api.download_urls import UPLOAD_PATH, port_base
from berth.api.oci.uploads import has_body, parse_content_range, upload_headers
from berth.api.side_ports import (
    MAX_HEAD_BYTES,
    STATUSES,
    MethodNotAllowedError,
    NotFoundError,
    header,
)
from berth.errors import (
    BerthError,
    DigestInvalidError,
    RangeInvalidError,
    ServerError,
    SizeInvalidError,
    UnauthorizedError,
    UnsupportedError,
)
from berth.meta.base import Upload
from berth.services import Services
from berth.services.access import Origin
from berth.services.downloads import UploadGrant, verify_upload_token
from berth.types import Digest, RepositoryName

__all__ = ["UploadAddresses", "UploadPort", "UploadTelemetry"]

log = logging.getLogger("berth.api.upload_port")

_TARGET = re.compile(re.escape(UPLOAD_PATH.encode()) + rb"([A-Za-z0-9_.=-]{1,8192})(?:\?(.*))?$")
_PIECE = 1024 * 1024
"""Body bytes gathered before the handler wakes to take them."""
_HIGH_WATER = 4 * _PIECE
"""Body bytes waiting for the handler past which the port stops reading from the client."""
_RCVLOWAT = getattr(socket, "SO_RCVLOWAT", None)
_LINGER = 5.0
"""Seconds an answered connection still drops what its client sends before it is closed, so the
client reads the answer instead of a reset (nginx's ``lingering_close``)."""
_ACTIONS = {
    b"PATCH": "ecr:UploadLayerPart",
    b"PUT": "ecr:CompleteLayerUpload",
    b"GET": "ecr:UploadLayerPart",
    b"DELETE": "ecr:UploadLayerPart",
}
"""What IAM is asked for each method, as the registry port's upload routes ask it."""
_ALLOWED = b"PATCH, PUT, GET, DELETE"


class UploadTelemetry(Protocol):
    """What the upload port tells the metrics (``berth.api.metrics.Metrics``)."""

    def upload_port_answered(self, status: int) -> None:
        """A response was written."""

    def upload_port_received(self, size: int) -> None:
        """``size`` body bytes were handed to the upload service."""


class _NoTelemetry:
    def upload_port_answered(self, status: int) -> None:
        return None

    def upload_port_received(self, size: int) -> None:
        return None


@dataclass(frozen=True, slots=True)
class UploadAddresses:
    """Where clients reach this port and the registry port, for the URLs the answers carry."""

    upload_port: int
    upload_url: str | None
    registry_port: int
    registry_url: str | None
    """``public_url``, when set."""
    registry_scheme: str = "http"
    trusted_proxies: tuple[str, ...] = ()
    """Peers whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` describe the real client."""


class _DisconnectedError(Exception):
    """The client went away, or went quiet, before its request body ended."""


class UploadPort:
    """Serves ``PATCH``/``PUT``/``GET``/``DELETE /v2/_uploads/<token>`` into ``services.uploads``."""

    def __init__(
        self,
        services: Services,
        key: bytes,
        addresses: UploadAddresses,
        *,
        clock: Callable[[], float] | None = None,
        header_timeout: float = 10.0,
        idle_timeout: float = 60.0,
        body_timeout: float = 60.0,
        max_connections: int = 1024,
        telemetry: UploadTelemetry | None = None,
    ) -> None:
        """``body_timeout``: a client that sends nothing of its body for this long is dropped."""
        self.services = services
        self.key = key
        self.addresses = addresses
        self.clock = clock or (lambda: services.downloads.clock().timestamp())
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.body_timeout = body_timeout
        self.max_connections = max_connections
        self.telemetry = telemetry or _NoTelemetry()
        self._forwarded = _forwarded(addresses.trusted_proxies)
        self._connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None

    async def start(self, sock: socket.socket) -> None:
        """Serve the listening socket ``sock`` on the running loop until ``stop()``."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), sock=sock)

    async def stop(self) -> None:
        """Stop accepting; requests still running are cut (their uploads stay where they were)."""
        if self._server is not None:
            self._server.close()
        connections = list(self._connections)
        for connection in connections:
            connection.abort()
        await asyncio.gather(*(c.finished() for c in connections), return_exceptions=True)
        self._server = None

    def admit(self, connection: _Connection) -> bool:
        if len(self._connections) >= self.max_connections:
            return False
        self._connections.add(connection)
        return True

    def release(self, connection: _Connection) -> None:
        self._connections.discard(connection)

    def origin(self, peer: str, request: h11.Request) -> Origin:
        """Where the request came from, for ``aws:SourceIp`` and ``aws:SecureTransport``; behind
        a trusted proxy, read from its headers by the very code the registry port uses."""
        scheme = "https" if (self.addresses.upload_url or "").startswith("https://") else "http"
        if self._forwarded is not None:
            asked = {"type": "http", "client": (peer, 0), "headers": request.headers}
            seen = self._forwarded({**asked, "scheme": scheme}, None, None)
            peer, scheme = str(seen["client"][0]), str(seen["scheme"])
        request_id = header(request, b"x-request-id") or ""
        secure = scheme == "https"
        return Origin(source_ip=peer, request_id=request_id[:200], secure_transport=secure)

    async def answer(self, request: h11.Request, body: _Body, origin: Origin) -> _Answer:
        """The answer to one request; its body is read through ``body`` as the work needs it."""
        host = header(request, b"host") or ""
        try:
            match = _TARGET.match(request.target)
            if match is None:
                target = request.target[:200].decode("latin-1")
                raise NotFoundError(f"{target} is not an upload URL")
            grant = verify_upload_token(self.key, match.group(1).decode(), self.clock())
            query = dict(parse_qsl((match.group(2) or b"").decode("latin-1")))
            return await self._dispatch(
                request, body, origin=origin, host=host, grant=grant, query=query
            )
        except RangeInvalidError as error:  # where to go on from, as the registry port says
            answer = self._error(error, host)
            answer.headers.append((b"location", (await self._location(host, grant)).encode()))
            return answer
        except BerthError as error:
            return self._error(error, host)
        except _DisconnectedError:
            raise
        except Exception:
            log.exception("upload port: %s failed", request.method.decode("latin-1"))
            return self._error(ServerError("internal error; the server log has details"), host)

    async def _dispatch(
        self,
        request: h11.Request,
        body: _Body,
        *,
        origin: Origin,
        host: str,
        grant: UploadGrant,
        query: dict[str, str],
    ) -> _Answer:
        services = self.services
        method = request.method
        action = _ACTIONS.get(method)
        if action is None:
            raise MethodNotAllowedError(
                f"{method.decode('latin-1')} is not supported on an upload URL"
            )
        name = RepositoryName(grant.repository)
        access = services.access
        await access.authorize(grant.principal, action, access.repository_arn(name), origin=origin)
        repository = await services.repositories.get(name)
        upload_id = grant.upload_id
        content_range = parse_content_range(header(request, b"content-range"))
        start, length = content_range if content_range is not None else (None, None)
        if method == b"PATCH":
            upload = await services.uploads.append(
                repository, upload_id, body.read(), start, length
            )
            return await self._upload_answer(202, host, grant, upload)
        if method == b"PUT":
            await services.uploads.get(repository, upload_id)
            digest_param = query.get("digest")
            if not digest_param:
                raise DigestInvalidError(
                    "the digest query parameter is required to complete an upload"
                )
            digest = Digest.parse(digest_param)
            sent = has_body(
                header(request, b"content-length"), header(request, b"transfer-encoding")
            )
            chunks = body.read() if sent else None
            blob = await services.uploads.complete(repository, upload_id, digest, chunks, start)
            registry = self._registry_base(host)
            headers = [
                (b"location", f"{registry}/v2/{name}/blobs/{blob.digest}".encode()),
                (b"docker-content-digest", blob.digest.encode()),
            ]
            return _Answer(201, headers)
        if method == b"GET":
            upload = await services.uploads.get(repository, upload_id)
            return await self._upload_answer(204, host, grant, upload)
        await services.uploads.cancel(repository, upload_id)
        return _Answer(204, [])

    async def _upload_answer(
        self, status: int, host: str, grant: UploadGrant, upload: Upload
    ) -> _Answer:
        location = await self._location(host, grant)
        headers = upload_headers(location, upload)
        del headers["Content-Length"]
        return _Answer(status, [(k.lower().encode(), v.encode()) for k, v in headers.items()])

    async def _location(self, host: str, grant: UploadGrant) -> str:
        """A fresh signed URL for the same upload and caller, on this port."""
        downloads = self.services.downloads
        token = await downloads.sign_upload(grant.repository, grant.upload_id, grant.principal)
        addresses = self.addresses
        base = port_base(host, None, addresses.upload_port, addresses.upload_url)
        return f"{base}{UPLOAD_PATH}{token}"

    def _registry_base(self, host: str) -> str:
        addresses = self.addresses
        url = addresses.registry_url.rstrip("/") if addresses.registry_url else None
        base = port_base(host, None, addresses.registry_port, url, addresses.registry_scheme)
        return base or ""

    def _error(self, error: BerthError, host: str) -> _Answer:
        status = 401 if isinstance(error, UnauthorizedError) else error.status
        headers = [
            (b"content-type", b"application/json"),
            (b"docker-distribution-api-version", b"registry/2.0"),
        ]
        if status == 401:
            realm = self._registry_base(host)
            challenge = f'Basic realm="{realm}/v2/",service="ecr.amazonaws.com"'
            headers.append((b"www-authenticate", challenge.encode()))
        if isinstance(error, RangeInvalidError) and isinstance(error.detail, dict):
            size = int(error.detail.get("size") or 0)
            headers.append((b"range", f"0-{max(size - 1, 0)}".encode()))
        if isinstance(error, MethodNotAllowedError):
            headers.append((b"allow", _ALLOWED))
        return _Answer(status, headers, json.dumps(error.oci_body()).encode())


@dataclass(slots=True)
class _Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""


class _Body:
    """One request's body as it arrives, read by the handler about ``_PIECE`` at a time.

    The pieces are the very ``bytes`` the socket gave (a Content-Length body never passes
    through h11), handed on uncopied: the blob store gathers and writes them with ``writev``.
    """

    def __init__(self, connection: _Connection, expects_continue: bool) -> None:
        self.connection = connection
        self.expects_continue = expects_continue
        self.pieces: list[bytes] = []
        self.size = 0
        self.ended = False
        self.failure: BaseException | None = None
        self._wake = asyncio.Event()

    def feed(self, data: bytes) -> None:
        self.pieces.append(data)
        self.size += len(data)
        if self.size >= _PIECE:
            self._wake.set()
            if self.size >= _HIGH_WATER:
                self.connection.pause()

    def end(self) -> None:
        self.ended = True
        self._wake.set()

    def fail(self, error: BaseException) -> None:
        self.failure = error
        self._wake.set()

    async def read(self) -> AsyncIterator[bytes]:
        """The body's bytes; ``_DisconnectedError`` if it is cut short."""
        if self.expects_continue and not self.size and not self.ended:  # nothing sent yet
            self.connection.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while True:
            if self.failure is not None:
                raise self.failure
            if self.size and (self.ended or self.size >= _PIECE):
                pieces, size, self.pieces, self.size = self.pieces, self.size, [], 0
                self.connection.resume()
                self.connection.port.telemetry.upload_port_received(size)
                for piece in pieces:  # no await between: the loop is not entered per piece
                    yield piece
                continue
            if self.ended:
                return
            self._wake.clear()
            await self._wake.wait()


class _Connection(asyncio.Protocol):
    """One client connection, one request at a time, kept alive while it may be.

    h11 parses each request's head (a new ``h11.Connection`` per request) and a chunked body;
    a Content-Length body is counted off the socket's reads here, and answers are written here.
    """

    def __init__(self, port: UploadPort) -> None:
        loop = asyncio.get_running_loop()
        self.port = port
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.parser: h11.Connection | None = _parser()
        self.body: _Body | None = None
        self.remaining = 0
        """Bytes of a Content-Length body still to come (none while ``parser`` reads one)."""
        self.leftover = b""
        """Bytes past the request being answered: the next request's (pipelined)."""
        self.task: asyncio.Task[None] | None = None
        self.paused = False
        self.client_done = False
        self.lingering = False
        self.linger_until = 0.0
        self.closed = loop.create_future()
        self.last_heard = loop.time()
        self.head_started: float | None = None
        self.watchdog: asyncio.TimerHandle | None = None
        self.low_water = 1
        """Bytes the socket waits for before it reports them (``SO_RCVLOWAT``)."""

    # -- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.port.admit(self):
            transport.abort()
            return
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm()

    def data_received(self, data: bytes) -> None:
        self.last_heard = self.loop.time()
        if self.lingering:
            return
        body = self.body
        if body is not None and not body.ended and self.parser is None:
            if len(data) <= self.remaining:
                taken, data = data, b""
            else:
                taken, data = data[: self.remaining], data[self.remaining :]
            self.remaining -= len(taken)
            if taken:
                body.feed(taken)
            if self.remaining == 0:
                body.end()
            self._set_low_water()
            if not data:
                return
        if self.task is not None and self.parser is None:  # the next request, early
            self.leftover += data
            self.pause()
            return
        if self.head_started is None and self.task is None:
            self.head_started = self.last_heard
        assert self.parser is not None
        self.parser.receive_data(data)
        self._parse()

    def eof_received(self) -> bool | None:
        self.client_done = True
        if self.lingering:
            self._close()
            return None
        body = self.body
        if body is not None and not body.ended:  # cut short
            self._close()
            return None
        if self.task is None:  # between requests, or inside a head
            self._close()
            return None
        return True  # keep the write side open: the answer is on its way

    def connection_lost(self, exc: Exception | None) -> None:
        self.port.release(self)
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        if self.body is not None and not self.body.ended:
            self.body.fail(_DisconnectedError())
        if not self.closed.done():
            self.closed.set_result(None)

    # -- for the port and the body --------------------------------------------------------------

    def abort(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.transport is not None:
            self.transport.abort()

    async def finished(self) -> None:
        await self.closed
        if self.task is not None:
            await asyncio.wait([self.task])

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.transport.is_closing():
            if self.leftover and self.task is not None:
                return  # the next request waits for this one's answer
            self.paused = False
            self.last_heard = self.loop.time()
            self.transport.resume_reading()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    # -- the request cycle ----------------------------------------------------------------------

    def _parse(self) -> None:
        """Take what h11 has made of the bytes so far: a request's head, a chunked body."""
        parser = self.parser
        while parser is not None and self.transport is not None:
            try:
                event = parser.next_event()
            except h11.RemoteProtocolError as error:
                self._malformed(error)
                return
            if event is h11.NEED_DATA:
                return
            if isinstance(event, h11.Request):
                self._start(parser, event)
                parser = self.parser
            elif isinstance(event, h11.Data):
                if self.body is not None:
                    self.body.feed(event.data)
            elif isinstance(event, h11.EndOfMessage):
                if self.body is not None:
                    self.body.end()
                self._take_leftover(parser)
                return
            else:  # ConnectionClosed, or PAUSED after a Connection: close request's end
                return

    def _start(self, parser: h11.Connection, request: h11.Request) -> None:
        if _head_size(request) > MAX_HEAD_BYTES:
            self._malformed(h11.RemoteProtocolError("request line and headers too long", 431))
            return
        self.head_started = None
        expects = (header(request, b"expect") or "").lower() == "100-continue"
        body = self.body = _Body(self, expects)
        origin = self.port.origin(self.peer, request)
        self.task = self.loop.create_task(self._serve(request, body, origin))
        if (header(request, b"transfer-encoding") or "").lower() == "chunked":
            return  # h11 reads the chunks: ``_parse`` goes on with this parser
        self.remaining = int(header(request, b"content-length") or 0)  # h11 checked it
        self._take_leftover(parser)
        self._set_low_water()
        if self.remaining == 0:
            body.end()
        data, self.leftover = self.leftover, b""
        if data:
            self.data_received(data)

    def _take_leftover(self, parser: h11.Connection) -> None:
        """Bytes h11 holds past what it parsed belong to the body, or to the next request."""
        self.parser = None
        self.leftover += parser.trailing_data[0]
        if self.leftover and self.body is not None and self.body.ended:
            self.pause()

    async def _serve(self, request: h11.Request, body: _Body, origin: Origin) -> None:
        try:
            answer = await self.port.answer(request, body, origin)
        except _DisconnectedError:
            self._close()
            return
        if self.transport is None or self.transport.is_closing():
            return
        self._respond(request, answer)

    def _respond(self, request: h11.Request, answer: _Answer) -> None:
        body = self.body
        unread = body is None or not body.ended
        keep = not (unread or self.client_done or _closes(request))
        headers = answer.headers
        if answer.status != 204:  # a 204 carries no Content-Length (RFC 9110)
            headers = [*headers, (b"content-length", str(len(answer.body)).encode())]
        if not keep:
            headers.append((b"connection", b"close"))
        data = _head(answer.status, headers)
        if request.method != b"HEAD":
            data += answer.body
        self.write(data)
        self.port.telemetry.upload_port_answered(answer.status)
        self.task = None
        self.body = None
        if unread:
            self._linger()
        elif not keep:
            self._close()
        else:
            self._next()

    def _next(self) -> None:
        """Ready for the next request; parse what of it already came."""
        self.parser = _parser()
        self.remaining = 0
        self._set_low_water()
        self.last_heard = self.loop.time()
        data, self.leftover = self.leftover, b""
        self.resume()
        if data:
            self.data_received(data)

    def _malformed(self, error: h11.RemoteProtocolError) -> None:
        if self.task is not None:  # inside a chunked body: the handler reads the failure
            if self.body is not None:
                self.body.fail(_DisconnectedError())
            self._close()
            return
        status = error.error_status_hint
        message = f"malformed HTTP request: {error}"[:300]
        bad = SizeInvalidError(message) if status == 431 else UnsupportedError(message)
        body = json.dumps(bad.oci_body()).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        self.write(_head(status, headers) + body)
        self.port.telemetry.upload_port_answered(status)
        self.parser = None
        self._linger()

    def _linger(self) -> None:
        """Half-close after the answer and drop what still comes, for ``_LINGER`` seconds."""
        self.lingering = True
        self.linger_until = self.loop.time() + _LINGER
        self.leftover = b""
        self._set_low_water()
        if self.transport is None:
            return
        self.paused = True  # so that resume() reads again, to drop
        self.resume()
        if self.transport.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                self.transport.write_eof()
        self._arm()

    def _close(self) -> None:
        if self.body is not None and not self.body.ended:
            self.body.fail(_DisconnectedError())
        if self.transport is not None:
            self.transport.close()

    # -- timeouts -------------------------------------------------------------------------------

    def _limit(self) -> float | None:
        """Seconds of silence allowed now, or None while the wait is the server's."""
        port = self.port
        if self.task is not None:
            body = self.body
            if body is None or body.ended or self.paused:
                return None
            return port.body_timeout
        if self.head_started is not None:
            return port.header_timeout
        return port.idle_timeout

    def _arm(self) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
        if self.closed.done():
            return
        self.watchdog = self.loop.call_later(self._tick(), self._check)

    def _tick(self) -> float:
        port = self.port
        return min(1.0, min(port.header_timeout, port.idle_timeout, port.body_timeout) / 4)

    def _set_low_water(self, quiet: bool = False) -> None:
        """A MiB (or the rest) while a Content-Length body comes and the client keeps up; one
        byte otherwise, or once ``quiet`` (nothing read for a tick), to read what trickled in."""
        wanted = 1
        if self.parser is None and self.remaining > 0 and not (quiet or self.lingering):
            wanted = min(_PIECE, self.remaining)
        if wanted == self.low_water or _RCVLOWAT is None or self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, _RCVLOWAT, wanted)
                self.low_water = wanted

    def _check(self) -> None:
        now = self.loop.time()
        if self.lingering:
            if now >= self.linger_until and self.transport is not None:
                self.transport.close()
                return
            self._arm()
            return
        limit = self._limit()
        since = self.head_started if (self.task is None and self.head_started) else self.last_heard
        if limit is not None and now - since >= limit:
            if self.body is not None and self.task is not None:
                self.body.fail(_DisconnectedError())
            if self.transport is not None:
                self.transport.abort()
            return
        if self.low_water > 1 and now - self.last_heard >= self._tick():
            self._set_low_water(quiet=True)
        self._arm()


def _parser() -> h11.Connection:
    return h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)


def _closes(request: h11.Request) -> bool:
    """Whether the client asked to close after this request (or cannot keep a connection)."""
    if request.http_version != b"1.1":
        return True
    return "close" in (header(request, b"connection") or "").lower()


def _head(status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
    reason = HTTPStatus(status).phrase if status in STATUSES else ""
    lines = [f"HTTP/1.1 {status} {reason}".encode()]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _forwarded(proxies: tuple[str, ...]) -> Callable[..., dict[str, Any]] | None:
    """granian's proxy-header reading, as ``app_from_environment`` wraps the registry port in
    it, around an app that hands back the scope it is given; None without trusted proxies."""
    if not proxies:
        return None
    return cast(
        "Callable[..., dict[str, Any]]",
        wrap_asgi_with_proxy_headers(lambda scope, _receive, _send: scope, list(proxies)),
    )


def _head_size(request: h11.Request) -> int:
    """About the bytes of the request line and headers (h11 bounds only a head in pieces)."""
    return len(request.target) + sum(len(k) + len(v) + 4 for k, v in request.headers)
