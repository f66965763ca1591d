"""What a check needs and what it returns, shared by the server and the agent.

A :class:`ProbeSpec` travels to agents as JSON (``to_wire``/``from_wire``) and a
:class:`ProbeResult` comes back the same way, so both are plain values. Result details are
a closed set of typed keys (:data:`DETAIL_TYPES`): the server keeps only those, typed, from
whatever an agent sends, and they become columns of the ``service_results`` table.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

#: The kinds of monitor, and Nezha's number for each (Nezha has no DNS or push monitors:
#: Heron's numbers for those do not collide with Nezha's task types).
KIND_NUMBERS: dict[str, int] = {"http": 1, "icmp": 2, "tcp": 3, "dns": 20, "push": 21}
KIND_BY_NUMBER: dict[int, str] = {number: kind for kind, number in KIND_NUMBERS.items()}
#: Kinds a vantage point actively checks (a push monitor waits for its calls instead).
ACTIVE_KINDS = frozenset({"http", "tcp", "icmp", "dns"})

#: Result details a check may report, with their types (the ``service_results`` columns).
DETAIL_TYPES: dict[str, type] = {
    "status_code": int,
    "dns_ms": float,
    "connect_ms": float,
    "tls_ms": float,
    "ttfb_ms": float,
    "cert_issuer": str,
    "cert_expires_at": int,
    "cert_days_left": float,
    "packets_sent": int,
    "packets_received": int,
    "loss_percent": float,
    "rtt_min_ms": float,
    "rtt_avg_ms": float,
    "rtt_max_ms": float,
    "answer": str,
}
#: Longest reason and text detail kept.
MAX_TEXT_CHARS = 512


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """One monitor as a vantage point runs it."""

    id: int
    kind: str
    target: str
    interval_seconds: int
    timeout_seconds: float
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "interval": self.interval_seconds,
            "timeout": self.timeout_seconds,
            "options": dict(self.options),
        }

    @classmethod
    def from_wire(cls, raw: Any) -> ProbeSpec | None:
        """A spec from a message, or None when it is not one (the agent skips it)."""
        if not isinstance(raw, dict):
            return None
        ident, kind, target = raw.get("id"), raw.get("kind"), raw.get("target")
        interval, timeout = raw.get("interval"), raw.get("timeout")
        if not (isinstance(ident, int) and kind in ACTIVE_KINDS and isinstance(target, str)):
            return None
        if not (_positive(interval) and _positive(timeout)):
            return None
        options = raw.get("options")
        return cls(
            ident, str(kind), target, int(interval), float(timeout), options if isinstance(options, dict) else {}
        )


def _positive(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


@dataclass(slots=True)
class ProbeResult:
    """One check's outcome: up or not, its delay, why it failed, and the kind's details.

    ``at`` is when the check started (Unix seconds); ``delay_ms`` is the whole check's
    time (connect to last byte for HTTP, the connect for TCP, the average round trip for
    ICMP, the query for DNS), None when it failed before measuring anything.
    """

    up: bool
    at: float
    delay_ms: float | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_wire(self, monitor_id: int) -> dict[str, Any]:
        return {
            "id": monitor_id,
            "at": self.at,
            "up": self.up,
            "delay_ms": self.delay_ms,
            "reason": self.reason,
            "details": self.details,
        }

    @classmethod
    def from_wire(cls, raw: Any, *, now: float) -> tuple[int, ProbeResult] | None:
        """A result an agent sent, cleaned: known details only, typed; None when it is not one."""
        if not isinstance(raw, dict):
            return None
        ident, up = raw.get("id"), raw.get("up")
        if not isinstance(ident, int) or isinstance(ident, bool) or not isinstance(up, bool):
            return None
        at = raw.get("at")
        at_f = float(at) if _positive(at) and float(at) <= now + 60 else now
        delay = raw.get("delay_ms")
        delay_f = float(delay) if _positive(delay) or delay == 0 else None
        reason = raw.get("reason")
        return ident, cls(
            up=up,
            at=at_f,
            delay_ms=delay_f,
            reason=reason[:MAX_TEXT_CHARS] if isinstance(reason, str) else "",
            details=clean_details(raw.get("details")),
        )


def clean_details(raw: Any) -> dict[str, Any]:
    """The known detail keys of ``raw`` with values of their types; anything else dropped."""
    out: dict[str, Any] = {}
    if not isinstance(raw, dict):
        return out
    for key, kind in DETAIL_TYPES.items():
        value = raw.get(key)
        if value is None or isinstance(value, bool):
            continue
        if kind is str and isinstance(value, str):
            out[key] = value[:MAX_TEXT_CHARS]
        elif kind is int and isinstance(value, int) and -(2**62) < value < 2**62:
            out[key] = value
        elif kind is float and isinstance(value, int | float) and math.isfinite(value):
            out[key] = float(value)
    return out


def failed(at: float, reason: str, **details: Any) -> ProbeResult:
    """A down result with its reason in words."""
    return ProbeResult(up=False, at=at, reason=reason[:MAX_TEXT_CHARS], details=details)


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def phase(monitor_id: int, interval_seconds: int) -> float:
    """A monitor's offset within its interval: spread evenly over monitors, stable across restarts,
    so 2,000 monitors created together do not all fire in the same second."""
    return (zlib.crc32(monitor_id.to_bytes(8, "big", signed=True)) % (interval_seconds * 1000)) / 1000.0


def next_due(monitor_id: int, interval_seconds: int, after: float) -> float:
    """The first due time of the monitor after ``after`` (Unix seconds)."""
    offset = phase(monitor_id, interval_seconds)
    cycles = (after - offset) // interval_seconds + 1
    return float(cycles * interval_seconds + offset)
