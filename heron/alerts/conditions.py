"""Nezha's server conditions: what each ``type`` measures, its bounds, and how long it must hold.

A server rule (Nezha's ``AlertRule``) is a list of conditions; it fires for a server when
every condition is failing at once. A condition fails when the value is above ``max`` or
below ``min`` (a bound of 0 is unset, as in Nezha) for ``duration`` seconds: more than 70 %
of the samples seen in the last ``duration`` seconds are out of range, and the server has
been watched that long. Where Heron differs from Nezha, on purpose:

* ``duration`` is seconds of wall time; Nezha counts samples (one per 3 s check), which
  makes its durations three times longer than written.
* ``net_all_speed`` is inbound plus outbound speed; Nezha adds the outbound speed twice.
* ``offline`` fails while Heron shows the server offline (no report for
  ``host_offline_seconds``), for ``duration`` seconds; a server that never reported is not
  offline, it has no data.
* ``*_cycle`` (transfer quotas) count the bytes moved since the start of the current cycle
  from the stored status history, counter resets (reboots) included; their ``duration`` is
  not used (the latest value decides, as in Nezha).
"""

from __future__ import annotations

import calendar
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from heron.core.errors import BadRequest

#: Every condition type and a short description (the API's documentation lists them).
TYPES: dict[str, str] = {
    "cpu": "CPU use, percent",
    "gpu_max": "highest GPU use, percent",
    "memory": "memory use, percent of total",
    "swap": "swap use, percent of total",
    "disk": "disk use, percent of total",
    "net_in_speed": "inbound speed, bytes/s",
    "net_out_speed": "outbound speed, bytes/s",
    "net_all_speed": "inbound plus outbound speed, bytes/s",
    "transfer_in": "bytes received since boot",
    "transfer_out": "bytes sent since boot",
    "transfer_all": "bytes received and sent since boot",
    "transfer_in_cycle": "bytes received in the current cycle",
    "transfer_out_cycle": "bytes sent in the current cycle",
    "transfer_all_cycle": "bytes received and sent in the current cycle",
    "offline": "the server is offline",
    "load1": "load average, 1 minute",
    "load5": "load average, 5 minutes",
    "load15": "load average, 15 minutes",
    "tcp_conn_count": "TCP connections",
    "udp_conn_count": "UDP sockets",
    "process_count": "processes",
    "temperature_max": "highest sensor temperature, °C",
}
CYCLE_UNITS = ("hour", "day", "week", "month", "year")
#: Nezha's covers: every server but the ignored ones, or only the listed ones.
COVER_ALL = 0
COVER_IGNORE_ALL = 1
#: Share of out-of-range samples in the window above which a condition fails (Nezha's 70 %).
FAIL_SHARE = 0.7
#: Longest duration accepted, a day (samples are kept in memory per server and condition).
MAX_DURATION_SECONDS = 86_400
MAX_CONDITIONS = 16


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    min: float
    max: float
    duration: float
    cover: int
    ignore: frozenset[int]
    cycle_start: datetime | None = None
    cycle_interval: int = 0
    cycle_unit: str = "hour"

    @property
    def is_cycle(self) -> bool:
        return self.type.endswith("_cycle")

    def covers(self, server_id: int) -> bool:
        listed = server_id in self.ignore
        return not listed if self.cover == COVER_ALL else listed

    def out_of_range(self, value: float) -> bool:
        if self.type == "offline":
            return value > 0
        return (self.max > 0 and value > self.max) or (self.min > 0 and value < self.min)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "min": self.min,
            "max": self.max,
            "duration": self.duration,
            "cover": self.cover,
            "ignore": {str(i): True for i in sorted(self.ignore)},
        }
        if self.is_cycle:
            assert self.cycle_start is not None
            out["cycle_start"] = self.cycle_start.isoformat().replace("+00:00", "Z")
            out["cycle_interval"] = self.cycle_interval
            out["cycle_unit"] = self.cycle_unit
        return out


def _number(raw: Any, where: str, default: float = 0.0) -> float:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise BadRequest(f"{where}: expected a finite number, got {raw!r}")
    return float(raw)


