"""TCP connect ("TCPing"): ``host:port``; up when the connection opens, delay = the connect.

The name is resolved first and timed apart (``dns_ms``), so ``delay_ms`` is the network's
round trip for the handshake, as Nezha's TCPing reports it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from typing import Any

from heron.probes.checks import is_ip, known_options, split_host_port
from heron.probes.spec import ProbeResult, ProbeSpec, failed, ms


def validate(target: str, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    known_options(options, set(), "tcp")
    host, port = split_host_port(target)
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}", {}


def host_of(target: str, options: Mapping[str, Any]) -> str:
    return split_host_port(target)[0]


def error_reason(exc: BaseException) -> str:
    """A network failure in words ("connection refused", "timed out after 5 s")."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, socket.gaierror):
        return f"name does not resolve ({exc.strerror})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def check(spec: ProbeSpec, *, now: float) -> ProbeResult:
    host, port = split_host_port(spec.target)
    deadline = time.monotonic() + spec.timeout_seconds
    details: dict[str, Any] = {}
    try:
        started = time.monotonic()
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        if not is_ip(host):
            details["dns_ms"] = ms(time.monotonic() - started)
        family, kind, proto, _name, address = infos[0]
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            started = time.monotonic()
            sock.connect(address)
            delay = ms(time.monotonic() - started)
    except TimeoutError:
        return failed(now, f"timed out after {spec.timeout_seconds:g} s", **details)
    except OSError as exc:
        return failed(now, error_reason(exc), **details)
    return ProbeResult(up=True, at=now, delay_ms=delay, details={**details, "connect_ms": delay})


async def check_async(spec: ProbeSpec, *, now: float) -> ProbeResult:
    import asyncio  # the agent runs the blocking checks and never loads asyncio

    host, port = split_host_port(spec.target)
    details: dict[str, Any] = {}
    try:
        async with asyncio.timeout(spec.timeout_seconds):
            address: Any = (host, port)
            if not is_ip(host):
                started = time.monotonic()
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
                details["dns_ms"] = ms(time.monotonic() - started)
                address = infos[0][4]
            started = time.monotonic()
            _reader, writer = await asyncio.open_connection(address[0], port)
            delay = ms(time.monotonic() - started)
            writer.close()
            await writer.wait_closed()
    except TimeoutError:
        return failed(now, f"timed out after {spec.timeout_seconds:g} s", **details)
    except OSError as exc:
        return failed(now, error_reason(exc), **details)
    return ProbeResult(up=True, at=now, delay_ms=delay, details={**details, "connect_ms": delay})
