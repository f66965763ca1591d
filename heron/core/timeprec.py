"""Timestamp precisions and durations as the dialects spell them."""

from __future__ import annotations

import re

from heron.core.errors import BadRequest

#: Nanoseconds per unit for every precision name the write endpoints accept. InfluxDB 1.x
#: uses ``n``/``u``/``ms``/``s``/``m``/``h``; 2.x and CnosDB use ``ns``/``us``/``ms``/``s``.
NANOS_PER_PRECISION: dict[str, int] = {
    "ns": 1,
    "n": 1,
    "us": 1_000,
    "u": 1_000,
    "µ": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}

_DURATION = re.compile(r"^\s*(\d+)\s*(ns|us|µs|ms|s|m|h|d|w)?\s*$")
_DURATION_NANOS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 7 * 86_400_000_000_000,
}


def precision_to_nanos(precision: str | None, *, allowed: frozenset[str] | None = None) -> int:
    """Multiplier from a ``precision`` query parameter to nanoseconds; empty means ns."""
    if not precision:
        return 1
    if precision not in NANOS_PER_PRECISION or (allowed is not None and precision not in allowed):
        choices = sorted(allowed if allowed is not None else NANOS_PER_PRECISION)
        raise BadRequest(f"invalid precision '{precision}': expected one of {', '.join(choices)}")
    return NANOS_PER_PRECISION[precision]


def parse_duration_seconds(text: str) -> int:
    """Parse a TTL such as ``30d``, ``12h`` or ``INF`` into seconds (0 means forever)."""
    if text.strip().upper() in ("INF", "INFINITE", "0"):
        return 0
    m = _DURATION.match(text)
    if not m:
        raise BadRequest(f"invalid duration '{text}': expected a number with a unit (s, m, h, d, w), e.g. '30d'")
    unit = m.group(2) or "d"
    nanos = int(m.group(1)) * _DURATION_NANOS[unit]
    return max(1, nanos // 1_000_000_000)


def format_duration_seconds(seconds: int) -> str:
    """Inverse of :func:`parse_duration_seconds` for display: ``INF`` or the largest unit."""
    if seconds <= 0:
        return "INF"
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