def _ignore(raw: Any, where: str) -> frozenset[int]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, dict):
        raise BadRequest(f"{where}: expected an object of server id to true/false, got {type(raw).__name__}")
    ids = set()
    for key, flag in raw.items():
        try:
            server_id = int(key)
        except (TypeError, ValueError):
            raise BadRequest(f"{where}: {key!r} is not a server id") from None
        if not isinstance(flag, bool):
            raise BadRequest(f"{where}.{key}: expected true or false, got {flag!r}")
        if flag:
            ids.add(server_id)
    return frozenset(ids)


def _cycle_start(raw: Any, where: str, now: datetime) -> datetime:
    if not isinstance(raw, str) or not raw:
        raise BadRequest(f"{where}: a cycle needs cycle_start (an RFC 3339 time), got {raw!r}")
    try:
        start = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{where}: expected an RFC 3339 time such as 2024-01-01T00:00:00Z, got {raw!r}") from None
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    if start > now:
        raise BadRequest(f"{where}: the cycle starts in the future ({raw})")
    return start


def parse_condition(raw: Any, *, where: str, now: datetime | None = None) -> Condition:
    """One condition of Nezha's ``rules`` list; every problem is a 400 naming the field."""
    if not isinstance(raw, dict):
        raise BadRequest(f"{where}: expected an object, got {type(raw).__name__}")
    kind = raw.get("type")
    if kind not in TYPES:
        raise BadRequest(f"{where}.type: unknown type {kind!r}; expected one of {', '.join(TYPES)}")
    low = _number(raw.get("min"), f"{where}.min")
    high = _number(raw.get("max"), f"{where}.max")
    duration = _number(raw.get("duration"), f"{where}.duration")
    for name, value in (("min", low), ("max", high), ("duration", duration)):
        if value < 0:
            raise BadRequest(f"{where}.{name}: must not be negative, got {value:g}")
    if low and high and low > high:
        raise BadRequest(f"{where}: min ({low:g}) is greater than max ({high:g})")
    cover = raw.get("cover", COVER_ALL)
    if cover not in (COVER_ALL, COVER_IGNORE_ALL) or isinstance(cover, bool):
        raise BadRequest(f"{where}.cover: expected 0 (all servers but 'ignore') or 1 (only 'ignore'), got {cover!r}")
    ignore = _ignore(raw.get("ignore"), f"{where}.ignore")
    if kind.endswith("_cycle"):
        if not high and not low:
            raise BadRequest(f"{where}: a transfer quota needs max (bytes) or min")
        interval = raw.get("cycle_interval")
        if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
            raise BadRequest(
                f"{where}.cycle_interval: expected a whole number of cycle units, at least 1, got {interval!r}"
            )
        unit = str(raw.get("cycle_unit") or "hour").lower()
        if unit not in CYCLE_UNITS:
            raise BadRequest(f"{where}.cycle_unit: expected one of {', '.join(CYCLE_UNITS)}, got {unit!r}")
        start = _cycle_start(raw.get("cycle_start"), f"{where}.cycle_start", now or datetime.now(UTC))
        return Condition(kind, low, high, duration, int(cover), ignore, start, interval, unit)
    if duration > MAX_DURATION_SECONDS:
        raise BadRequest(f"{where}.duration: at most {MAX_DURATION_SECONDS} seconds, got {duration:g}")
    if kind != "offline" and not high and not low:
        raise BadRequest(f"{where}: set max or min (0 means unset), or the condition never fails")
    return Condition(kind, low, high, duration, int(cover), ignore)


def parse_conditions(raw: Any, *, now: datetime | None = None) -> list[Condition]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest("rules: need at least one condition")
    if len(raw) > MAX_CONDITIONS:
        raise BadRequest(f"rules: at most {MAX_CONDITIONS} conditions, got {len(raw)}")
    return [parse_condition(item, where=f"rules[{i}]", now=now) for i, item in enumerate(raw)]


def _pct(used: Any, total: Any) -> float | None:
    return float(used) * 100.0 / float(total) if total else None


