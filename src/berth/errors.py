"""The error catalogue: every error Berth can answer, with its HTTP status, OCI code and AWS name.

Call sites raise a class and a message; the status and the wire codes are looked up here and
nowhere else. One handler for a base class serves the whole family.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AccessDeniedError",
    "BerthError",
    "BlobUnknownError",
    "BlobUploadInvalidError",
    "BlobUploadUnknownError",
    "DeniedError",
    "DigestInvalidError",
    "EntityAlreadyExistsError",
    "ExpiredTokenError",
    "ImageAlreadyExistsError",
    "ImageTagAlreadyExistsError",
    "IncompleteSignatureError",
    "InvalidParameterError",
    "InvalidSignatureError",
    "LimitExceededError",
    "MalformedPolicyDocumentError",
    "ManifestBlobUnknownError",
    "ManifestInvalidError",
    "ManifestUnknownError",
    "NameInvalidError",
    "NameUnknownError",
    "NoSuchEntityError",
    "PaginationInvalidError",
    "PayloadTooLargeError",
    "RangeInvalidError",
    "RepositoryAlreadyExistsError",
    "RepositoryNotEmptyError",
    "ServerError",
    "SignatureDoesNotMatchError",
    "SizeInvalidError",
    "StorageError",
    "StorageNotFoundError",
    "TagInvalidError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "UnrecognizedClientError",
    "UnsupportedError",
    "ValidationError",
]


class BerthError(Exception):
    """Base of every error a surface can render. Subclasses set the three wire fields."""

    status: ClassVar[int] = 500
    oci_code: ClassVar[str] = "UNSUPPORTED"
    aws_type: ClassVar[str] = "ServerException"

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class ServerError(BerthError):
    """Something failed on our side; the message is safe to show (no internals)."""


# -- OCI distribution errors (the spec's codes) -------------------------------------------------


class BlobUnknownError(BerthError):
    status = 404
    oci_code = "BLOB_UNKNOWN"
    aws_type = "LayersNotFoundException"


class BlobUploadInvalidError(BerthError):
    status = 400
    oci_code = "BLOB_UPLOAD_INVALID"
    aws_type = "InvalidLayerException"


class RangeInvalidError(BlobUploadInvalidError):
    """A chunk that does not start where the upload ends (416 on the registry)."""

    status = 416
    aws_type = "InvalidLayerPartException"


class BlobUploadUnknownError(BerthError):
    status = 404
    oci_code = "BLOB_UPLOAD_UNKNOWN"
    aws_type = "UploadNotFoundException"


class DigestInvalidError(BerthError):
    status = 400
    oci_code = "DIGEST_INVALID"
    aws_type = "InvalidLayerException"


class ManifestBlobUnknownError(BerthError):
    status = 400
    oci_code = "MANIFEST_BLOB_UNKNOWN"
    aws_type = "LayersNotFoundException"


class ManifestInvalidError(BerthError):
    status = 400
    oci_code = "MANIFEST_INVALID"
    aws_type = "InvalidParameterException"


class ManifestUnknownError(BerthError):
    status = 404
    oci_code = "MANIFEST_UNKNOWN"
    aws_type = "ImageNotFoundException"


class NameInvalidError(BerthError):
    status = 400
    oci_code = "NAME_INVALID"
    aws_type = "InvalidParameterException"


class NameUnknownError(BerthError):
    status = 404
    oci_code = "NAME_UNKNOWN"
    aws_type = "RepositoryNotFoundException"


class SizeInvalidError(BerthError):
    status = 400
    oci_code = "SIZE_INVALID"
    aws_type = "InvalidLayerException"


class PayloadTooLargeError(SizeInvalidError):
    """A body over a limit, such as a manifest over 4 MiB."""

    status = 413


class TagInvalidError(BerthError):
    """A tag that breaks the grammar (distribution's TAG_INVALID code)."""

    status = 400
    oci_code = "TAG_INVALID"
    aws_type = "InvalidParameterException"


class PaginationInvalidError(BerthError):
    """An ``n`` that is not a positive integer (distribution's PAGINATION_NUMBER_INVALID)."""

    status = 400
    oci_code = "PAGINATION_NUMBER_INVALID"
    aws_type = "InvalidParameterException"


class UnauthorizedError(BerthError):
    status = 401
    oci_code = "UNAUTHORIZED"
    aws_type = "UnrecognizedClientException"


class DeniedError(BerthError):
    status = 403
    oci_code = "DENIED"
    aws_type = "AccessDeniedException"


class UnsupportedError(BerthError):
    status = 405
    oci_code = "UNSUPPORTED"
    aws_type = "UnknownOperationException"


class TooManyRequestsError(BerthError):
    status = 429
    oci_code = "TOOMANYREQUESTS"
    aws_type = "ThrottlingException"


# -- ECR errors ---------------------------------------------------------------------------------


class RepositoryAlreadyExistsError(BerthError):
    status = 400
    oci_code = "NAME_INVALID"
    aws_type = "RepositoryAlreadyExistsException"


class RepositoryNotEmptyError(BerthError):
    status = 400
    oci_code = "DENIED"
    aws_type = "RepositoryNotEmptyException"


class ImageTagAlreadyExistsError(BerthError):
    status = 400
    oci_code = "TAG_INVALID"
    aws_type = "ImageTagAlreadyExistsException"


class ImageAlreadyExistsError(BerthError):
    status = 400
    oci_code = "MANIFEST_INVALID"
    aws_type = "ImageAlreadyExistsException"


class InvalidParameterError(BerthError):
    status = 400
    oci_code = "UNSUPPORTED"
    aws_type = "InvalidParameterException"


class ValidationError(BerthError):
    status = 400
    oci_code = "UNSUPPORTED"
    aws_type = "ValidationException"


class LimitExceededError(BerthError):
    status = 400
    oci_code = "TOOMANYREQUESTS"
    aws_type = "LimitExceededException"


# -- authentication and authorization (common AWS errors) ---------------------------------------


class AccessDeniedError(DeniedError):
    """An IAM refusal; the message says who, what, on which resource and why."""


class UnrecognizedClientError(UnauthorizedError):
    status = 403
    aws_type = "UnrecognizedClientException"


class InvalidSignatureError(UnauthorizedError):
    status = 403
    aws_type = "InvalidSignatureException"


class SignatureDoesNotMatchError(UnauthorizedError):
    status = 403
    aws_type = "SignatureDoesNotMatch"


class IncompleteSignatureError(UnauthorizedError):
    status = 400
    aws_type = "IncompleteSignatureException"


class ExpiredTokenError(UnauthorizedError):
    status = 403
    aws_type = "ExpiredTokenException"


# -- IAM errors ---------------------------------------------------------------------------------


class MalformedPolicyDocumentError(BerthError):
    status = 400
    oci_code = "DENIED"
    aws_type = "MalformedPolicyDocument"


class NoSuchEntityError(BerthError):
    status = 404
    oci_code = "NAME_UNKNOWN"
    aws_type = "NoSuchEntity"


class EntityAlreadyExistsError(BerthError):
    status = 409
    oci_code = "NAME_INVALID"
    aws_type = "EntityAlreadyExists"


# -- storage (raised by storage drivers, translated by services) --------------------------------


class StorageError(ServerError):
    """A storage backend failed; services decide what it means."""


class StorageNotFoundError(StorageError):
    """A key the caller named is not in the store."""

    status = 404
