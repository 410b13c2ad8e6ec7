"""The development CA: made once, kept; the server certificate follows the names it must cover."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from berth.cli.devtls import dev_names, ensure_dev_tls, trust_instructions

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _names(path: Path) -> set[str]:
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    found = {str(address) for address in san.get_values_for_type(x509.IPAddress)}
    return found | set(san.get_values_for_type(x509.DNSName))


def test_first_start_makes_a_ca_and_a_server_certificate_it_signs(tmp_path: Path) -> None:
    made = ensure_dev_tls(tmp_path, ["localhost", "127.0.0.1"], NOW)
    assert made.created_ca and made.issued_server
    ca = x509.load_pem_x509_certificate(made.ca_cert.read_bytes())
    server = x509.load_pem_x509_certificate(made.server_cert.read_bytes())
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert _names(made.server_cert) == {"localhost", "127.0.0.1"}
    for key in (made.ca_key, made.server_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_a_second_start_keeps_both(tmp_path: Path) -> None:
    first = ensure_dev_tls(tmp_path, ["localhost"], NOW)
    ca, server = first.ca_cert.read_bytes(), first.server_cert.read_bytes()
    again = ensure_dev_tls(tmp_path, ["localhost"], NOW + timedelta(days=1))
    assert not again.created_ca and not again.issued_server
    assert (again.ca_cert.read_bytes(), again.server_cert.read_bytes()) == (ca, server)


def test_a_new_host_reissues_the_server_certificate_under_the_same_ca(tmp_path: Path) -> None:
    first = ensure_dev_tls(tmp_path, ["localhost"], NOW)
    ca = first.ca_cert.read_bytes()
    again = ensure_dev_tls(tmp_path, ["localhost", "registry.internal", "10.0.0.7"], NOW)
    assert again.issued_server and not again.created_ca
    assert again.ca_cert.read_bytes() == ca
    assert _names(again.server_cert) == {"localhost", "registry.internal", "10.0.0.7"}


def test_a_server_certificate_near_its_end_is_renewed(tmp_path: Path) -> None:
    ensure_dev_tls(tmp_path, ["localhost"], NOW)
    later = ensure_dev_tls(tmp_path, ["localhost"], NOW + timedelta(days=390))
    assert later.issued_server and not later.created_ca


def test_names_cover_loopback_and_the_listen_address_but_not_a_wildcard() -> None:
    assert {"localhost", "127.0.0.1", "::1"} <= set(dev_names("0.0.0.0"))
    assert "0.0.0.0" not in dev_names("0.0.0.0")
    assert "registry.example" in dev_names("registry.example")
    assert "::" not in dev_names("::")
    assert "::" not in dev_names("[::]")


def test_instructions_name_every_client_and_the_ca_path(tmp_path: Path) -> None:
    made = ensure_dev_tls(tmp_path, ["localhost"], NOW)
    text = trust_instructions(made, "localhost:5443")
    for expected in (
        "--cert-dir",
        "/etc/containers/certs.d/localhost:5443/ca.crt",
        "/etc/docker/certs.d/localhost:5443/ca.crt",
        "--cacert",
        "AWS_CA_BUNDLE=",
        str(made.ca_cert.resolve()),
    ):
        assert expected in text
