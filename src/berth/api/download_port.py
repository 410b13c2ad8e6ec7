"""The download port: blob bytes sent by the kernel (``sendfile``), beside the ASGI server.

granian sends a file response by reading it in 128 KiB pieces and copying each through user space
(docs/performance.md), which holds a pull to about 0.7x of nginx. With ``download_port`` set,
``berth serve`` also listens there, and a whole-blob GET on the registry answers 307 with a signed
URL on this port, as ECR answers with a presigned S3 URL. Clients follow it without credentials:
the URL is the credential (``services.downloads``), naming one blob until it expires.

This server knows the HMAC key and the blob folder, nothing else: no database and no IAM, since
the registry decided before it signed. Each server worker runs one in a thread of its own, all
bound to the port (``SO_REUSEPORT``): HTTP/1.1 parsed by h11, on raw non-blocking sockets of a
stdlib asyncio loop, the file sent with ``os.sendfile`` from the socket's writability callback
(to a client on this machine, copied instead: see ``_Copier``).
It reports each response's status and the body bytes it sent to a ``DownloadTelemetry``
(``berth.api.metrics.Metrics``): a few counter increments per response, none per byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO, Protocol

import h11

from berth.api.download_urls import DOWNLOAD_PATH
from berth.api.oci.blobs import parse_range
from berth.api.side_ports import (
    MAX_HEAD_BYTES,
    STATUSES,
    MethodNotAllowedError,
    NotFoundError,
    header,
)
from berth.errors import (
    BerthError,
    BlobUnknownError,
    RangeInvalidError,
    ServerError,
    SizeInvalidError,
    UnsupportedError,
)
from berth.services.downloads import verify_download_token
from berth.storage.layout import blob_key
from berth.types import Digest

__all__ = ["DownloadPort", "DownloadTelemetry"]

log = logging.getLogger("berth.api.download_port")

_TOKEN = re.compile(re.escape(DOWNLOAD_PATH.encode()) + rb"([A-Za-z0-9_.=-]{1,4096})(?:\?.*)?$")
_READ_SIZE = 16 * 1024
_MAX_BODY_BYTES = 64 * 1024
"""A GET may carry a body; it is read and dropped, up to this much."""
_COPY_BUFFER = 1024 * 1024
"""Bytes read and sent at a time to a client on this machine (see ``_Copier``), held only while
a response is sent. One pull of 1 GiB, 8 interleaved rounds: 128 KiB 2,053 MB/s, 256 KiB 2,405,
512 KiB 2,672 (2,282-3,762), 1 MiB 2,609 (2,501-2,702), 2 MiB 2,654."""
_COPY_TURN = 4 * _COPY_BUFFER
"""Bytes sent to one client before the loop serves the others: a local client drains its socket
as fast as it is filled, so without a limit one pull would hold the port's thread to its end."""
_OCTET = "application/octet-stream"


class DownloadTelemetry(Protocol):
    """What the download port tells the metrics; called on the port's own thread."""

    def download_answered(self, status: int) -> None:
        """A response's status line and headers were written."""

    def download_sent(self, size: int) -> None:
        """``size`` bytes of one response's body were sent (all of it, or until cut)."""


class _NoTelemetry:
    def download_answered(self, status: int) -> None:
        return None

    def download_sent(self, size: int) -> None:
        return None


