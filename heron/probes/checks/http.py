"""HTTP(S) checks: method, URL, headers, body; expected status codes; a keyword or pattern that
must (or must not) appear; redirects followed or not; the certificate's issuer and expiry.

One request per check over a fresh connection (``Connection: close``), spoken with ``h11``
(a sans-I/O HTTP/1.1 implementation), so the blocking form (agent) and the asyncio form
(server) share the request, the parsing and the verdict, and each phase is timed apart:
``dns_ms`` (skipped for an IP address), ``connect_ms``, ``tls_ms``, ``ttfb_ms`` (request sent
to the response head); ``delay_ms`` is the whole check. At most :data:`MAX_BODY_BYTES` of
the body are read: enough for a keyword, bounded for a monitor pointed at a large file.

A certificate that fails verification makes the check down with the reason in words
("TLS certificate expired 3 days ago", "TLS certificate not trusted: self-signed
certificate"); the certificate is then fetched again without verification to report it.
``verify_tls: false`` checks the service but not the certificate (its facts are still
reported); ``tls_ca`` adds a private CA (PEM) to the trusted ones. Whether a certificate
that expires soon makes the monitor degraded is the state's rule (``cert_expiry_days``).
"""

from __future__ import annotations

import contextlib
import re
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from heron.core.errors import BadRequest
from heron.probes.checks import is_ip, known_options, option, parse_host
from heron.probes.checks.tcp import error_reason
from heron.probes.spec import ProbeResult, ProbeSpec, failed, ms

if TYPE_CHECKING:
    import asyncio
    import ssl

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OPTIONS = {
    "method", "headers", "body", "expected_status", "keyword", "regex", "invert_keyword",
    "follow_redirects", "max_redirects", "verify_tls", "tls_ca", "cert_expiry_days",
}  # fmt: skip
DEFAULT_EXPECTED = ("200-299",)
MAX_BODY_BYTES = 1024 * 1024
MAX_HEADERS = 50
MAX_REQUEST_BODY_CHARS = 65536
MAX_REDIRECTS = 10
DEFAULT_CERT_EXPIRY_DAYS = 14
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_STATUS_RANGE = re.compile(r"^([1-5]\d\d)(?:-([1-5]\d\d))?$")
USER_AGENT = "heron-monitor"


def _status_ranges(raw: Any) -> list[str]:
    if raw is None:
        return list(DEFAULT_EXPECTED)
    if not isinstance(raw, list) or not raw or len(raw) > 32:
        raise BadRequest("options.expected_status: expected a list of 1 to 32 codes or ranges such as 200 or '200-299'")
    out = []
    for item in raw:
        text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        match = _STATUS_RANGE.match(text) if isinstance(text, str) else None
        if match is None or (match.group(2) and int(match.group(2)) < int(match.group(1))):
            raise BadRequest(
                f"options.expected_status: {item!r} is not a status code (100-599) or range such as '200-299'"
            )
        out.append(text)
    return out


def status_expected(code: int, ranges: list[str]) -> bool:
    for text in ranges:
        low, _, high = text.partition("-")
        if int(low) <= code <= int(high or low):
            return True
    return False


