"""What the services tell the metrics about: upload sessions, authorization decisions, job runs.

The services know only this protocol; ``berth.api.metrics`` implements it with prometheus-client,
and ``NoTelemetry`` (the default) ignores everything.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["NoTelemetry", "Telemetry"]


class Telemetry(Protocol):
    def upload_started(self) -> None: ...

    def upload_finished(self, outcome: str, count: int = 1) -> None:
        """``completed``, ``cancelled``, ``rejected`` (a digest mismatch) or ``expired``."""

    def authorization(self, outcome: str) -> None:
        """``allow``, ``explicit-deny``, ``implicit-deny`` or ``invalid-credentials``."""

    def job_run(self, job: str, outcome: str, seconds: float) -> None:
        """``ran``, ``skipped`` (another process held the lock) or ``failed``."""


class NoTelemetry:
    def upload_started(self) -> None:
        return None

    def upload_finished(self, outcome: str, count: int = 1) -> None:
        return None

    def authorization(self, outcome: str) -> None:
        return None

    def job_run(self, job: str, outcome: str, seconds: float) -> None:
        return None
