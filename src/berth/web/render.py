"""Templates (loaded once, at start-up), the filters they use, and the headers every page gets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

__all__ = [
    "PAGE_HEADERS",
    "Renderer",
    "ago",
    "human_size",
    "image_kind",
    "short_digest",
    "when",
]

TEMPLATES = Path(__file__).parent / "templates"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def human_size(size: int | None) -> str:
    """Bytes in decimal units, as ECR's console shows them (``12.3 MB``)."""
    if size is None:
        return "-"
    value = float(size)
    for unit in _UNITS:
        if value < 1000 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "never"
    seconds = max(int(((now or datetime.now(UTC)) - moment).total_seconds()), 0)
    if seconds < 60:
        return _plural(seconds, "second")
    if seconds < 3600:
        return _plural(seconds // 60, "minute")
    if seconds < 86400:
        return _plural(seconds // 3600, "hour")
    return _plural(seconds // 86400, "day")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'} ago"


IMAGE_CONFIGS = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
INDEXES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)


def image_kind(media_type: str, artifact_type: str | None) -> str:
    """``index``, ``image``, or the artifact type of anything else (a signature, an SBOM)."""
    if media_type in INDEXES:
        return "index"
    if artifact_type and artifact_type not in IMAGE_CONFIGS:
        return artifact_type
    return "image"


def short_digest(digest: str | None) -> str:
    if not digest:
        return "-"
    algorithm, _, hex_part = digest.partition(":")
    return f"{algorithm}:{hex_part[:12]}" if hex_part else digest[:19]


class Renderer:
    def __init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(size=human_size, when=when, ago=ago, short=short_digest)
        self.env.globals.update(image_kind=image_kind)
        self.templates = {
            path.name: self.env.get_template(path.name) for path in TEMPLATES.glob("*.html")
        }

    def page(self, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        html = self.templates[name].render(context)
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
