"""The web console at ``/ui/``: Jinja2 pages and htmx, every page behind the same IAM decisions."""

from berth.web.app import console_app

__all__ = ["console_app"]
