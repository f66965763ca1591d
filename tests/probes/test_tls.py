"""Certificate checks against a local TLS server, with certificates made here: valid, expiring, expired."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from heron.probes import checks
from heron.probes.checks.tls import read_certificate
from heron.probes.spec import ProbeResult, ProbeSpec
from heron.probes.state import Rules, State, judge
from tests.probes.targets import http_target

NOW = dt.datetime.now(dt.UTC)


@dataclass
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()


def _name(common: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Heron Test"), x509.NameAttribute(NameOID.COMMON_NAME, common)]
    )


@pytest.fixture(scope="module")
def ca() -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Heron Test CA"))
        .issuer_name(_name("Heron Test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=400))
        .not_valid_after(NOW + dt.timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert)


def server_context(ca: Authority, tmp: Path, *, not_before: dt.datetime, not_after: dt.datetime) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


@pytest.fixture(params=["blocking", "asyncio"])
def form(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def check(url: str, options: dict[str, object], form: str) -> ProbeResult:
    target, clean = checks.validate("http", url, options)
    spec = ProbeSpec(1, "http", target, 30, 5.0, clean)
    if form == "blocking":
        return checks.check(spec, now=time.time())
    return asyncio.run(checks.check_async(spec, now=time.time()))


@pytest.fixture
def served(ca: Authority, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    before, after = request.param
    context = server_context(
        ca, tmp_path, not_before=NOW + dt.timedelta(days=before), not_after=NOW + dt.timedelta(days=after)
    )
    with http_target(context=context) as target:
        yield target.url


@pytest.mark.parametrize("served", [(-30, 90)], indirect=True)
def test_a_valid_certificate_is_up_with_its_issuer_and_days_left(served: str, ca: Authority, form: str) -> None:
    result = check(served, {"tls_ca": ca.pem}, form)
    assert result.up, result.reason
    assert result.details["cert_issuer"] == "Heron Test CA"
    assert 89.5 < result.details["cert_days_left"] <= 90
    assert result.details["status_code"] == 200 and "tls_ms" in result.details
    assert judge(result, Rules(cert_expiry_days=14)) == (State.UP, "")


@pytest.mark.parametrize("served", [(-30, 3)], indirect=True)
def test_a_certificate_expiring_within_the_threshold_makes_the_monitor_degraded(
    served: str, ca: Authority, form: str
) -> None:
    result = check(served, {"tls_ca": ca.pem, "cert_expiry_days": 14}, form)
    assert result.up
    state, reason = judge(result, Rules(cert_expiry_days=14))
    assert state is State.DEGRADED
    assert reason.startswith("TLS certificate expires in 2.") or reason.startswith("TLS certificate expires in 3.")


@pytest.mark.parametrize("served", [(-30, -3)], indirect=True)
def test_an_expired_certificate_is_down_saying_when_it_expired(served: str, ca: Authority, form: str) -> None:
    result = check(served, {"tls_ca": ca.pem}, form)
    assert (result.up, result.reason) == (False, "TLS certificate expired 3 days ago")
    assert result.details["cert_issuer"] == "Heron Test CA"
    assert -3.1 < result.details["cert_days_left"] < -2.9


@pytest.mark.parametrize("served", [(-30, 90)], indirect=True)
def test_an_untrusted_certificate_is_down_unless_verification_is_off(served: str, form: str) -> None:
    refused = check(served, {}, form)
    assert not refused.up
    assert refused.reason.startswith("TLS certificate not trusted: unable to get local issuer certificate")
    unverified = check(served, {"verify_tls": False}, form)
    assert unverified.up and unverified.details["cert_issuer"] == "Heron Test CA"


def test_the_der_reader_agrees_with_the_cryptography_library(ca: Authority, tmp_path: Path) -> None:
    facts = read_certificate(ca.cert.public_bytes(serialization.Encoding.DER))
    assert facts.issuer == facts.subject == "Heron Test CA"
    assert facts.not_after == int(ca.cert.not_valid_after_utc.timestamp())
    assert facts.not_before == int(ca.cert.not_valid_before_utc.timestamp())
