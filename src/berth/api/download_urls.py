"""Where a signed URL points: the download or upload port, as the client reaches this host.

Shared by the registry's blob GET (a 307), the ECR API's ``GetDownloadUrlForLayer``, the
registry's upload ``Location`` and the upload port's own answers.
"""

from __future__ import annotations

import re

__all__ = ["DOWNLOAD_PATH", "UPLOAD_PATH", "port_base"]

DOWNLOAD_PATH = "/v2/_downloads/"
"""The path of a signed download URL, on the registry port and on the download port."""
UPLOAD_PATH = "/v2/_uploads/"
"""The path of a signed upload URL, on the upload port."""

_HOSTNAME = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")


def port_base(
    host_header: str,
    server: tuple[str, int] | None,
    port: int | None,
    url: str | None,
    scheme: str = "http",
) -> str | None:
    """``scheme://host:port`` of a port of this server, or None when there is none.

    ``url`` (``download_url``, ``upload_url``, ``public_url``) when set; else the host the client
    asked for (its ``Host``) at ``port``; a ``Host`` that is not a plain name or address gives the
    address the request arrived on (``server``).
    """
    if url is not None:
        return url
    if port is None:
        return None
    authority = host_header
    host = authority[: authority.index("]") + 1] if "]" in authority else authority.split(":")[0]
    if _HOSTNAME.fullmatch(host) is None:
        address = server[0] if server else "127.0.0.1"
        host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}:{port}"
