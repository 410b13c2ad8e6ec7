"""``berth serve --dev-tls``: a local certificate authority and a server certificate it signs.

Both live in ``DATA_DIR/tls/``: ``ca.crt`` (what clients trust), ``ca.key``, ``server.crt`` and
``server.key`` (keys 0600). The CA is made once and kept, so clients trust it once; the server
certificate is made again only when it no longer names every host the server answers as, or is
near its end. Keys are ECDSA P-256.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["DevTls", "dev_names", "ensure_dev_tls", "trust_instructions"]

_CA_DAYS = 3650
_SERVER_DAYS = 397
"""Browsers and Apple platforms refuse server certificates valid for longer than this."""
_RENEW_BEFORE = timedelta(days=30)
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class DevTls:
    """Where the development certificates are, and whether this start made any."""

    folder: Path
    created_ca: bool
    issued_server: bool

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key"


def dev_names(host: str) -> list[str]:
    """The names the server certificate covers: loopback, this machine's name and ``host``."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname()]
    if host.strip("[]") not in _WILDCARD_HOSTS:
        names.append(host.strip("[]"))
    return list(dict.fromkeys(name.lower() for name in names if name))


def ensure_dev_tls(data_dir: Path, names: Iterable[str], now: datetime | None = None) -> DevTls:
    """The CA (made once) and a server certificate for ``names`` (made again when needed)."""
    now = now or datetime.now(UTC)
    wanted = list(names)
    folder = data_dir / "tls"
    folder.mkdir(parents=True, exist_ok=True)
    tls = DevTls(folder, created_ca=False, issued_server=False)
    created_ca = not (tls.ca_cert.exists() and tls.ca_key.exists())
    if created_ca:
        _write_ca(tls, now)
    ca_cert = x509.load_pem_x509_certificate(tls.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(tls.ca_key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{tls.ca_key} is not an EC private key")
    issue = created_ca or not _server_current(tls, ca_cert, wanted, now)
    if issue:
        _write_server(tls, ca_cert, ca_key, wanted, now)
    return DevTls(folder, created_ca=created_ca, issued_server=issue)


def trust_instructions(tls: DevTls, authority: str) -> str:
    """How to make each kind of client trust the CA, for a server at ``authority`` (host:port)."""
    ca = tls.ca_cert.resolve()
    return "\n".join(
        [
            f"Development TLS: certificates signed by the local CA {ca}",
            "Trust that CA (not the server certificate) in each client:",
            f"  skopeo:   skopeo ... --cert-dir DIR  (DIR holding a copy of ca.crt), or copy it to"
            f" /etc/containers/certs.d/{authority}/ca.crt",
            f"  podman:   sudo mkdir -p /etc/containers/certs.d/{authority} &&"
            f" sudo cp {ca} /etc/containers/certs.d/{authority}/ca.crt",
            f"  docker:   sudo mkdir -p /etc/docker/certs.d/{authority} &&"
            f" sudo cp {ca} /etc/docker/certs.d/{authority}/ca.crt",
            f"  curl:     curl --cacert {ca} https://{authority}/v2/",
            f"  aws CLI, boto3:  export AWS_CA_BUNDLE={ca}  (or aws --ca-bundle {ca})",
        ]
    )


def _write_ca(tls: DevTls, now: datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Berth development"),
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"Berth development CA ({socket.gethostname()})"
            ),
        ]
    )
    identifier = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(identifier, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(tls.ca_key, key)
    _write_public(tls.ca_cert, certificate)


def _write_server(
    tls: DevTls,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: list[str],
    now: datetime,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    ca_identifier = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=_SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_general_names(names)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_identifier),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(tls.server_key, key)
    _write_public(tls.server_cert, certificate)


def _server_current(
    tls: DevTls, ca_cert: x509.Certificate, names: list[str], now: datetime
) -> bool:
    """True if the server certificate exists, is the CA's, names every host and is not ending."""
    if not (tls.server_cert.exists() and tls.server_key.exists()):
        return False
    certificate = x509.load_pem_x509_certificate(tls.server_cert.read_bytes())
    if certificate.issuer != ca_cert.subject:
        return False
    try:
        certificate.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    if certificate.not_valid_after_utc - _RENEW_BEFORE < now:
        return False
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(_general_names(names)) <= set(san)


def _general_names(names: list[str]) -> list[x509.GeneralName]:
    general: list[x509.GeneralName] = []
    for name in names:
        address = _ip(name)
        general.append(x509.IPAddress(address) if address else x509.DNSName(name))
    return general


def _ip(name: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    temporary.replace(path)


def _write_public(path: Path, certificate: x509.Certificate) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    temporary.replace(path)
