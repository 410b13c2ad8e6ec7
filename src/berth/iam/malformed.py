"""MalformedPolicyDocumentError with AWS's message, the reason, and where in the document."""

from __future__ import annotations

from berth.errors import MalformedPolicyDocumentError

__all__ = ["locate", "malformed"]


def malformed(message: str, why: str) -> MalformedPolicyDocumentError:
    """``message`` is AWS's own text; ``why`` says what in the document caused it."""
    return MalformedPolicyDocumentError(
        f"{message} ({why})", detail={"message": message, "reason": why}
    )


def locate(error: MalformedPolicyDocumentError, where: str) -> MalformedPolicyDocumentError:
    """The same error, its message prefixed with the statement it came from."""
    detail = error.detail if isinstance(error.detail, dict) else {}
    message = str(detail.get("message", error.message))
    why = str(detail.get("reason", ""))
    located = MalformedPolicyDocumentError(
        f"{message} ({where}: {why})", detail={**detail, "where": where}
    )
    located.__cause__ = error.__cause__
    return located
