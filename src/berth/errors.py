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
    "DeleteConflictError",
    "DeniedError",
    "DigestInvalidError",
    "EmptyUploadError",
    "EntityAlreadyExistsError",
    "ExpiredTokenError",
    "ImageAlreadyExistsError",
    "ImageDigestDoesNotMatchError",
    "ImageTagAlreadyExistsError",
    "IncompleteSignatureError",
    "InvalidActionError",
    "InvalidInputError",
    "InvalidParameterError",
    "InvalidSignatureError",
    "InvalidTagParameterError",
    "LayerAlreadyExistsError",
    "LifecyclePolicyNotFoundError",
    "LifecyclePolicyPreviewInProgressError",
    "LifecyclePolicyPreviewNotFoundError",
    "LimitExceededError",
    "MalformedPolicyDocumentError",
    "ManifestBlobUnknownError",
    "ManifestInvalidError",
    "ManifestUnknownError",
    "MissingAuthenticationTokenError",
    "NameInvalidError",
    "NameUnknownError",
    "NoSuchEntityError",
    "PackedPolicyTooLargeError",
    "PaginationInvalidError",
    "PasswordPolicyViolationError",
    "PayloadTooLargeError",
    "QuotaExceededError",
    "RangeInvalidError",
    "RegistryPolicyNotFoundError",
    "RepositoryAlreadyExistsError",
    "RepositoryNotEmptyError",
    "RepositoryPolicyNotFoundError",
    "SerializationError",
    "ServerError",
    "SignatureDoesNotMatchError",
    "SizeInvalidError",
    "StorageError",
    "StorageNotFoundError",
    "TagInvalidError",
    "TemplateAlreadyExistsError",
    "TemplateNotFoundError",
    "TooManyRequestsError",
    "TooManyTagsError",
    "UnauthorizedError",
    "UnknownOperationError",
    "UnrecognizedClientError",
    "UnsupportedError",
    "ValidationError",
]


