"""S3 client failures as storage errors: the codes that mean "not found", "taken", "past the end"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from berth.errors import StorageError, StorageNotFoundError

__all__ = ["RangeNotSatisfiableError", "UploadExistsError", "storage_error", "translated"]

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404", "NoSuchUpload"})
_EXISTS_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_S3_ERRORS = (ClientError, BotoCoreError)


class RangeNotSatisfiableError(StorageError):
    """A read started past the end of an object."""


class UploadExistsError(StorageError):
    """A conditional PutObject found the key taken."""


@contextmanager
def translated(operation: str) -> Iterator[None]:
    """Turn an S3 client failure into a StorageError (never a traceback for the caller)."""
    try:
        yield
    except _S3_ERRORS as error:
        raise storage_error(operation, error) from None


def storage_error(operation: str, error: Exception) -> StorageError:
    if not isinstance(error, ClientError):
        return StorageError(f"S3 {operation} failed: {error}")
    details = error.response.get("Error", {})
    code, message = str(details.get("Code", "")), str(details.get("Message", ""))
    if code in _NOT_FOUND_CODES:
        return StorageNotFoundError(f"S3 {operation}: not found ({code})")
    if code in _EXISTS_CODES:
        return UploadExistsError(f"S3 {operation}: {code}")
    if code == "InvalidRange":
        return RangeNotSatisfiableError(f"S3 {operation}: {code}")
    return StorageError(f"S3 {operation} failed: {code} {message}".strip())
