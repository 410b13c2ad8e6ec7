"""AWS Signature Version 4: parse, canonicalise and verify a request (pure, no I/O).

The secret behind an access key comes from a ``lookup`` callable, so this module never touches a
store. Canonicalisation follows AWS for every service except S3: the path is normalised and
encoded once more (double encoding), query pairs are decoded, re-encoded and sorted, header
values are trimmed with inner runs of whitespace collapsed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote_to_bytes

from berth.errors import (
    ExpiredTokenError,
    IncompleteSignatureError,
    InvalidSignatureError,
    SignatureDoesNotMatchError,
    UnauthorizedError,
    UnrecognizedClientError,
)

__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "MAX_SKEW",
    "UNSIGNED_PAYLOAD",
    "KeyMaterial",
    "SigV4Credentials",
    "SignedRequest",
    "VerifiedCaller",
    "canonical_headers",
    "canonical_query_string",
    "canonical_request",
    "canonical_uri",
    "parse_authorization",
    "service_of",
    "signature",
    "signing_key",
    "string_to_sign",
    "verify",
]

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES = 604800
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"

_QUERY_SAFE = "-_.~"
_PATH_SAFE = "/~"
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What verification needs from an HTTP request, exactly as it came off the wire."""

    method: str
    path: str
    query: str
    headers: Sequence[tuple[str, str]]
    body_sha256: str | None = None
    header_index: Mapping[str, tuple[str, ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        index: dict[str, list[str]] = {}
        for name, value in self.headers:
            index.setdefault(name.lower(), []).append(value)
        object.__setattr__(self, "header_index", {k: tuple(v) for k, v in index.items()})

    def header(self, name: str) -> str | None:
        """The first value of a header (``name`` in lower case), or None."""
        values = self.header_index.get(name)
        return values[0] if values else None


@dataclass(frozen=True, slots=True)
class SigV4Credentials:
    """The signature's claims, parsed but not yet verified."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str | None
    security_token: str | None
    presigned: bool
    expires: str | None = None

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{TERMINATOR}"


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """What the credential store knows about one access key id."""

    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    active: bool = True
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class VerifiedCaller:
    """A request whose signature checked out."""

    access_key_id: str
    region: str
    service: str
    signed_at: datetime
    session_token: str | None = field(default=None, repr=False)
    presigned: bool = False


# -- parsing --------------------------------------------------------------------------------------


def parse_authorization(request: SignedRequest) -> SigV4Credentials:
    """Read the SigV4 claims from the Authorization header or from a presigned query string."""
    header = request.header("authorization")
    if header is not None:
        return _parse_header(request, header)
    params = _query_params(request.query)
    if "X-Amz-Algorithm" in params or "X-Amz-Credential" in params:
        return _parse_presigned(params)
    raise IncompleteSignatureError("Request is missing Authentication Token")


def service_of(request: SignedRequest) -> str | None:
    """The service named in the credential scope, without verifying anything."""
    header = request.header("authorization")
    if header is not None:
        start = header.find("Credential=")
        credential = header[start + 11 :].split(",", 1)[0].strip() if start >= 0 else ""
    else:
        credential = _query_params(request.query).get("X-Amz-Credential", "")
    parts = credential.split("/")
    return parts[3] if len(parts) == 5 else None


def _parse_header(request: SignedRequest, header: str) -> SigV4Credentials:
    algorithm, _, rest = header.strip().partition(" ")
    fields: dict[str, str] = {}
    for token in rest.replace(",", " ").split():
        key, eq, value = token.partition("=")
        if not eq:
            raise IncompleteSignatureError(
                f"'{token}' not a valid key=value pair (missing equal-sign) in "
                f"Authorization header: '{header}'."
            )
        fields[key] = value
    amz_date = request.header("x-amz-date") or _http_date(request.header("date"))
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(name)
    ]
    if amz_date is None:
        missing.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if missing:
        raise IncompleteSignatureError(" ".join([*missing, f"Authorization={header}"]))
    if algorithm != ALGORITHM:
        raise IncompleteSignatureError(f"Unsupported AWS 'algorithm': '{algorithm}'")
    return _credentials(
        fields["Credential"],
        fields["SignedHeaders"],
        fields["Signature"],
        amz_date=amz_date,
        token=request.header("x-amz-security-token"),
        presigned=False,
    )


def _parse_presigned(params: Mapping[str, str]) -> SigV4Credentials:
    missing = [
        f"AWS query-string parameters must include '{name}'."
        for name in _PRESIGN_PARAMS
        if not params.get(name)
    ]
    if missing:
        raise IncompleteSignatureError(
            " ".join([*missing, "Re-examine the query-string parameters."])
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignatureError(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    return _credentials(
        params["X-Amz-Credential"],
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
        amz_date=params["X-Amz-Date"],
        token=params.get("X-Amz-Security-Token"),
        presigned=True,
        expires=params.get("X-Amz-Expires"),
    )


def _credentials(
    credential: str,
    signed_headers: str,
    signature_hex: str,
    *,
    amz_date: str | None,
    token: str | None,
    presigned: bool,
    expires: str | None = None,
) -> SigV4Credentials:
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignatureError(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{credential}'"
        )
    access_key_id, date, region, service, terminator = parts
    if terminator != TERMINATOR:
        raise IncompleteSignatureError(
            "Credential should be scoped with a valid terminator: "
            f"'{TERMINATOR}', not '{terminator}'."
        )
    headers = tuple(signed_headers.split(";"))
    if "host" not in headers:
        raise IncompleteSignatureError(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    return SigV4Credentials(
        access_key_id=access_key_id,
        date=date,
        region=region,
        service=service,
        signed_headers=headers,
        signature=signature_hex,
        amz_date=amz_date,
        security_token=token,
        presigned=presigned,
        expires=expires,
    )


def _query_params(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in query.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            params.setdefault(_unquote(key), _unquote(value))
    return params


def _unquote(text: str) -> str:
    return _unquote_bytes(text).decode("utf-8", "replace")


def _unquote_bytes(text: str) -> bytes:
    """Form decoding, as AWS reads query strings: ``+`` is a space."""
    return unquote_to_bytes(text.replace("+", " "))


def _http_date(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime(_AMZ_DATE_FORMAT)


# -- canonical request ----------------------------------------------------------------------------


def canonical_uri(path: str) -> str:
    """The path as AWS signs it for non-S3 services: dot segments and empty segments removed,
    then percent-encoded (so an already encoded ``%20`` becomes ``%2520``)."""
    return quote(_remove_dot_segments(path), safe=_PATH_SAFE)


def _remove_dot_segments(path: str) -> str:
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and kept else ""
    return first + "/".join(kept) + last


def canonical_query_string(query: str, *, presigned: bool = False) -> str:
    """Each name and value decoded (``+`` is a space) and re-encoded (RFC 3986), sorted by name
    then value; a presigned request leaves out its own ``X-Amz-Signature``."""
    pairs: list[tuple[str, str]] = []
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        encoded_key = _encode(key)
        if presigned and encoded_key == "X-Amz-Signature":
            continue
        pairs.append((encoded_key, _encode(value)))
    pairs.sort()
    return "&".join(f"{key}={value}" for key, value in pairs)


def _encode(text: str) -> str:
    return quote(_unquote_bytes(text), safe=_QUERY_SAFE)


def canonical_headers(request: SignedRequest, signed_headers: Sequence[str]) -> str:
    """One ``name:value`` line per signed header; repeated headers joined with commas."""
    lines = []
    for name in signed_headers:
        values = request.header_index.get(name.lower(), ())
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}\n")
    return "".join(lines)


def canonical_request(
    request: SignedRequest,
    signed_headers: Sequence[str],
    payload_hash: str,
    *,
    presigned: bool = False,
) -> str:
    return "\n".join(
        (
            request.method.upper(),
            canonical_uri(request.path),
            canonical_query_string(request.query, presigned=presigned),
            canonical_headers(request, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        )
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, TERMINATOR):
        key = _hmac(key, part)
    return key


def signature(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


# -- verification ---------------------------------------------------------------------------------


def verify(
    request: SignedRequest,
    lookup: Callable[[str], KeyMaterial | None],
    *,
    now: datetime,
    expected_service: str | None = None,
    region: str | None = None,
    query_api: bool = False,
) -> VerifiedCaller:
    """Check a request's SigV4 signature and return who signed it, or raise the AWS error.

    ``query_api`` picks the error flavour: ``SignatureDoesNotMatch`` for the AWS Query APIs (IAM,
    STS), ``InvalidSignatureException`` for the JSON ones (ECR).
    """
    refuse: type[UnauthorizedError] = (
        SignatureDoesNotMatchError if query_api else InvalidSignatureError
    )
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    creds = parse_authorization(request)
    if expected_service is not None and creds.service != expected_service:
        raise refuse(f"Credential should be scoped to correct service: '{expected_service}'.")
    if region is not None and creds.region != region:
        raise refuse(f"Credential should be scoped to a valid region, not '{creds.region}'.")
    signed_at = _check_time(creds, now, refuse)
    key = lookup(creds.access_key_id)
    if key is None or not key.active:
        raise UnrecognizedClientError(INVALID_TOKEN)
    _check_session_token(creds, key, now)
    key_bytes = signing_key(key.secret_access_key, creds.date, creds.region, creds.service)
    canonical = text = ""
    for payload in _payload_hashes(request, creds):
        canonical = canonical_request(
            request, creds.signed_headers, payload, presigned=creds.presigned
        )
        text = string_to_sign(creds.amz_date or "", creds.scope, canonical)
        if hmac.compare_digest(signature(key_bytes, text), creds.signature):
            return VerifiedCaller(
                access_key_id=creds.access_key_id,
                region=creds.region,
                service=creds.service,
                signed_at=signed_at,
                session_token=creds.security_token,
                presigned=creds.presigned,
            )
    raise refuse(
        SIGNATURE_MISMATCH, detail={"canonical_request": canonical, "string_to_sign": text}
    )


def _check_time(
    creds: SigV4Credentials, now: datetime, refuse: type[UnauthorizedError]
) -> datetime:
    raw = creds.amz_date or ""
    signed_at = _parse_amz_date(raw)
    if signed_at is None:
        raise IncompleteSignatureError(
            f"Date must be in ISO-8601 'basic format'. Got '{raw}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        )
    if creds.date != raw[:8]:
        raise refuse(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{creds.date}' != '{raw[:8]}', from '{raw}'."
        )
    if signed_at - now > MAX_SKEW:
        raise refuse(
            f"Signature not yet current: {raw} is still later than "
            f"{_format_amz_date(now + MAX_SKEW)} ({_format_amz_date(now)} + 15 min.)"
        )
    if creds.presigned and creds.expires is not None:
        _check_expires(creds.expires, signed_at, now, refuse)
    elif now - signed_at > MAX_SKEW:
        raise refuse(
            f"Signature expired: {raw} is now earlier than "
            f"{_format_amz_date(now - MAX_SKEW)} ({_format_amz_date(now)} - 15 min.)"
        )
    return signed_at


def _check_expires(
    expires: str, signed_at: datetime, now: datetime, refuse: type[UnauthorizedError]
) -> None:
    if not (expires.isascii() and expires.isdigit()):
        raise IncompleteSignatureError("X-Amz-Expires should be a number")
    seconds = int(expires)
    if seconds > MAX_PRESIGNED_EXPIRES:
        raise IncompleteSignatureError(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800"
        )
    if now > signed_at + timedelta(seconds=seconds):
        raise refuse("Request has expired")


def _check_session_token(creds: SigV4Credentials, key: KeyMaterial, now: datetime) -> None:
    sent = creds.security_token
    if key.session_token is None:
        if sent is not None:
            raise UnrecognizedClientError(INVALID_TOKEN)
        return
    if sent is None or not hmac.compare_digest(sent.encode(), key.session_token.encode()):
        raise UnrecognizedClientError(INVALID_TOKEN)
    if key.expires_at is not None and now >= key.expires_at:
        raise ExpiredTokenError(EXPIRED_TOKEN)


def _payload_hashes(request: SignedRequest, creds: SigV4Credentials) -> tuple[str, ...]:
    if request.body_sha256 is not None:
        payload = request.body_sha256
    else:
        payload = request.header("x-amz-content-sha256") or EMPTY_SHA256
    if creds.presigned and payload != UNSIGNED_PAYLOAD:
        return (payload, UNSIGNED_PAYLOAD)
    return (payload,)


def _parse_amz_date(text: str) -> datetime | None:
    if len(text) != 16 or text[8] != "T" or text[15] != "Z":
        return None
    digits = text[:8] + text[9:15]
    if not digits.isdigit() or not digits.isascii():
        return None
    try:
        return datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[9:11]),
            int(text[11:13]),
            int(text[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def _format_amz_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_AMZ_DATE_FORMAT)