class BerthError(Exception):
    """Base of every error a surface can render. Subclasses set the three wire fields."""

    status: ClassVar[int] = 500
    oci_code: ClassVar[str] = "UNSUPPORTED"
    aws_type: ClassVar[str] = "ServerException"
    query_type: ClassVar[str | None] = None
    """The code the AWS Query APIs (IAM, STS) give, when it differs from ``aws_type``."""

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def oci_body(self) -> dict[str, object]:
        """The OCI distribution error document: ``{"errors": [{code, message, detail?}]}``."""
        entry: dict[str, object] = {"code": self.oci_code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {"errors": [entry]}


class ServerError(BerthError):
    """Something failed on our side; the message is safe to show (no internals)."""

    query_type = "ServiceFailure"


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
    query_type = "AccessDenied"


class UnsupportedError(BerthError):
    status = 405
    oci_code = "UNSUPPORTED"
    aws_type = "UnknownOperationException"


class TooManyRequestsError(BerthError):
    status = 429
    oci_code = "TOOMANYREQUESTS"
    aws_type = "ThrottlingException"
    query_type = "Throttling"


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
    query_type = "InvalidInput"


class ValidationError(BerthError):
    status = 400
    oci_code = "UNSUPPORTED"
    aws_type = "ValidationException"
    query_type = "ValidationError"


class LimitExceededError(BerthError):
    status = 400
    oci_code = "TOOMANYREQUESTS"
    aws_type = "LimitExceededException"


class ImageDigestDoesNotMatchError(BerthError):
    status = 400
    oci_code = "DIGEST_INVALID"
    aws_type = "ImageDigestDoesNotMatchException"


class LayerAlreadyExistsError(BerthError):
    status = 400
    oci_code = "BLOB_UPLOAD_INVALID"
    aws_type = "LayerAlreadyExistsException"


class EmptyUploadError(BerthError):
    status = 400
    oci_code = "SIZE_INVALID"
    aws_type = "EmptyUploadException"


class RepositoryPolicyNotFoundError(BerthError):
    status = 400
    oci_code = "NAME_UNKNOWN"
    aws_type = "RepositoryPolicyNotFoundException"


class RegistryPolicyNotFoundError(BerthError):
    status = 400
    oci_code = "NAME_UNKNOWN"
    aws_type = "RegistryPolicyNotFoundException"


class LifecyclePolicyNotFoundError(BerthError):
    status = 400
    oci_code = "NAME_UNKNOWN"
    aws_type = "LifecyclePolicyNotFoundException"


class LifecyclePolicyPreviewNotFoundError(BerthError):
    status = 400
    oci_code = "NAME_UNKNOWN"
    aws_type = "LifecyclePolicyPreviewNotFoundException"


class LifecyclePolicyPreviewInProgressError(BerthError):
    status = 400
    oci_code = "DENIED"
    aws_type = "LifecyclePolicyPreviewInProgressException"


class TemplateNotFoundError(BerthError):
    status = 400
    oci_code = "NAME_UNKNOWN"
    aws_type = "TemplateNotFoundException"


class TemplateAlreadyExistsError(BerthError):
    status = 400
    oci_code = "NAME_INVALID"
    aws_type = "TemplateAlreadyExistsException"


class InvalidTagParameterError(BerthError):
    status = 400
    oci_code = "UNSUPPORTED"
    aws_type = "InvalidTagParameterException"


class TooManyTagsError(BerthError):
    status = 400
    oci_code = "UNSUPPORTED"
    aws_type = "TooManyTagsException"


class SerializationError(BerthError):
    """An AWS JSON request body that is not JSON, or a value of the wrong JSON type."""

    status = 400
    oci_code = "UNSUPPORTED"
    aws_type = "SerializationException"


class UnknownOperationError(UnsupportedError):
    """An ``X-Amz-Target`` that names no operation of the service."""

    status = 400


# -- authentication and authorization (common AWS errors) ---------------------------------------


class AccessDeniedError(DeniedError):
    """An IAM refusal; the message says who, what, on which resource and why."""


class UnrecognizedClientError(UnauthorizedError):
    status = 403
    aws_type = "UnrecognizedClientException"
    query_type = "InvalidClientTokenId"


class InvalidSignatureError(UnauthorizedError):
    status = 403
    aws_type = "InvalidSignatureException"
    query_type = "SignatureDoesNotMatch"


class SignatureDoesNotMatchError(UnauthorizedError):
    status = 403
    aws_type = "SignatureDoesNotMatch"


class IncompleteSignatureError(UnauthorizedError):
    status = 400
    aws_type = "IncompleteSignatureException"
    query_type = "IncompleteSignature"


class ExpiredTokenError(UnauthorizedError):
    status = 403
    aws_type = "ExpiredTokenException"
    query_type = "ExpiredToken"


class MissingAuthenticationTokenError(UnauthorizedError):
    """A request to an AWS API that carries no signature at all."""

    status = 403
    aws_type = "MissingAuthenticationTokenException"
    query_type = "MissingAuthenticationToken"


class InvalidActionError(BerthError):
    """An AWS Query ``Action`` the service does not have."""

    status = 400
    oci_code = "UNSUPPORTED"
    aws_type = "InvalidAction"


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


class DeleteConflictError(BerthError):
    """An IAM entity that still has dependents (keys, policies, members, versions)."""

    status = 409
    oci_code = "DENIED"
    aws_type = "DeleteConflict"


class QuotaExceededError(LimitExceededError):
    """An IAM quota (access keys per user, policy versions, policy sizes): ``LimitExceeded``."""

    status = 409
    aws_type = "LimitExceeded"


class InvalidInputError(BerthError):
    status = 400
    oci_code = "UNSUPPORTED"
    aws_type = "InvalidInput"


class PasswordPolicyViolationError(BerthError):
    status = 400
    oci_code = "DENIED"
    aws_type = "PasswordPolicyViolation"


class PackedPolicyTooLargeError(BerthError):
    """An STS session policy over its packed size."""

    status = 400
    oci_code = "DENIED"
    aws_type = "PackedPolicyTooLarge"


# -- storage (raised by storage drivers, translated by services) --------------------------------


class StorageError(ServerError):
    """A storage backend failed; services decide what it means."""


class StorageNotFoundError(StorageError):
    """A key the caller named is not in the store."""

    status = 404
