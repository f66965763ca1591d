"""ICMP echo ("ping"): ``count`` echo requests; up when any reply came, delay = the average round trip.

icmplib sends the packets. Raw sockets need root (or CAP_NET_RAW); Linux also offers
unprivileged ICMP datagram sockets to the groups in ``net.ipv4.ping_group_range``. So:
root uses raw sockets, anyone else datagram sockets when the kernel allows them for one of
their groups, and otherwise the check fails saying what to change (:func:`privileged_mode`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from heron.core.errors import BadRequest
from heron.probes.checks import known_options, option, parse_host
from heron.probes.spec import ProbeResult, ProbeSpec, failed

OPTIONS = {"count", "interval_ms"}
DEFAULT_COUNT = 3
DEFAULT_INTERVAL_MS = 200
PING_GROUP_RANGE = Path("/proc/sys/net/ipv4/ping_group_range")


class IcmpUnavailable(Exception):
    """This process may open neither raw nor datagram ICMP sockets."""


def privileged_mode(*, euid: int, groups: list[int], ping_group_range: str | None) -> bool:
    """True for raw sockets, False for datagram ones; ``IcmpUnavailable`` when neither is allowed.

    ``ping_group_range`` is the text of /proc/sys/net/ipv4/ping_group_range ("low high"; the
    kernel's default "1 0" allows nobody), None where the file does not exist.
    """
    if euid == 0:
        return True
    if ping_group_range is not None:
        parts = ping_group_range.split()
        if len(parts) == 2 and all(p.lstrip("-").isdigit() for p in parts):
            low, high = int(parts[0]), int(parts[1])
            if any(low <= g <= high for g in groups):
                return False
    raise IcmpUnavailable(
        "ICMP needs root, or net.ipv4.ping_group_range to include one of this process's groups "
        f"({', '.join(map(str, groups))}); e.g. sysctl -w net.ipv4.ping_group_range='0 2147483647'"
    )


def _mode() -> bool:
    try:
        text: str | None = PING_GROUP_RANGE.read_text()
    except OSError:
        text = None
    return privileged_mode(euid=os.geteuid(), groups=[os.getegid(), *os.getgroups()], ping_group_range=text)


def validate(target: str, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    known_options(options, OPTIONS, "icmp")
    host = parse_host(target)
    count = option(options, "count", int, DEFAULT_COUNT)
    if not 1 <= count <= 20:
        raise BadRequest(f"options.count: expected 1 to 20 echo requests, got {count}")
    interval = option(options, "interval_ms", int, DEFAULT_INTERVAL_MS)
    if not 10 <= interval <= 5000:
        raise BadRequest(f"options.interval_ms: expected 10 to 5000, got {interval}")
    return host, {"count": count, "interval_ms": interval}


def host_of(target: str, options: Mapping[str, Any]) -> str:
    return parse_host(target)


def _result(host: Any, now: float) -> ProbeResult:
    details: dict[str, Any] = {
        "packets_sent": host.packets_sent,
        "packets_received": host.packets_received,
        "loss_percent": round(host.packet_loss * 100.0, 2),
    }
    if not host.packets_received:
        return failed(now, f"no reply to {host.packets_sent} echo request{'s' * (host.packets_sent != 1)}", **details)
    details.update(rtt_min_ms=host.min_rtt, rtt_avg_ms=host.avg_rtt, rtt_max_ms=host.max_rtt)
    return ProbeResult(up=True, at=now, delay_ms=host.avg_rtt, details=details)


def _arguments(spec: ProbeSpec) -> dict[str, Any]:
    count = int(spec.options.get("count", DEFAULT_COUNT))
    interval = int(spec.options.get("interval_ms", DEFAULT_INTERVAL_MS)) / 1000.0
    # Every reply must arrive within the monitor's timeout, the sending time included.
    timeout = max(0.05, spec.timeout_seconds - interval * (count - 1))
    return {"count": count, "interval": interval, "timeout": timeout}


def _failure(exc: Exception, now: float) -> ProbeResult:
    from icmplib import NameLookupError

    if isinstance(exc, NameLookupError):
        return failed(now, "name does not resolve")
    return failed(now, f"ICMP failed: {exc}")


def check(spec: ProbeSpec, *, now: float) -> ProbeResult:
    from icmplib import ICMPLibError, ping

    try:
        host = ping(parse_host(spec.target), privileged=_mode(), **_arguments(spec))
    except IcmpUnavailable as exc:
        return failed(now, str(exc))
    except (ICMPLibError, OSError) as exc:
        return _failure(exc, now)
    return _result(host, now)


async def check_async(spec: ProbeSpec, *, now: float) -> ProbeResult:
    from icmplib import ICMPLibError, async_ping

    try:
        host = await async_ping(parse_host(spec.target), privileged=_mode(), **_arguments(spec))
    except IcmpUnavailable as exc:
        return failed(now, str(exc))
    except (ICMPLibError, OSError) as exc:
        return _failure(exc, now)
    return _result(host, now)
