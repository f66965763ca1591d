"""Service rule conditions: what each ``type`` reads from a monitor's state, and its bounds.

Nezha has no alert-rule types for services (its monitors notify on their own, see
:mod:`heron.alerts.notices`); a service rule in Heron is shaped like a server rule, a list
of conditions under ``rules``, each with ``type``, ``min``/``max``, ``duration``, ``cover``
and ``ignore``, where ``cover`` and ``ignore`` select monitors by id instead of servers:

* ``down``: the monitor is down from a vantage point (after its ``retries``);
* ``latency``: the check's delay in milliseconds is above ``max`` or below ``min``;
* ``cert_expiry``: the TLS certificate has fewer than ``min`` days left.

Kept apart from :mod:`heron.alerts.conditions` so the server types stay Nezha's list.
"""

from __future__ import annotations

import math
from typing import Any

from heron.alerts.conditions import COVER_ALL, COVER_IGNORE_ALL, MAX_CONDITIONS, MAX_DURATION_SECONDS, Condition
from heron.core.errors import BadRequest

#: Every service condition type and what it measures (the API's documentation lists them).
SERVICE_TYPES: dict[str, str] = {
    "down": "the monitor is down from a vantage point",
    "latency": "the check's delay, milliseconds",
    "cert_expiry": "days until the TLS certificate expires (fires below min)",
}


def _number(raw: Any, where: str) -> float:
    if raw is None:
        return 0.0
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise BadRequest(f"{where}: expected a finite number, got {raw!r}")
    if raw < 0:
        raise BadRequest(f"{where}: must not be negative, got {raw:g}")
    return float(raw)


def _ignore(raw: Any, where: str) -> frozenset[int]:
    if raw is None:
        return frozenset()
    if isinstance(raw, list):
        raw = {str(i): True for i in raw}
    if not isinstance(raw, dict):
        raise BadRequest(f"{where}: expected an object of monitor id to true/false, got {type(raw).__name__}")
    ids = set()
    for key, flag in raw.items():
        try:
            monitor_id = int(key)
        except (TypeError, ValueError):
            raise BadRequest(f"{where}: {key!r} is not a monitor id") from None
        if not isinstance(flag, bool):
            raise BadRequest(f"{where}.{key}: expected true or false, got {flag!r}")
        if flag:
            ids.add(monitor_id)
    return frozenset(ids)


def parse_service_condition(raw: Any, *, where: str) -> Condition:
    """One condition of a service rule; every problem is a 400 naming the field."""
    if not isinstance(raw, dict):
        raise BadRequest(f"{where}: expected an object, got {type(raw).__name__}")
    kind = raw.get("type")
    if kind not in SERVICE_TYPES:
        known = ", ".join(SERVICE_TYPES)
        raise BadRequest(f"{where}.type: unknown service condition {kind!r}; expected one of {known}")
    low = _number(raw.get("min"), f"{where}.min")
    high = _number(raw.get("max"), f"{where}.max")
    duration = _number(raw.get("duration"), f"{where}.duration")
    if duration > MAX_DURATION_SECONDS:
        raise BadRequest(f"{where}.duration: at most {MAX_DURATION_SECONDS} seconds, got {duration:g}")
    if low and high and low > high:
        raise BadRequest(f"{where}: min ({low:g}) is greater than max ({high:g})")
    if kind == "latency" and not low and not high:
        raise BadRequest(f"{where}: a latency condition needs max (ms, fires above) or min (ms, fires below)")
    if kind == "cert_expiry":
        if not low:
            raise BadRequest(f"{where}.min: a cert_expiry condition needs min, the days left below which it fires")
        if high:
            raise BadRequest(f"{where}.max: a cert_expiry condition takes min (days left) only")
    if kind == "down" and (low or high):
        raise BadRequest(f"{where}: a down condition takes no min or max")
    cover = raw.get("cover", COVER_ALL)
    if cover not in (COVER_ALL, COVER_IGNORE_ALL) or isinstance(cover, bool):
        raise BadRequest(f"{where}.cover: expected 0 (all monitors but 'ignore') or 1 (only 'ignore'), got {cover!r}")
    return Condition(kind, low, high, duration, int(cover), _ignore(raw.get("ignore"), f"{where}.ignore"))


def parse_service_conditions(raw: Any) -> list[Condition]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest("rules: a service rule needs at least one condition")
    if len(raw) > MAX_CONDITIONS:
        raise BadRequest(f"rules: at most {MAX_CONDITIONS} conditions, got {len(raw)}")
    return [parse_service_condition(item, where=f"rules[{i}]") for i, item in enumerate(raw)]


def out_of_range(cond: Condition, value: float) -> bool:
    """Whether ``value`` (1/0 for down, ms for latency, days for cert_expiry) fails ``cond``."""
    if cond.type == "down":
        return value > 0
    if cond.type == "cert_expiry":
        return value < cond.min
    return (cond.max > 0 and value > cond.max) or (cond.min > 0 and value < cond.min)
