import inspect

import botocore.session
import pytest

from berth import errors

OCI_SPEC_CODES = {
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
}
# Codes CNCF distribution adds and clients know; ECR's registry answers TAG_INVALID too.
DISTRIBUTION_CODES = {"TAG_INVALID", "PAGINATION_NUMBER_INVALID"}
COMMON_AWS = {
    "AccessDeniedException",
    "ExpiredTokenException",
    "IncompleteSignatureException",
    "InvalidAction",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "SerializationException",
    "SignatureDoesNotMatch",
    "ThrottlingException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "ValidationException",
}

CATALOGUE = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, errors.BerthError)
]


def _aws_names() -> set[str]:
    session = botocore.session.get_session()
    names = set(COMMON_AWS)
    for service in ("ecr", "iam", "sts"):
        model = session.get_service_model(service)
        for shape in model.error_shapes:
            names.add(shape.name)
            names.add(shape.error_code)
    return names


AWS_NAMES = _aws_names()
# AWS's common errors as the Query APIs (IAM, STS) spell them.
COMMON_QUERY = {
    "AccessDenied",
    "ExpiredToken",
    "IncompleteSignature",
    "InvalidAction",
    "InvalidClientTokenId",
    "MissingAuthenticationToken",
    "SignatureDoesNotMatch",
    "Throttling",
    "ValidationError",
}


def test_every_public_error_is_exported() -> None:
    assert {cls.__name__ for cls in CATALOGUE} == set(errors.__all__)


@pytest.mark.parametrize("cls", CATALOGUE, ids=lambda cls: cls.__name__)
def test_entry_has_a_known_oci_code(cls: type[errors.BerthError]) -> None:
    assert cls.oci_code in OCI_SPEC_CODES | DISTRIBUTION_CODES


@pytest.mark.parametrize("cls", CATALOGUE, ids=lambda cls: cls.__name__)
def test_entry_has_a_known_aws_name(cls: type[errors.BerthError]) -> None:
    assert cls.aws_type in AWS_NAMES


@pytest.mark.parametrize("cls", CATALOGUE, ids=lambda cls: cls.__name__)
def test_entry_has_a_known_query_code(cls: type[errors.BerthError]) -> None:
    if cls.query_type is not None:
        assert cls.query_type in AWS_NAMES | COMMON_QUERY


@pytest.mark.parametrize("cls", CATALOGUE, ids=lambda cls: cls.__name__)
def test_entry_has_an_http_error_status(cls: type[errors.BerthError]) -> None:
    assert 400 <= cls.status < 600


def test_error_keeps_message_and_detail() -> None:
    error = errors.BlobUnknownError("blob unknown", detail={"digest": "sha256:x"})
    assert str(error) == "blob unknown"
    assert error.detail == {"digest": "sha256:x"}
