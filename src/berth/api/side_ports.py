"""What the download port and the upload port share: the listening socket each worker binds,
the request-head limit, the errors for what they do not serve, and an h11 request's headers."""

from __future__ import annotations

import socket
from http import HTTPStatus

import h11

from berth.errors import UnsupportedError

__all__ = [
    "MAX_HEAD_BYTES",
    "STATUSES",
    "MethodNotAllowedError",
    "NotFoundError",
    "bind_port",
    "header",
]

MAX_HEAD_BYTES = 16 * 1024
"""Request line and headers together; more is a 431."""
STATUSES = frozenset(HTTPStatus)


def bind_port(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening socket on ``host:port``; with ``reuse_port`` each server worker binds its own
    and the kernel spreads connections over them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=1024, reuse_port=reuse_port)


class MethodNotAllowedError(UnsupportedError):
    status = 405


class NotFoundError(UnsupportedError):
    status = 404


def header(request: h11.Request, name: bytes) -> str | None:
    """The first value of the (lower-case) header ``name``, or None."""
    for key, value in request.headers:
        if key == name:
            return value.decode("latin-1")
    return None
