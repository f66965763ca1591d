"""DNS: query ``target`` for a record type, at a chosen resolver or the system's; up when it
answers, and (if ``expected`` is given) when that value is among the answers.

dnspython does the querying. ``delay_ms`` is the query's time; ``answer`` holds the answers
as text, sorted and joined by ", ". A name that does not exist (NXDOMAIN) or has no record of
the type is down, with that reason.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from heron.core.errors import BadRequest
from heron.probes.checks import is_ip, known_options, option, parse_host, parse_port
from heron.probes.spec import ProbeResult, ProbeSpec, failed, ms

OPTIONS = {"record_type", "resolver", "expected"}
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA")


def resolver_address(text: str) -> tuple[str, int]:
    """``1.1.1.1``, ``1.1.1.1:5353``, ``::1`` or ``[::1]:5353``; the address must be an IP."""
    value = text.strip()
    port = 53
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest:
            port = parse_port(rest.removeprefix(":"), field="options.resolver")
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
        port = parse_port(port_text, field="options.resolver")
    else:
        host = value
    if not is_ip(host):
        raise BadRequest(f"options.resolver: expected an IP address (optionally with :port), got {text!r}")
    return host, port


def validate(target: str, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    known_options(options, OPTIONS, "dns")
    name = parse_host(target)
    record_type = option(options, "record_type", str, "A").upper()
    if record_type not in RECORD_TYPES:
        raise BadRequest(f"options.record_type: expected one of {', '.join(RECORD_TYPES)}, got {record_type!r}")
    resolver = option(options, "resolver", str, "")
    if resolver:
        resolver_address(resolver)
    expected = option(options, "expected", str, "")
    if len(expected) > 1024:
        raise BadRequest("options.expected: at most 1024 characters")
    return name.rstrip(".") or ".", {"record_type": record_type, "resolver": resolver, "expected": expected}


def host_of(target: str, options: Mapping[str, Any]) -> str:
    """Nothing to resolve beforehand: the check itself is the resolution."""
    return ""


def _resolver(spec: ProbeSpec, module: Any) -> Any:
    resolver_text = str(spec.options.get("resolver") or "")
    resolver = module.Resolver(configure=not resolver_text)
    if resolver_text:
        host, port = resolver_address(resolver_text)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.lifetime = spec.timeout_seconds
    resolver.timeout = spec.timeout_seconds
    return resolver


def _judge(spec: ProbeSpec, answer: Any, now: float, delay: float) -> ProbeResult:
    values = sorted(rdata.to_text().strip('"') for rdata in answer)
    text = ", ".join(values)
    details = {"answer": text}
    expected = str(spec.options.get("expected") or "")
    if expected and expected not in values and expected.rstrip(".") not in [v.rstrip(".") for v in values]:
        return ProbeResult(False, now, delay, f"expected {expected!r} among the answers, got {text or 'none'}", details)
    return ProbeResult(True, now, delay, "", details)


def _failure(exc: Exception, spec: ProbeSpec, now: float) -> ProbeResult:
    import dns.exception
    import dns.resolver

    record_type = str(spec.options.get("record_type") or "A")
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return failed(now, f"{spec.target} does not exist (NXDOMAIN)")
    if isinstance(exc, dns.resolver.NoAnswer):
        return failed(now, f"{spec.target} has no {record_type} record")
    if isinstance(exc, dns.resolver.NoNameservers):
        return failed(now, f"no resolver answered: {exc}")
    if isinstance(exc, dns.exception.Timeout):
        return failed(now, f"timed out after {spec.timeout_seconds:g} s")
    return failed(now, f"DNS query failed: {exc}")


def check(spec: ProbeSpec, *, now: float) -> ProbeResult:
    import dns.exception
    import dns.resolver

    started = time.monotonic()
    try:
        answer = _resolver(spec, dns.resolver).resolve(
            spec.target, str(spec.options.get("record_type") or "A"), search=False
        )
    except (dns.exception.DNSException, OSError) as exc:
        return _failure(exc, spec, now)
    return _judge(spec, answer, now, ms(time.monotonic() - started))


async def check_async(spec: ProbeSpec, *, now: float) -> ProbeResult:
    import dns.asyncresolver
    import dns.exception

    started = time.monotonic()
    try:
        answer = await _resolver(spec, dns.asyncresolver).resolve(
            spec.target, str(spec.options.get("record_type") or "A"), search=False
        )
    except (dns.exception.DNSException, OSError) as exc:
        return _failure(exc, spec, now)
    return _judge(spec, answer, now, ms(time.monotonic() - started))