class _Length:
    """Stands for ``count`` file bytes in h11's framing while ``sendfile`` sends them."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count


class _ClosedError(Exception):
    """The client went quiet or away; drop the connection without answering."""


class DownloadPort:
    """Serves ``GET``/``HEAD /v2/_downloads/<token>`` from ``root``'s blobs."""

    def __init__(
        self,
        root: Path,
        key: bytes,
        *,
        clock: Callable[[], float] = time.time,
        header_timeout: float = 10.0,
        idle_timeout: float = 60.0,
        send_timeout: float = 60.0,
        max_connections: int = 1024,
        telemetry: DownloadTelemetry | None = None,
        copy_to_loopback: bool = True,
    ) -> None:
        """``copy_to_loopback``: send to a client on this machine by copying (see ``_Copier``)."""
        self.root = root
        self.key = key
        self.clock = clock
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.send_timeout = send_timeout
        self.max_connections = max_connections
        self.telemetry = telemetry or _NoTelemetry()
        self.copy_to_loopback = copy_to_loopback
        self._clients: set[asyncio.Task[None]] = set()
        self._sending = 0
        """Responses whose bodies are being sent; a loopback client is copied to only alone."""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: Exception | None = None

    def start(self, sock: socket.socket) -> None:
        """Serve ``sock`` on a thread of its own (a stdlib loop) until ``stop()``."""
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name="berth-download-port", daemon=True
        )
        self._thread.start()
        self._ready.wait(10)
        if self._failure is not None:
            raise self._failure

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, end the thread; transfers still running are cut."""
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, sock: socket.socket) -> None:
        try:
            with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
                runner.run(self.serve(sock))
        except Exception as error:
            self._failure = error
            log.exception("the download port stopped")
        finally:
            self._ready.set()
            sock.close()

    async def serve(self, sock: socket.socket) -> None:
        """Serve ``sock`` until ``stop()``.

        Timeouts use ``asyncio.timeout``, never ``wait_for``: on Python 3.11 ``wait_for`` drops a
        cancellation that arrives as its operation finishes, and ``stop()`` then waited for the
        connection's 60-second idle timeout (1 ``stop()`` in 3, straight after a response).
        """
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        sock.setblocking(False)
        accepting = asyncio.ensure_future(self._accept(sock))
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            accepting.cancel()
            for task in list(self._clients):
                task.cancel()
            await asyncio.gather(accepting, *self._clients, return_exceptions=True)

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, _ = await loop.sock_accept(listener)
            except OSError as error:  # out of file descriptors, say: wait, do not spin
                log.warning("download port cannot accept: %s", error)
                await asyncio.sleep(0.1)
                continue
            if len(self._clients) >= self.max_connections:
                client.close()
                continue
            task = loop.create_task(self.connection(client))
            self._clients.add(task)
            task.add_done_callback(self._clients.discard)

    async def connection(self, client: socket.socket) -> None:
        """One client connection: requests in turn, kept alive while the client wants."""
        client.setblocking(False)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        try:
            while (request := await self._next_request(conn, client)) is not None:
                await self._answer(conn, client, request)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except h11.RemoteProtocolError as error:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                status = error.error_status_hint
                message = f"malformed HTTP request: {error}"[:300]
                bad = SizeInvalidError(message) if status == 431 else UnsupportedError(message)
                with contextlib.suppress(ConnectionError, _ClosedError, h11.LocalProtocolError):
                    await self._send_error(conn, client, bad, status=status, close=True)
        except (_ClosedError, ConnectionError):
            pass
        except Exception:
            log.exception("download connection failed")
        finally:
            client.close()

    async def _next_request(
        self, conn: h11.Connection, client: socket.socket
    ) -> h11.Request | None:
        """The next request, its body read and dropped; None once the client closes."""
        loop = asyncio.get_running_loop()
        request: h11.Request | None = None
        head = body = 0
        deadline: float | None = None
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if deadline is None:
                    wait = self.idle_timeout
                    if conn.their_state is not h11.IDLE:
                        deadline = loop.time() + self.header_timeout
                if deadline is not None:
                    wait = deadline - loop.time()
                data = await self._read(client, wait)
                if data and deadline is None:
                    deadline = loop.time() + self.header_timeout
                if request is None:
                    head += len(data)
                    if head > MAX_HEAD_BYTES:
                        raise h11.RemoteProtocolError("request line and headers too long", 431)
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += len(event.data)
                if body > _MAX_BODY_BYTES:
                    raise h11.RemoteProtocolError("request body too large", 413)
            elif isinstance(event, h11.EndOfMessage):
                return request
            else:  # ConnectionClosed, or PAUSED after a protocol switch we never agree to
                return None

    @staticmethod
    async def _read(client: socket.socket, wait: float) -> bytes:
        if wait <= 0:
            raise _ClosedError
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(wait):
                return await loop.sock_recv(client, _READ_SIZE)
        except TimeoutError:
            raise _ClosedError from None

    async def _write(self, client: socket.socket, data: bytes | None) -> None:
        if data:
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(self.send_timeout):
                    await loop.sock_sendall(client, data)
            except TimeoutError:
                raise _ClosedError from None

    async def _answer(
        self, conn: h11.Connection, client: socket.socket, request: h11.Request
    ) -> None:
        try:
            await self._send_blob(conn, client, request)
        except BerthError as error:
            head = request.method == b"HEAD"
            await self._send_error(conn, client, error, head=head)

    async def _send_blob(
        self, conn: h11.Connection, client: socket.socket, request: h11.Request
    ) -> None:
        if request.method not in (b"GET", b"HEAD"):
            raise MethodNotAllowedError(f"{request.method.decode('latin-1')} is not supported here")
        match = _TOKEN.match(request.target)
        if match is None:
            target = request.target[:200].decode("latin-1")
            raise NotFoundError(f"{target} is not a download URL")
        grant = verify_download_token(self.key, match.group(1).decode(), self.clock())
        digest = Digest.parse(grant.digest)
        try:
            blob = (self.root / blob_key(digest)).open("rb")
        except FileNotFoundError:
            raise BlobUnknownError(
                f"blob unknown to registry: {digest}", detail={"digest": str(digest)}
            ) from None
        except OSError as error:
            log.error("cannot open blob %s: %s", digest, error)
            raise ServerError("the blob cannot be read; the server log has details") from None
        with blob:
            await self._send_file(conn, client, request, blob, digest)

    async def _send_file(
        self,
        conn: h11.Connection,
        client: socket.socket,
        request: h11.Request,
        blob: BinaryIO,
        digest: Digest,
    ) -> None:
        size = os.fstat(blob.fileno()).st_size
        headers = [
            (b"content-type", _OCTET.encode()),
            (b"docker-content-digest", str(digest).encode()),
            (b"accept-ranges", b"bytes"),
            (b"cache-control", b"private, no-store"),
        ]
        ranged = parse_range(header(request, b"range"), size)
        start, end = ranged or (0, size)
        if ranged is not None:
            headers.append((b"content-range", f"bytes {start}-{end - 1}/{size}".encode()))
        headers.append((b"content-length", str(end - start).encode()))
        status = 206 if ranged is not None else 200
        body = request.method == b"GET" and end > start
        copying = body and self.copy_to_loopback and not self._sending and _on_loopback(client)
        corked = body and not copying  # a corked copy ran 0.89x of an uncorked one
        if corked:
            _cork(client, True)
        self._sending += body
        try:
            await self._write(client, conn.send(_response(status, headers)))
            self.telemetry.download_answered(status)
            if body:
                conn.send_with_data_passthrough(h11.Data(data=_Length(end - start)))  # type: ignore[arg-type]
                await self._send_range(client, blob, start, end, copying=copying)
        finally:
            self._sending -= body
            if corked:
                _cork(client, False)
        await self._write(client, conn.send(h11.EndOfMessage()))

    async def _send_range(
        self, client: socket.socket, blob: BinaryIO, start: int, end: int, *, copying: bool
    ) -> None:
        """``blob[start:end]`` onto the socket by ``os.sendfile``, or copied (``_Copier``); a
        client that takes nothing for ``send_timeout`` is dropped, as nginx's ``send_timeout``
        drops it."""
        kind = _Copier if copying else _FileSender
        sender = kind(client, blob.fileno(), start, end, self.send_timeout)
        try:
            await sender.run()
        finally:
            self.telemetry.download_sent(sender.offset - start)

    async def _send_error(
        self,
        conn: h11.Connection,
        client: socket.socket,
        error: BerthError,
        *,
        status: int | None = None,
        head: bool = False,
        close: bool = False,
    ) -> None:
        body = json.dumps(error.oci_body()).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"docker-distribution-api-version", b"registry/2.0"),
        ]
        if isinstance(error, RangeInvalidError) and isinstance(error.detail, dict):
            headers.append((b"content-range", f"bytes */{error.detail.get('size', 0)}".encode()))
        if isinstance(error, MethodNotAllowedError):
            headers.append((b"allow", b"GET, HEAD"))
        if close:
            headers.append((b"connection", b"close"))
        status = status or error.status
        data = conn.send(_response(status, headers)) or b""
        if not head:
            data += conn.send(h11.Data(data=body)) or b""
        await self._write(client, data + (conn.send(h11.EndOfMessage()) or b""))
        self.telemetry.download_answered(status)


class _FileSender:
    """Sends a file range with ``os.sendfile`` each time the socket can take more.

    The sending runs in the loop's writability callback, as asyncio's own ``sock_sendfile`` does,
    so a 1 GiB blob costs a few hundred callbacks and no futures; a timer drops the client when
    nothing was sent for ``timeout`` seconds.
    """

    def __init__(
        self, client: socket.socket, file_fd: int, start: int, end: int, timeout: float
    ) -> None:
        self.client, self.fd, self.file_fd = client, client.fileno(), file_fd
        self.offset, self.end, self.timeout = start, end, timeout
        self.loop = asyncio.get_running_loop()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.progress = self.loop.time()
        self.timer = self.loop.call_later(timeout, self._check)

    async def run(self) -> None:
        self.loop.add_writer(self.fd, self._send)
        try:
            await self.done
        finally:
            self.loop.remove_writer(self.fd)
            self.timer.cancel()

    def _send(self) -> None:
        try:
            sent = os.sendfile(self.fd, self.file_fd, self.offset, self.end - self.offset)
        except BlockingIOError:
            return
        except OSError as error:
            self._finish(error)
            return
        if sent == 0:  # the file is shorter than it was: cut the response
            self._finish(_ClosedError())
            return
        self.offset += sent
        self.progress = self.loop.time()
        if self.offset >= self.end:
            self._finish(None)

    def _check(self) -> None:
        idle = self.loop.time() - self.progress
        if idle >= self.timeout:
            self._finish(_ClosedError())
        else:
            self.timer = self.loop.call_later(self.timeout - idle, self._check)

    def _finish(self, error: BaseException | None) -> None:
        self.loop.remove_writer(self.fd)
        self.timer.cancel()
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)


class _Copier(_FileSender):
    """Sends a file range by ``pread`` into a buffer and ``send``, for a client on this machine
    while no other transfer runs.

    Over loopback the receiver copies each byte out of the socket itself; after ``sendfile`` it
    reads the page cache's pages, cold to its CPU, and after a copy into the socket it reads
    bytes the sender has just written, still in cache. The sender's copy moves that cost to the
    server's core, and a single pull runs at the client's pace: nginx with ``sendfile off`` and
    256 KiB buffers pulled 1 GiB at 1.30x the rate of its ``sendfile`` (client CPU 0.36 -> 0.15
    s/GB), and 8 at once at 1.04x; this port, 1.26x and 0.97x (docs/performance.md). With other
    transfers running the server's core is no longer idle, and the copy cost more than it gave:
    8 pulls at once ran 1.04-1.11x faster with all but the first sent by ``sendfile``. Over a
    network the receiver is another machine, the copy buys nothing, and ``sendfile`` is used.
    Uncorked: nginx corks only around ``sendfile`` too.
    """

    def __init__(
        self, client: socket.socket, file_fd: int, start: int, end: int, timeout: float
    ) -> None:
        super().__init__(client, file_fd, start, end, timeout)
        self.buffer = memoryview(bytearray(_COPY_BUFFER))
        self.read_to = start
        self.pending = self.buffer[:0]

    def _send(self) -> None:
        turn = self.offset + _COPY_TURN  # then back to the loop: other clients wait meanwhile
        try:
            while self.offset < min(self.end, turn):
                if not self.pending:
                    want = min(_COPY_BUFFER, self.end - self.read_to)
                    count = os.preadv(self.file_fd, [self.buffer[:want]], self.read_to)
                    if count == 0:  # the file is shorter than it was: cut the response
                        self._finish(_ClosedError())
                        return
                    self.read_to += count
                    self.pending = self.buffer[:count]
                sent = self.client.send(self.pending)
                self.pending = self.pending[sent:]
                self.offset += sent
                self.progress = self.loop.time()
        except BlockingIOError:
            return
        except OSError as error:
            self._finish(error)
            return
        if self.offset >= self.end:
            self._finish(None)


def _on_loopback(client: socket.socket) -> bool:
    try:
        address = ipaddress.ip_address(client.getpeername()[0])
    except (OSError, ValueError):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _cork(client: socket.socket, on: bool) -> None:
    """``TCP_CORK`` around a file response, as nginx's ``tcp_nopush``: the headers leave with the
    file's first bytes and ``sendfile``'s output in full segments (1.2x the rate of Nagle alone,
    1.25x that of neither, 1 GiB on loopback); uncorking sends the last partial segment at once,
    so a small blob never waits for the client's delayed ACK."""
    with contextlib.suppress(OSError):
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, int(on))


def _response(status: int, headers: list[tuple[bytes, bytes]]) -> h11.Response:
    reason = HTTPStatus(status).phrase.encode() if status in STATUSES else b""
    return h11.Response(status_code=status, headers=headers, reason=reason)