def server_value(kind: str, host: Mapping[str, Any], status: Mapping[str, Any]) -> float | None:
    """The value ``kind`` reads from a server's host block and status; ``None`` when unknown."""
    if kind == "cpu":
        return float(status.get("CPU", 0))
    if kind == "memory":
        return _pct(status.get("MemUsed", 0), host.get("MemTotal"))
    if kind == "swap":
        return _pct(status.get("SwapUsed", 0), host.get("SwapTotal"))
    if kind == "disk":
        return _pct(status.get("DiskUsed", 0), host.get("DiskTotal"))
    if kind == "net_in_speed":
        return float(status.get("NetInSpeed", 0))
    if kind == "net_out_speed":
        return float(status.get("NetOutSpeed", 0))
    if kind == "net_all_speed":
        return float(status.get("NetInSpeed", 0)) + float(status.get("NetOutSpeed", 0))
    if kind == "transfer_in":
        return float(status.get("NetInTransfer", 0))
    if kind == "transfer_out":
        return float(status.get("NetOutTransfer", 0))
    if kind == "transfer_all":
        return float(status.get("NetInTransfer", 0)) + float(status.get("NetOutTransfer", 0))
    if kind in ("load1", "load5", "load15"):
        return float(status.get(f"Load{kind[4:]}", 0))
    if kind == "tcp_conn_count":
        return float(status.get("TcpConnCount", 0))
    if kind == "udp_conn_count":
        return float(status.get("UdpConnCount", 0))
    if kind == "process_count":
        return float(status.get("ProcessCount", 0))
    if kind == "temperature_max":
        temps = [float(t.get("Temperature", 0)) for t in status.get("Temperatures", []) if t.get("Temperature")]
        return max(temps) if temps else None
    if kind == "gpu_max":
        gpus = [float(g) for g in status.get("GPU", [])]
        return max(gpus) if gpus else None
    return None


def _add_months(start: datetime, months: int) -> datetime:
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return start.replace(year=year, month=month + 1, day=day)


def _step(start: datetime, unit: str, count: int, n: int) -> datetime:
    if unit == "hour":
        return start + timedelta(hours=count * n)
    if unit == "day":
        return start + timedelta(days=count * n)
    if unit == "week":
        return start + timedelta(weeks=count * n)
    if unit == "month":
        return _add_months(start, count * n)
    return _add_months(start, 12 * count * n)


def cycle_bounds(cond: Condition, now: datetime) -> tuple[datetime, datetime]:
    """Start and end of the cycle that contains ``now`` (Nezha's ``GetTransferDuration*``)."""
    assert cond.cycle_start is not None
    start = cond.cycle_start
    if cond.cycle_unit in ("hour", "day", "week"):
        length = _step(start, cond.cycle_unit, cond.cycle_interval, 1) - start
        cycles = max(0, int((now - start) / length))
        begin = start + length * cycles
        return begin, begin + length
    months = (now.year - start.year) * 12 + now.month - start.month
    per_cycle = cond.cycle_interval * (12 if cond.cycle_unit == "year" else 1)
    n = max(0, months // per_cycle)
    while n > 0 and _step(start, cond.cycle_unit, cond.cycle_interval, n) > now:
        n -= 1
    while _step(start, cond.cycle_unit, cond.cycle_interval, n + 1) <= now:
        n += 1
    return _step(start, cond.cycle_unit, cond.cycle_interval, n), _step(
        start, cond.cycle_unit, cond.cycle_interval, n + 1
    )


class Window:
    """The samples of one condition for one server over its duration: (time, out of range).

    The condition fails once it has been out of range for ``duration`` seconds (counted from
    the first out-of-range sample, measured on the clock of the round that asks), while more
    than 70 % of the samples in the last ``duration`` seconds are out of range, so one good
    sample among bad ones does not restart the count (Nezha's tolerance). A sample with a
    time not newer than the last one is the same report seen again and is not counted twice.
    """

    __slots__ = ("bad", "bad_since", "samples")

    def __init__(self) -> None:
        self.bad_since: float | None = None
        self.samples: deque[tuple[float, bool]] = deque()
        self.bad = 0

    def add(self, at: float, failing: bool, duration: float, *, now: float) -> bool:
        """Record the sample taken at ``at``; whether the condition fails at ``now``."""
        samples = self.samples
        if not samples or at > samples[-1][0]:
            samples.append((at, failing))
            self.bad += failing
            horizon = at - duration
            while len(samples) > 1 and samples[0][0] < horizon:
                self.bad -= samples.popleft()[1]
        latest = samples[-1][1]
        mostly_bad = self.bad > FAIL_SHARE * len(samples)
        if latest and self.bad_since is None:
            self.bad_since = samples[-1][0]
        elif not latest and not mostly_bad:
            self.bad_since = None
        if duration <= 0:
            return latest
        return self.bad_since is not None and mostly_bad and now - self.bad_since >= duration
