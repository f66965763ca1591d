"""The facts an HTTPS check reports about a certificate, read from its DER bytes.

Python's ``ssl`` gives the parsed certificate only when verification succeeded, and the
interesting certificates are the ones that fail it (expired). So the few fields a monitor
needs (issuer, subject, validity) are read from the DER form, which ``ssl`` always gives,
by walking the X.509 structure (RFC 5280 §4.1) with a minimal DER reader (X.690 §8):
no dependency, and nothing heavy for the agent to load.

    Certificate    ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
    TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature,
                                  issuer Name, validity SEQUENCE { notBefore, notAfter },
                                  subject Name, ... }
    Name           ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY }
"""

from __future__ import annotations

import calendar
import ssl
import threading
from dataclasses import dataclass

_SEQUENCE, _SET, _OID, _UTC_TIME, _GENERALIZED_TIME, _CONTEXT_0 = 0x30, 0x31, 0x06, 0x17, 0x18, 0xA0
#: DER of the attribute types shown: commonName (2.5.4.3), organizationName (2.5.4.10).
_CN, _O = bytes([0x55, 0x04, 0x03]), bytes([0x55, 0x04, 0x0A])
DAY_SECONDS = 86_400.0


class CertificateUnreadable(ValueError):
    """Bytes that are not the DER of an X.509 certificate as far as this reader goes."""


@dataclass(frozen=True, slots=True)
class CertFacts:
    issuer: str
    subject: str
    not_before: int
    not_after: int

    def days_left(self, now: float) -> float:
        return round((self.not_after - now) / DAY_SECONDS, 2)


def _tlv(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the element at ``at``."""
    if at + 2 > len(data):
        raise CertificateUnreadable("truncated element")
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or at + count > len(data):
            raise CertificateUnreadable("bad length")
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    if at + length > len(data):
        raise CertificateUnreadable("element longer than the data")
    return tag, at, at + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        tag, value_start, value_end = _tlv(data, start)
        out.append((tag, value_start, value_end))
        start = value_end
    return out


def _time(data: bytes, tag: int, start: int, end: int) -> int:
    text = data[start:end].decode("ascii", "replace").rstrip("Z")
    if tag == _UTC_TIME and len(text) == 12:
        year = int(text[:2])
        text = ("19" if year >= 50 else "20") + text  # RFC 5280 §4.1.2.5.1
    elif tag != _GENERALIZED_TIME or len(text) != 14:
        raise CertificateUnreadable("unsupported time format")
    if not text.isdigit():
        raise CertificateUnreadable("unsupported time format")
    parts = (int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]), int(text[12:14]))
    return calendar.timegm((*parts, 0, 0, 0))


def _name(data: bytes, start: int, end: int) -> str:
    """``CN`` of a Name, or its ``O`` when it has no CN."""
    found: dict[bytes, str] = {}
    for tag, s, e in _children(data, start, end):
        if tag != _SET:
            continue
        for inner_tag, a, b in _children(data, s, e):
            if inner_tag != _SEQUENCE:
                continue
            parts = _children(data, a, b)
            if len(parts) == 2 and parts[0][0] == _OID:
                oid = data[parts[0][1] : parts[0][2]]
                found.setdefault(oid, data[parts[1][1] : parts[1][2]].decode("utf-8", "replace"))
    return found.get(_CN) or found.get(_O) or ""


def read_certificate(der: bytes) -> CertFacts:
    tag, start, _end = _tlv(der, 0)
    if tag != _SEQUENCE:
        raise CertificateUnreadable("not a certificate")
    tbs_tag, tbs_start, tbs_end = _tlv(der, start)
    if tbs_tag != _SEQUENCE:
        raise CertificateUnreadable("not a certificate")
    fields = _children(der, tbs_start, tbs_end)
    if fields and fields[0][0] == _CONTEXT_0:
        fields = fields[1:]
    if len(fields) < 5:
        raise CertificateUnreadable("too few certificate fields")
    _serial, _algorithm, issuer, validity, subject = fields[:5]
    times = _children(der, validity[1], validity[2])
    if validity[0] != _SEQUENCE or len(times) != 2:
        raise CertificateUnreadable("bad validity")
    return CertFacts(
        issuer=_name(der, issuer[1], issuer[2]),
        subject=_name(der, subject[1], subject[2]),
        not_before=_time(der, *times[0]),
        not_after=_time(der, *times[1]),
    )


def cert_details(der: bytes | None, now: float) -> dict[str, object]:
    """The result details of a certificate: issuer, expiry, days left (none if unreadable)."""
    if not der:
        return {}
    try:
        facts = read_certificate(der)
    except CertificateUnreadable:
        return {}
    return {"cert_issuer": facts.issuer, "cert_expires_at": facts.not_after, "cert_days_left": facts.days_left(now)}


def expiry_reason(der: bytes | None, now: float) -> str | None:
    """ "TLS certificate expired 3 days ago" when ``der`` has expired, else None."""
    details = cert_details(der, now)
    days = details.get("cert_days_left")
    if not isinstance(days, float) or days >= 0:
        return None
    ago = int(-days)
    return "TLS certificate expired today" if ago == 0 else f"TLS certificate expired {ago} day{'s' * (ago != 1)} ago"


_contexts: dict[tuple[bool, str], ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def client_context(*, verify: bool, ca_pem: str = "") -> ssl.SSLContext:
    """A client TLS context, made once per (verify, extra CA): each parses the system's CA bundle."""
    key = (verify, ca_pem)
    with _contexts_lock:
        context = _contexts.get(key)
        if context is None:
            context = ssl.create_default_context()
            if ca_pem:
                context.load_verify_locations(cadata=ca_pem)
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            _contexts[key] = context
        return context