def parse_url(target: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL; ``BadRequest`` naming ``target``."""
    text = target.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise BadRequest(f"target: {target!r} is not a valid URL ({exc}); ports go from 1 to 65535") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest(f"target: expected a URL starting with http:// or https://, got {target!r}")
    host = parse_host(parts.hostname or "")
    if port is not None and not 1 <= port <= 65535:
        raise BadRequest(f"target: port out of range: expected 1 to 65535, got {port}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def validate(target: str, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    known_options(options, OPTIONS, "http")
    parse_url(target)
    method = option(options, "method", str, "GET").upper()
    if method not in METHODS:
        raise BadRequest(f"options.method: expected one of {', '.join(sorted(METHODS))}, got {method!r}")
    headers = option(options, "headers", dict, {})
    if len(headers) > MAX_HEADERS:
        raise BadRequest(f"options.headers: at most {MAX_HEADERS} headers")
    for name, value in headers.items():
        if not isinstance(value, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}", name):
            raise BadRequest(f"options.headers: {name!r} must be a header name with a string value")
        if any(c in value for c in "\r\n\0") or len(value) > 8192:
            raise BadRequest(f"options.headers: the value of {name!r} must be one line of at most 8192 characters")
    body = option(options, "body", str, "")
    if len(body) > MAX_REQUEST_BODY_CHARS:
        raise BadRequest(f"options.body: at most {MAX_REQUEST_BODY_CHARS} characters")
    keyword = option(options, "keyword", str, "")
    pattern = option(options, "regex", str, "")
    if keyword and pattern:
        raise BadRequest("options.regex: give a keyword or a regex, not both")
    if len(keyword) > 1024 or len(pattern) > 1024:
        raise BadRequest("options.keyword: at most 1024 characters")
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise BadRequest(f"options.regex: not a valid regular expression: {exc}") from None
    max_redirects = option(options, "max_redirects", int, MAX_REDIRECTS)
    if not 0 <= max_redirects <= 30:
        raise BadRequest(f"options.max_redirects: expected 0 to 30, got {max_redirects}")
    days = option(options, "cert_expiry_days", int, DEFAULT_CERT_EXPIRY_DAYS)
    if not 0 <= days <= 3650:
        raise BadRequest(f"options.cert_expiry_days: expected 0 to 3650, got {days}")
    ca = option(options, "tls_ca", str, "")
    if ca and "-----BEGIN CERTIFICATE-----" not in ca:
        raise BadRequest("options.tls_ca: expected one or more PEM certificates (-----BEGIN CERTIFICATE-----)")
    clean: dict[str, Any] = {
        "method": method,
        "headers": headers,
        "body": body,
        "expected_status": _status_ranges(options.get("expected_status")),
        "keyword": keyword,
        "regex": pattern,
        "invert_keyword": option(options, "invert_keyword", bool, False),
        "follow_redirects": option(options, "follow_redirects", bool, True),
        "max_redirects": max_redirects,
        "verify_tls": option(options, "verify_tls", bool, True),
        "tls_ca": ca,
        "cert_expiry_days": days,
    }
    if ca:
        from heron.probes.checks.tls import client_context

        try:
            client_context(verify=True, ca_pem=ca)
        except Exception as exc:  # noqa: BLE001 - ssl.SSLError, ValueError: a PEM ssl cannot load
            raise BadRequest(f"options.tls_ca: the certificates cannot be loaded: {exc}") from None
    return text_target(target), clean


def text_target(target: str) -> str:
    return target.strip()


def host_of(target: str, options: Mapping[str, Any]) -> str:
    return parse_url(target)[1]


@dataclass
class _Hop:
    """One request and its response, fed bytes by a transport."""

    method: str
    host: str
    port: int
    default_port: int
    path: str
    headers: Mapping[str, str]
    body: bytes
    conn: Any = None
    status: int = 0
    location: str = ""
    data: bytearray = field(default_factory=bytearray)
    head_done: bool = False

    def request(self) -> bytes:
        import h11

        self.conn = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=64 * 1024)
        authority = self.host if self.port == self.default_port else f"{self.host}:{self.port}"
        if ":" in self.host:
            authority = f"[{self.host}]" if self.port == self.default_port else f"[{self.host}]:{self.port}"
        headers = [("Host", authority), ("User-Agent", USER_AGENT), ("Accept", "*/*"), ("Connection", "close")]
        given = {k.lower() for k in self.headers}
        headers = [(k, v) for k, v in headers if k.lower() not in given] + list(self.headers.items())
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(self.body))))
        out = self.conn.send(h11.Request(method=self.method, target=self.path, headers=headers))
        if self.body:
            out += self.conn.send(h11.Data(data=self.body))
        out += self.conn.send(h11.EndOfMessage())
        return bytes(out)

    def feed(self, chunk: bytes) -> bool:
        """Take bytes (b"" at end of stream); True once the response is complete or long enough."""
        import h11

        try:
            self.conn.receive_data(chunk)
            while True:
                event = self.conn.next_event()
                if event is h11.NEED_DATA:
                    return False
                if isinstance(event, h11.Response):
                    self.status = event.status_code
                    self.head_done = True
                    for name, value in event.headers:
                        if name == b"location":
                            self.location = value.decode("latin-1")
                elif isinstance(event, h11.Data):
                    self.data += event.data
                    if len(self.data) >= MAX_BODY_BYTES:
                        return True
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    return True
        except h11.RemoteProtocolError as exc:
            raise _BadResponse(f"invalid HTTP response: {exc}") from None


class _BadResponse(Exception):
    pass


class _TlsRefused(Exception):
    """Certificate verification failed; ``der`` is filled by a second, unverified handshake."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _hop_for(url: str, method: str, opts: Mapping[str, Any]) -> tuple[_Hop, str]:
    scheme, host, port, path = parse_url(url)
    body = str(opts.get("body") or "").encode() if method not in ("GET", "HEAD") else b""
    hop = _Hop(method, host, port, 443 if scheme == "https" else 80, path, opts.get("headers") or {}, body)
    return hop, scheme


def _next(hop: _Hop, url: str, method: str, opts: Mapping[str, Any]) -> tuple[str, str] | None:
    """The URL and method to follow a redirect with, or None when this response is the last."""
    if not (opts.get("follow_redirects", True) and hop.status in _REDIRECTS and hop.location):
        return None
    after = "GET" if hop.status == 303 or (hop.status in (301, 302) and method == "POST") else method
    return urljoin(url, hop.location), after


def _verdict(spec: ProbeSpec, hop: _Hop, now: float, delay_ms: float, details: dict[str, Any]) -> ProbeResult:
    opts = spec.options
    details["status_code"] = hop.status
    ranges = list(opts.get("expected_status") or DEFAULT_EXPECTED)
    if not status_expected(hop.status, ranges):
        return ProbeResult(False, now, delay_ms, f"HTTP {hop.status}, expected {', '.join(ranges)}", details)
    keyword, pattern = str(opts.get("keyword") or ""), str(opts.get("regex") or "")
    if keyword or pattern:
        text = bytes(hop.data).decode("utf-8", "replace")
        found = keyword in text if keyword else re.search(pattern, text) is not None
        what = f"keyword {keyword!r}" if keyword else f"pattern {pattern!r}"
        if opts.get("invert_keyword") and found:
            return ProbeResult(False, now, delay_ms, f"{what} found, but it must not appear", details)
        if not opts.get("invert_keyword") and not found:
            return ProbeResult(False, now, delay_ms, f"{what} not found", details)
    return ProbeResult(True, now, delay_ms, "", details)


def _tls_context(opts: Mapping[str, Any], *, verify: bool) -> ssl.SSLContext:
    from heron.probes.checks.tls import client_context

    return client_context(verify=verify and bool(opts.get("verify_tls", True)), ca_pem=str(opts.get("tls_ca") or ""))


def _tls_failure(exc: Exception, der: bytes | None, now: float) -> str:
    from heron.probes.checks.tls import expiry_reason

    expired = expiry_reason(der, now)
    if expired:
        return expired
    message = getattr(exc, "verify_message", "") or str(exc)
    return f"TLS certificate not trusted: {message}"


# -- blocking (the agent) --------------------------------------------------------------------


def _connect(host: str, port: int, deadline: float, details: dict[str, Any]) -> socket.socket:
    started = time.monotonic()
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not is_ip(host):
        details["dns_ms"] = ms(time.monotonic() - started)
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        started = time.monotonic()
        sock.connect(address)
        details["connect_ms"] = ms(time.monotonic() - started)
    except BaseException:
        sock.close()
        raise
    return sock


def _unverified_der(host: str, port: int, opts: Mapping[str, Any], deadline: float) -> bytes | None:
    try:
        with (
            _connect(host, port, deadline, {}) as raw,
            _tls_context(opts, verify=False).wrap_socket(raw, server_hostname=host) as sock,
        ):
            return sock.getpeercert(binary_form=True)
    except OSError:
        return None


def _exchange(
    hop: _Hop, scheme: str, opts: Mapping[str, Any], deadline: float, details: dict[str, Any], now: float
) -> bytes | None:
    sock = _connect(hop.host, hop.port, deadline, details)
    der: bytes | None = None
    try:
        if scheme == "https":
            import ssl

            started = time.monotonic()
            try:
                sock = _tls_context(opts, verify=True).wrap_socket(sock, server_hostname=hop.host)
            except ssl.SSLCertVerificationError as exc:
                der = _unverified_der(hop.host, hop.port, opts, deadline)
                details.update(_cert_details(der, now))
                raise _TlsRefused(_tls_failure(exc, der, now)) from None
            details["tls_ms"] = ms(time.monotonic() - started)
            der = sock.getpeercert(binary_form=True)
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        sent = time.monotonic()
        sock.sendall(hop.request())
        while True:
            chunk = sock.recv(65536)
            if not hop.head_done:
                details["ttfb_ms"] = ms(time.monotonic() - sent)
            if hop.feed(chunk) or not chunk:
                break
    finally:
        sock.close()
    return der


def _cert_details(der: bytes | None, now: float) -> dict[str, Any]:
    from heron.probes.checks.tls import cert_details

    return cert_details(der, now)


def _ssl_errors() -> tuple[type[Exception], ...]:
    """``ssl.SSLError`` once ssl is loaded; before that no TLS error can happen, and a plain
    ``http://`` check on the agent must not load ssl (several MiB) just to name the class."""
    module = sys.modules.get("ssl")
    return (module.SSLError,) if module is not None else ()


def check(spec: ProbeSpec, *, now: float) -> ProbeResult:
    opts = spec.options
    url, method = spec.target, str(opts.get("method") or "GET")
    started = time.monotonic()
    deadline = started + spec.timeout_seconds
    details: dict[str, Any] = {}
    try:
        for _ in range(int(opts.get("max_redirects", MAX_REDIRECTS)) + 1):
            hop, scheme = _hop_for(url, method, opts)
            details = {}
            der = _exchange(hop, scheme, opts, deadline, details, now)
            if der is not None:
                details.update(_cert_details(der, now))
            following = _next(hop, url, method, opts)
            if following is None:
                break
            url, method = following
        else:
            return failed(now, f"more than {opts.get('max_redirects', MAX_REDIRECTS)} redirects", **details)
    except _TlsRefused as exc:
        return failed(now, exc.message, **details)
    except TimeoutError:
        return failed(now, f"timed out after {spec.timeout_seconds:g} s", **details)
    except _ssl_errors() as exc:
        return failed(now, f"TLS handshake failed: {getattr(exc, 'reason', None) or exc}", **details)
    except _BadResponse as exc:
        return failed(now, str(exc), **details)
    except OSError as exc:
        return failed(now, error_reason(exc), **details)
    return _verdict(spec, hop, now, ms(time.monotonic() - started), details)


# -- asyncio (the server) --------------------------------------------------------------------


async def _open(host: str, port: int, details: dict[str, Any]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    import asyncio  # the agent runs the blocking checks and never loads asyncio

    address = host
    if not is_ip(host):
        started = time.monotonic()
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        details["dns_ms"] = ms(time.monotonic() - started)
        address = str(infos[0][4][0])
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(address, port)
    details["connect_ms"] = ms(time.monotonic() - started)
    return reader, writer


async def _closed(writer: asyncio.StreamWriter) -> None:
    """Close and wait for the socket to be released (after a failed TLS handshake too)."""
    import asyncio  # the agent runs the blocking checks and never loads asyncio

    writer.close()
    with contextlib.suppress(OSError, TimeoutError, *_ssl_errors()):
        async with asyncio.timeout(1.0):
            await writer.wait_closed()


async def _unverified_der_async(host: str, port: int, opts: Mapping[str, Any]) -> bytes | None:

    try:
        _reader, writer = await _open(host, port, {})
        try:
            await writer.start_tls(_tls_context(opts, verify=False), server_hostname=host)
            der: bytes | None = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            return der
        finally:
            await _closed(writer)
    except OSError:
        return None


async def _exchange_async(
    hop: _Hop, scheme: str, opts: Mapping[str, Any], details: dict[str, Any], now: float
) -> bytes | None:

    reader, writer = await _open(hop.host, hop.port, details)
    der: bytes | None = None
    try:
        if scheme == "https":
            import ssl

            started = time.monotonic()
            try:
                await writer.start_tls(_tls_context(opts, verify=True), server_hostname=hop.host)
            except ssl.SSLCertVerificationError as exc:
                der = await _unverified_der_async(hop.host, hop.port, opts)
                details.update(_cert_details(der, now))
                raise _TlsRefused(_tls_failure(exc, der, now)) from None
            details["tls_ms"] = ms(time.monotonic() - started)
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        sent = time.monotonic()
        writer.write(hop.request())
        while True:
            chunk = await reader.read(65536)
            if not hop.head_done:
                details["ttfb_ms"] = ms(time.monotonic() - sent)
            if hop.feed(chunk) or not chunk:
                break
    finally:
        await _closed(writer)
    return der


async def check_async(spec: ProbeSpec, *, now: float) -> ProbeResult:
    import asyncio  # the agent runs the blocking checks and never loads asyncio

    opts = spec.options
    url, method = spec.target, str(opts.get("method") or "GET")
    started = time.monotonic()
    details: dict[str, Any] = {}
    try:
        async with asyncio.timeout(spec.timeout_seconds):
            for _ in range(int(opts.get("max_redirects", MAX_REDIRECTS)) + 1):
                hop, scheme = _hop_for(url, method, opts)
                details = {}
                der = await _exchange_async(hop, scheme, opts, details, now)
                if der is not None:
                    details.update(_cert_details(der, now))
                following = _next(hop, url, method, opts)
                if following is None:
                    break
                url, method = following
            else:
                return failed(now, f"more than {opts.get('max_redirects', MAX_REDIRECTS)} redirects", **details)
    except _TlsRefused as exc:
        return failed(now, exc.message, **details)
    except TimeoutError:
        return failed(now, f"timed out after {spec.timeout_seconds:g} s", **details)
    except _ssl_errors() as exc:
        return failed(now, f"TLS handshake failed: {getattr(exc, 'reason', None) or exc}", **details)
    except _BadResponse as exc:
        return failed(now, str(exc), **details)
    except OSError as exc:
        return failed(now, error_reason(exc), **details)
    return _verdict(spec, hop, now, ms(time.monotonic() - started), details)
