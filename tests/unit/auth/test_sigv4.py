"""SigV4 verification, checked against botocore's signer and AWS's published test vectors."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.auth.sigv4 import (
    EMPTY_SHA256,
    KeyMaterial,
    SignedRequest,
    canonical_request,
    parse_authorization,
    service_of,
    signature,
    signing_key,
    string_to_sign,
    verify,
)
from berth.errors import (
    ExpiredTokenError,
    IncompleteSignatureError,
    InvalidSignatureError,
    SignatureDoesNotMatchError,
    UnrecognizedClientError,
)

VECTORS = Path(__file__).parent / "sigv4_vectors"
VECTOR_NAMES = sorted(p.stem for p in VECTORS.glob("*.req"))
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_TOKEN_HEADER = "x-amz-security-token"

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_AKID = "ASIAIOSFODNN7EXAMPLE"
SESSION_TOKEN = "FwoGZXIvYXdzEB0aDH+session/token=="
ENDPOINT = "http://127.0.0.1:5000"
ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"


# -- helpers ---------------------------------------------------------------------------------------


def keys(**extra: KeyMaterial) -> Callable[[str], KeyMaterial | None]:
    table = {
        AKID: KeyMaterial(SECRET),
        SESSION_AKID: KeyMaterial(SECRET, session_token=SESSION_TOKEN),
        **extra,
    }
    return table.get


def from_botocore(prepared: AWSPreparedRequest) -> SignedRequest:
    """What a server would receive: the HTTP client adds Host, the path stays encoded."""
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers = [("Host", url.netloc)]
    headers += [(k, v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()]
    return SignedRequest(
        method=prepared.method,
        path=url.path,
        query=url.query,
        headers=headers,
        body_sha256=hashlib.sha256(body).hexdigest(),
    )


def botocore_signed(
    method: str = "GET",
    url: str = ENDPOINT + "/",
    *,
    service: str = "ecr",
    region: str = "us-east-1",
    headers: dict[str, str] | None = None,
    params: Sequence[tuple[str, str]] | None = None,
    body: bytes = b"",
    token: str | None = None,
    presign_expires: int | None = None,
) -> SignedRequest:
    request = AWSRequest(method=method, url=url, headers=headers or {}, data=body, params=params)
    credentials = Credentials(SESSION_AKID if token else AKID, SECRET, token)
    if presign_expires is None:
        SigV4Auth(credentials, service, region).add_auth(request)
    else:
        SigV4QueryAuth(credentials, service, region, expires=presign_expires).add_auth(request)
    return from_botocore(request.prepare())


class CapturedError(Exception):
    def __init__(self, request: AWSPreparedRequest) -> None:
        super().__init__("captured")
        self.request = request


def client_request(
    service: str, call: Callable[[Any], object], **client_args: str
) -> SignedRequest:
    """Run a real boto3 client call and catch the request it would have sent."""
    client = boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=ENDPOINT,
        aws_access_key_id=client_args.get("akid", AKID),
        aws_secret_access_key=SECRET,
        aws_session_token=client_args.get("token"),
    )

    def capture(request: AWSPreparedRequest, **_: object) -> None:
        raise CapturedError(request)

    client.meta.events.register("before-send", capture)
    with pytest.raises(CapturedError) as caught:
        call(client)
    return from_botocore(caught.value.request)


def ecr_request(**client_args: str) -> SignedRequest:
    return client_request("ecr", lambda c: c.describe_repositories(), **client_args)


def iam_request(**client_args: str) -> SignedRequest:
    return client_request("iam", lambda c: c.list_users(PathPrefix="/a b/ü+"), **client_args)


def sts_request(**client_args: str) -> SignedRequest:
    return client_request("sts", lambda c: c.get_caller_identity(), **client_args)


def signed_at(request: SignedRequest) -> datetime:
    raw = request.header("x-amz-date") or dict(_pairs(request.query))["X-Amz-Date"]
    return datetime.strptime(raw, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _pairs(query: str) -> list[tuple[str, str]]:
    return [tuple(p.split("=", 1)) for p in query.split("&")]  # type: ignore[misc]


def replace_header(request: SignedRequest, name: str, value: str) -> SignedRequest:
    headers = [(k, value if k.lower() == name else v) for k, v in request.headers]
    return dataclasses.replace(request, headers=headers)


def check(request: SignedRequest, **kwargs: Any) -> None:
    verify(request, keys(), now=kwargs.pop("now", None) or signed_at(request), **kwargs)


# -- AWS test vectors ------------------------------------------------------------------------------


def load_vector(name: str) -> tuple[SignedRequest, dict[str, str]]:
    files = {
        ext: (VECTORS / f"{name}.{ext}").read_text(encoding="utf-8")
        for ext in ("req", "creq", "sts", "authz")
        if (VECTORS / f"{name}.{ext}").exists()
    }
    head, _, body = files["req"].partition("\n\n")
    request_line, *header_lines = head.split("\n")
    method, _, rest = request_line.partition(" ")
    target = rest.rsplit(" ", 1)[0]
    path, _, query = target.partition("?")
    headers = [tuple(line.split(":", 1)) for line in header_lines]
    headers.append(("Authorization", files["authz"]))
    return (
        SignedRequest(
            method=method,
            path=path,
            query=query,
            headers=headers,  # type: ignore[arg-type]
            body_sha256=hashlib.sha256(body.encode()).hexdigest(),
        ),
        files,
    )


def test_there_are_enough_vectors() -> None:
    assert len(VECTOR_NAMES) >= 25


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_aws_vector(name: str) -> None:
    request, files = load_vector(name)
    creds = parse_authorization(request)
    creq = canonical_request(request, creds.signed_headers, request.body_sha256 or EMPTY_SHA256)
    assert creq == files["creq"]
    sts = string_to_sign(creds.amz_date or "", creds.scope, creq)
    if "sts" in files:
        assert sts == files["sts"]
    key = signing_key(SUITE_SECRET, creds.date, creds.region, creds.service)
    assert signature(key, sts) == creds.signature
    token = request.header(SUITE_TOKEN_HEADER)
    caller = verify(
        request,
        {"AKIDEXAMPLE": KeyMaterial(SUITE_SECRET, session_token=token)}.get,
        now=signed_at_of(creds.amz_date or ""),
        expected_service=creds.service,
        region="us-east-1",
    )
    assert caller.access_key_id == "AKIDEXAMPLE"
    assert caller.session_token == token


def signed_at_of(amz_date: str) -> datetime:
    return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def test_signing_key_matches_aws_documented_example() -> None:
    # docs.aws.amazon.com "Examples of how to derive a signing key for Signature Version 4"
    key = signing_key(SUITE_SECRET, "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


# -- real clients through botocore -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "service", "query_api"),
    [(ecr_request, "ecr", False), (iam_request, "iam", True), (sts_request, "sts", True)],
)
@pytest.mark.parametrize("session", [False, True])
def test_botocore_clients_verify(
    build: Callable[..., SignedRequest], service: str, query_api: bool, session: bool
) -> None:
    args = {"akid": SESSION_AKID, "token": SESSION_TOKEN} if session else {}
    request = build(**args)
    assert service_of(request) == service
    caller = verify(
        request,
        keys(),
        now=signed_at(request),
        expected_service=service,
        region="us-east-1",
        query_api=query_api,
    )
    assert caller.service == service
    assert caller.session_token == (SESSION_TOKEN if session else None)


def _tampered(request: SignedRequest) -> dict[str, SignedRequest]:
    later = signed_at(request) + timedelta(seconds=1)
    return {
        "method": dataclasses.replace(request, method="PUT"),
        "path": dataclasses.replace(request, path="/x"),
        "query": dataclasses.replace(request, query="a=b"),
        "host": replace_header(request, "host", "evil.example:5000"),
        "content-type": replace_header(request, "content-type", "text/plain"),
        "body": dataclasses.replace(request, body_sha256=EMPTY_SHA256[::-1]),
        "date": replace_header(request, "x-amz-date", later.strftime("%Y%m%dT%H%M%SZ")),
    }


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (ecr_request, InvalidSignatureError),
        (iam_request, SignatureDoesNotMatchError),
        (sts_request, SignatureDoesNotMatchError),
    ],
)
def test_tampering_is_refused(build: Callable[..., SignedRequest], error: type[Exception]) -> None:
    request = build()
    query_api = error is SignatureDoesNotMatchError
    for part, tampered in _tampered(request).items():
        with pytest.raises(error, match="does not match the signature you provided") as caught:
            check(tampered, query_api=query_api)
        assert "canonical_request" in caught.value.detail, part  # type: ignore[attr-defined]


def test_tampered_ecr_target_is_refused() -> None:
    request = replace_header(
        ecr_request(), "x-amz-target", ECR_TARGET.replace("Describe", "Delete")
    )
    with pytest.raises(InvalidSignatureError):
        check(request)


def test_wrong_secret_is_refused() -> None:
    request = ecr_request()
    lookup = {AKID: KeyMaterial(SECRET.upper())}.get
    with pytest.raises(InvalidSignatureError, match="does not match"):
        verify(request, lookup, now=signed_at(request))


def test_wrong_region_is_refused() -> None:
    request = client_request("ecr", lambda c: c.describe_repositories())
    with pytest.raises(InvalidSignatureError) as caught:
        check(request, region="eu-west-1")
    assert caught.value.args[0] == "Credential should be scoped to a valid region, not 'us-east-1'."


def test_wrong_service_is_refused() -> None:
    with pytest.raises(SignatureDoesNotMatchError) as caught:
        check(ecr_request(), expected_service="iam", query_api=True)
    assert caught.value.args[0] == "Credential should be scoped to correct service: 'iam'."


def test_scope_rewritten_in_authorization_is_refused() -> None:
    request = ecr_request()
    header = request.header("authorization") or ""
    for old, new in (("/us-east-1/", "/eu-west-1/"), ("/ecr/", "/iam/")):
        forged = replace_header(request, "authorization", header.replace(old, new))
        with pytest.raises(InvalidSignatureError, match="does not match"):
            check(forged)


def test_scope_date_must_match_request_date() -> None:
    request, _ = load_vector("get-vanilla")
    forged = replace_header(request, "x-amz-date", "20150831T000100Z")
    with pytest.raises(InvalidSignatureError) as caught:
        verify(forged, {"AKIDEXAMPLE": KeyMaterial(SUITE_SECRET)}.get, now=signed_at(forged))
    assert caught.value.args[0] == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '20150830' != '20150831', from '20150831T000100Z'."
    )


@pytest.mark.parametrize(
    "path",
    ["/", "/a b/c", "/%2F/x", "/ü/ä", "//double//slashes/", "/./dot/../dotdot", "/~tilde/x+y=z"],
)
@pytest.mark.parametrize(
    "params",
    [
        [],
        [("a", "1"), ("a", "0"), ("B", "")],
        [("space key", "space value"), ("plus+", "1+1"), ("ünï", "çødé")],
        [("empty", ""), ("k", "v=w&x")],
    ],
)
def test_unusual_paths_and_queries(path: str, params: list[tuple[str, str]]) -> None:
    url = ENDPOINT + quote(path, safe="/%~+=")
    request = botocore_signed("GET", url, params=params, headers={"X-Custom": "  a   b  "})
    check(request)
    with pytest.raises(InvalidSignatureError):
        check(dataclasses.replace(request, path=request.path + "x"))


def test_repeated_raw_query_keys_in_url() -> None:
    request = botocore_signed("GET", ENDPOINT + "/?b=2&a=2&a=1&c=")
    check(request)


# -- presigned URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, SESSION_TOKEN])
def test_presigned_url_verifies(token: str | None) -> None:
    request = botocore_signed(
        "GET",
        ENDPOINT + "/v2/web/blobs/sha256:abc",
        params=[("x", "1 2")],
        token=token,
        presign_expires=300,
    )
    creds = parse_authorization(request)
    assert creds.presigned
    assert creds.security_token == token
    assert service_of(request) == "ecr"
    caller = check_presigned(request, signed_at(request) + timedelta(seconds=299))
    assert caller.presigned


def check_presigned(request: SignedRequest, now: datetime) -> Any:
    return verify(request, keys(), now=now, expected_service="ecr")


def test_presigned_url_expires() -> None:
    request = botocore_signed(presign_expires=60)
    with pytest.raises(InvalidSignatureError) as caught:
        check_presigned(request, signed_at(request) + timedelta(seconds=61))
    assert caught.value.args[0] == "Request has expired"


def test_presigned_url_tampering() -> None:
    request = botocore_signed(params=[("x", "1")], presign_expires=60)
    for forged in (
        dataclasses.replace(request, query=request.query.replace("x=1", "x=2")),
        dataclasses.replace(
            request, query=request.query.replace("X-Amz-Expires=60", "X-Amz-Expires=600")
        ),
        dataclasses.replace(request, path="/other"),
        replace_header(request, "host", "evil:5000"),
    ):
        with pytest.raises(InvalidSignatureError):
            check_presigned(forged, signed_at(request))


def test_sts_presigned_get_caller_identity() -> None:
    client = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=ENDPOINT,
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
    )
    url = client.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    parts = urlsplit(url)
    request = SignedRequest("GET", parts.path, parts.query, [("Host", parts.netloc)], EMPTY_SHA256)
    assert service_of(request) == "sts"
    caller = verify(request, keys(), now=signed_at(request), expected_service="sts", query_api=True)
    assert caller.presigned


def test_presigned_missing_parameters() -> None:
    request = SignedRequest("GET", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256", [("Host", "h")])
    with pytest.raises(IncompleteSignatureError) as caught:
        parse_authorization(request)
    assert caught.value.args[0] == (
        "AWS query-string parameters must include 'X-Amz-Credential'. "
        "AWS query-string parameters must include 'X-Amz-Signature'. "
        "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
        "AWS query-string parameters must include 'X-Amz-Date'. "
        "Re-examine the query-string parameters."
    )


# -- clock skew ------------------------------------------------------------------------------------


def test_clock_skew_window() -> None:
    request = ecr_request()
    at = signed_at(request)
    check(request, now=at + timedelta(minutes=14))
    check(request, now=at - timedelta(minutes=14))
    with pytest.raises(InvalidSignatureError, match=r"^Signature expired: "):
        check(request, now=at + timedelta(minutes=16))
    with pytest.raises(InvalidSignatureError, match=r"^Signature not yet current: "):
        check(request, now=at - timedelta(minutes=16))


def test_signature_expired_message_is_aws_wording() -> None:
    request, _ = load_vector("get-vanilla")
    with pytest.raises(SignatureDoesNotMatchError) as caught:
        verify(
            request,
            {"AKIDEXAMPLE": KeyMaterial(SUITE_SECRET)}.get,
            now=datetime(2015, 8, 30, 12, 56, tzinfo=UTC),
            query_api=True,
        )
    assert caught.value.args[0] == (
        "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z "
        "(20150830T125600Z - 15 min.)"
    )


# -- keys and session tokens -----------------------------------------------------------------------


INVALID_TOKEN = "The security token included in the request is invalid."


def test_unknown_and_inactive_keys() -> None:
    request = ecr_request()
    for lookup in ({}.get, {AKID: KeyMaterial(SECRET, active=False)}.get):
        with pytest.raises(UnrecognizedClientError) as caught:
            verify(request, lookup, now=signed_at(request))
        assert caught.value.args[0] == INVALID_TOKEN


def test_session_token_rules() -> None:
    with_token = ecr_request(akid=SESSION_AKID, token=SESSION_TOKEN)
    now = signed_at(with_token)
    wrong = {SESSION_AKID: KeyMaterial(SECRET, session_token="other")}.get
    unexpected = {SESSION_AKID: KeyMaterial(SECRET)}.get
    for lookup in (wrong, unexpected):
        with pytest.raises(UnrecognizedClientError, match=INVALID_TOKEN):
            verify(with_token, lookup, now=now)
    missing = client_request("ecr", lambda c: c.describe_repositories(), akid=SESSION_AKID)
    with pytest.raises(UnrecognizedClientError, match=INVALID_TOKEN):
        verify(missing, keys(), now=signed_at(missing))
    expired = KeyMaterial(SECRET, session_token=SESSION_TOKEN, expires_at=now)
    with pytest.raises(ExpiredTokenError, match="is expired"):
        verify(with_token, {SESSION_AKID: expired}.get, now=now)


# -- malformed Authorization headers ---------------------------------------------------------------


def test_non_sigv4_authorization_header() -> None:
    request = SignedRequest("POST", "/", "", [("Host", "h"), ("Authorization", "eyJ.abc.def")])
    with pytest.raises(IncompleteSignatureError) as caught:
        parse_authorization(request)
    assert caught.value.args[0] == (
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=eyJ.abc.def"
    )
    assert service_of(request) is None


def test_authorization_pair_without_equal_sign() -> None:
    header = "AWS4-HMAC-SHA256 Credential= AKID/20150830/us-east-1/ecr/aws4_request, X=1"
    request = SignedRequest("POST", "/", "", [("Authorization", header)])
    with pytest.raises(IncompleteSignatureError, match="not a valid key=value pair"):
        parse_authorization(request)


def test_host_must_be_signed() -> None:
    header = (
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/ecr/aws4_request, "
        "SignedHeaders=x-amz-date, Signature=00"
    )
    request = SignedRequest("POST", "/", "", [("Authorization", header), ("X-Amz-Date", "x")])
    with pytest.raises(IncompleteSignatureError, match="'Host'"):
        parse_authorization(request)


def test_bad_credential_scope() -> None:
    header = "AWS4-HMAC-SHA256 Credential=AKID/20150830/ecr, SignedHeaders=host, Signature=00"
    request = SignedRequest("POST", "/", "", [("Authorization", header), ("X-Amz-Date", "x")])
    with pytest.raises(IncompleteSignatureError, match="5 slash-delimited"):
        parse_authorization(request)


def test_no_signature_at_all() -> None:
    request = SignedRequest("POST", "/", "", [("Host", "h")])
    with pytest.raises(IncompleteSignatureError):
        parse_authorization(request)
    assert service_of(request) is None


def test_unsigned_payload_header_is_used_when_body_not_hashed() -> None:
    request = botocore_signed("PUT", headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    check(dataclasses.replace(request, body_sha256=None))
    with pytest.raises(InvalidSignatureError):
        check(request)


# -- property: whatever botocore signs, we verify --------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_header_value = st.text(st.sampled_from("abcXYZ019 \t-_.,;:=/\"'!*()[]{}~"), max_size=20)


@settings(max_examples=150, deadline=None)
@given(
    segments=st.lists(_text, max_size=4),
    params=st.lists(st.tuples(_text, _text), max_size=5),
    header_values=st.lists(_header_value, min_size=1, max_size=3),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    body=st.binary(max_size=64),
    service=st.sampled_from(["ecr", "iam", "sts"]),
)
def test_botocore_signatures_always_verify(
    *,
    segments: list[str],
    params: list[tuple[str, str]],
    header_values: list[str],
    method: str,
    body: bytes,
    service: str,
) -> None:
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    headers = {f"X-Test-{i}": v for i, v in enumerate(header_values)}
    request = botocore_signed(
        method, ENDPOINT + path, service=service, params=params, headers=headers, body=body
    )
    caller = verify(request, keys(), now=signed_at(request), expected_service=service)
    assert caller.access_key_id == AKID
