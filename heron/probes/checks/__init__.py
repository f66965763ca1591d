"""The checks of each kind, dispatched by name; importing this loads no kind's library.

Each kind module has ``validate(target, options)`` (the API's 4xx on bad input, naming the
field), ``host_of(target, options)`` (what must resolve), ``check(spec)`` (blocking, for the
agent's threads) and ``check_async(spec)`` (for the server's event loop). Modules are
imported on first use, so an agent with only TCP monitors never loads h11, dnspython or
icmplib.
"""

from __future__ import annotations

import importlib
import ipaddress
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from heron.core.errors import BadRequest
from heron.probes.spec import ProbeResult, ProbeSpec, failed

KIND_MODULES = {
    "http": "heron.probes.checks.http",
    "tcp": "heron.probes.checks.tcp",
    "icmp": "heron.probes.checks.icmp",
    "dns": "heron.probes.checks.dns",
}
#: Most characters of a host name (RFC 1035: 253 in text form).
MAX_HOST_CHARS = 253


def kind_module(kind: str) -> ModuleType:
    return importlib.import_module(KIND_MODULES[kind])


def validate(kind: str, target: str, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The target and options of an active kind, normalised; ``BadRequest`` naming the field otherwise."""
    if kind not in KIND_MODULES:
        raise BadRequest(f"type: unknown monitor kind {kind!r}")
    result: tuple[str, dict[str, Any]] = kind_module(kind).validate(target, options)
    return result


def host_of(kind: str, target: str, options: Mapping[str, Any]) -> str:
    host: str = kind_module(kind).host_of(target, options)
    return host


def check(spec: ProbeSpec, *, now: float) -> ProbeResult:
    """Run one check, blocking; never raises (a failure is a down result saying why)."""
    try:
        result: ProbeResult = kind_module(spec.kind).check(spec, now=now)
    except Exception as exc:  # noqa: BLE001 - a check reports every failure as a down result
        return failed(now, f"check failed: {type(exc).__name__}: {exc}")
    return result


async def check_async(spec: ProbeSpec, *, now: float) -> ProbeResult:
    """Run one check on the event loop; never raises."""
    try:
        result: ProbeResult = await kind_module(spec.kind).check_async(spec, now=now)
    except Exception as exc:  # noqa: BLE001 - a check reports every failure as a down result
        return failed(now, f"check failed: {type(exc).__name__}: {exc}")
    return result


def parse_host(text: str, *, field: str = "target") -> str:
    """A host name or IP address (brackets removed from IPv6), checked for shape."""
    host = text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise BadRequest(f"{field}: a host name or IP address is required")
    if len(host) > MAX_HOST_CHARS or any(c.isspace() or c in "/?#@" for c in host):
        raise BadRequest(f"{field}: {text!r} is not a host name or IP address")
    return host


def parse_port(text: str, *, field: str = "target") -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise BadRequest(f"{field}: port out of range: expected 1 to 65535, got {text!r}")
    return int(text)


def split_host_port(target: str, *, field: str = "target") -> tuple[str, int]:
    """``host:port``, ``1.2.3.4:port`` or ``[::1]:port``."""
    text = target.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or not text[end + 1 :].startswith(":"):
            raise BadRequest(f"{field}: expected [IPv6]:port, got {target!r}")
        host, port = text[1:end], text[end + 2 :]
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            raise BadRequest(f"{field}: expected host:port (IPv6 as [address]:port), got {target!r}")
    return parse_host(host, field=field), parse_port(port, field=field)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def option(options: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
    """``options[name]`` if it has type ``kind`` (ints accepted for floats), else ``BadRequest``."""
    value = options.get(name, default)
    if value is None:
        return default
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(f"options.{name}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def known_options(options: Mapping[str, Any], allowed: set[str], kind: str) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise BadRequest(
            f"options: unknown option(s) {', '.join(unknown)} for a {kind} monitor; known: {', '.join(sorted(allowed))}"
        )
