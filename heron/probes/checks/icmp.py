"""ICMP echo ("ping"): ``count`` echo requests; up when any reply came, delay = the average round trip.

Raw sockets need root (or CAP_NET_RAW); Linux also offers unprivileged ICMP datagram
sockets to the groups in ``net.ipv4.ping_group_range``. So: root uses raw sockets, anyone
else datagram sockets when the kernel allows them for one of their groups, and otherwise the
check fails saying what to change (:func:`privileged_mode`).

The server's asyncio form sends with icmplib. The agent's blocking form speaks ICMP itself
(:func:`_echo`, RFC 792 and RFC 4443 echo request and reply, a few dozen lines): icmplib
imports asyncio, and with it ssl, at import time, about 5 MiB of the agent's 25 MiB budget.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from heron.core.errors import BadRequest
from heron.probes.checks import known_options, option, parse_host
from heron.probes.spec import ProbeResult, ProbeSpec, failed, ms

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


@dataclass
class Echoes:
    """What :func:`_echo` saw, with icmplib's ``Host`` attribute names (so one ``_result`` reads both)."""

    packets_sent: int = 0
    rtts: list[float] = field(default_factory=list)

    @property
    def packets_received(self) -> int:
        return len(self.rtts)

    @property
    def packet_loss(self) -> float:
        return 1.0 - self.packets_received / self.packets_sent if self.packets_sent else 1.0

    @property
    def min_rtt(self) -> float:
        return round(min(self.rtts), 3)

    @property
    def avg_rtt(self) -> float:
        return round(sum(self.rtts) / len(self.rtts), 3)

    @property
    def max_rtt(self) -> float:
        return round(max(self.rtts), 3)


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo(address: str, *, count: int, interval: float, timeout: float, privileged: bool) -> Echoes:
    """Send ``count`` echo requests to ``address`` and wait up to ``timeout`` for each reply."""
    info = socket.getaddrinfo(address, None, type=socket.SOCK_RAW)[0]
    family, target = info[0], info[4]
    v6 = family == socket.AF_INET6
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    request, reply = (128, 129) if v6 else (8, 0)
    ident = os.getpid() & 0xFFFF
    echoes = Echoes()
    with socket.socket(family, socket.SOCK_RAW if privileged else socket.SOCK_DGRAM, proto) as sock:
        for seq in range(count):
            if seq:
                time.sleep(interval)
            header = struct.pack("!BBHHH", request, 0, 0, ident, seq)
            payload = b"heron-monitor" + bytes(19)
            packet = struct.pack("!BBHHH", request, 0, 0 if v6 else _checksum(header + payload), ident, seq) + payload
            sent = time.monotonic()
            sock.sendto(packet, target)
            echoes.packets_sent += 1
            deadline = sent + timeout
            while (left := deadline - time.monotonic()) > 0:
                if not select.select([sock], [], [], left)[0]:
                    break
                data = sock.recv(2048)
                if privileged and not v6:
                    data = data[(data[0] & 0x0F) * 4 :]  # a raw IPv4 socket gives the IP header too
                if len(data) < 8:
                    continue
                kind, _code, _sum, got_id, got_seq = struct.unpack("!BBHHH", data[:8])
                # Datagram sockets: the kernel sets the id and hands this socket only its own replies.
                if kind == reply and got_seq == seq and (got_id == ident or not privileged):
                    echoes.rtts.append(ms(time.monotonic() - sent))
                    break
    return echoes


def check(spec: ProbeSpec, *, now: float) -> ProbeResult:
    try:
        echoes = _echo(parse_host(spec.target), privileged=_mode(), **_arguments(spec))
    except IcmpUnavailable as exc:
        return failed(now, str(exc))
    except socket.gaierror:
        return failed(now, "name does not resolve")
    except OSError as exc:
        return failed(now, f"ICMP failed: {exc.strerror or exc}")
    return _result(echoes, now)


async def check_async(spec: ProbeSpec, *, now: float) -> ProbeResult:
    from icmplib import ICMPLibError, async_ping

    try:
        host = await async_ping(parse_host(spec.target), privileged=_mode(), **_arguments(spec))
    except IcmpUnavailable as exc:
        return failed(now, str(exc))
    except (ICMPLibError, OSError) as exc:
        return _failure(exc, now)
    return _result(host, now)
