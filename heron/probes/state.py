"""Up, down or degraded, per monitor and vantage point, with retries before "down".

A result is judged alone first (:func:`judge`): a failed check is down; a successful one
is degraded when its delay is above the monitor's ``max_latency_ms`` or its certificate
expires within ``cert_expiry_days``, up otherwise. The state then moves (:func:`advance`):
a success sets it at once; failures set it to down only after ``retries`` more failures in
a row, so one lost packet does not page anyone. A vantage point that has not reported yet
is ``pending``. Every move is a :class:`StateChange`, recorded and given to subscribers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from heron.probes.spec import ProbeResult


class State(StrEnum):
    PENDING = "pending"
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Rules:
    """What a monitor's results are judged by."""

    retries: int = 0
    max_latency_ms: float = 0.0
    cert_expiry_days: int = 0


def judge(result: ProbeResult, rules: Rules) -> tuple[State, str]:
    """The state one result alone would give, and why when it is not up."""
    if not result.up:
        return State.DOWN, result.reason or "check failed"
    if rules.max_latency_ms > 0 and result.delay_ms is not None and result.delay_ms > rules.max_latency_ms:
        return State.DEGRADED, f"latency {result.delay_ms:.1f} ms above {rules.max_latency_ms:g} ms"
    days = result.details.get("cert_days_left")
    if rules.cert_expiry_days > 0 and isinstance(days, float) and days < rules.cert_expiry_days:
        return State.DEGRADED, f"TLS certificate expires in {days:.1f} days"
    return State.UP, ""


@dataclass(slots=True)
class VantageState:
    """Where one (monitor, vantage point) pair stands."""

    state: State = State.PENDING
    since: float = 0.0
    failures: int = 0
    reason: str = ""
    last_at: float = 0.0
    last_up: bool = False
    last_delay_ms: float | None = None
    last_details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StateChange:
    """A (monitor, vantage point) moved from ``previous`` to ``state`` at ``at`` (Unix seconds).

    ``server_id`` 0 is the Heron node itself; ``details`` are the deciding result's
    (``cert_days_left``, ``status_code``, ...), for alert messages.
    """

    monitor_id: int
    monitor_name: str
    kind: str
    server_id: int
    server_name: str
    previous: State
    state: State
    reason: str
    at: float
    delay_ms: float | None
    details: dict[str, Any]


def advance(current: VantageState, result: ProbeResult, rules: Rules) -> tuple[State, str] | None:
    """Apply ``result`` to ``current`` in place; the (previous state, reason) when the state moved."""
    judged, reason = judge(result, rules)
    current.last_at, current.last_up = result.at, result.up
    current.last_delay_ms, current.last_details = result.delay_ms, result.details
    if judged is State.DOWN:
        current.failures += 1
        if current.failures <= rules.retries:
            return None
    else:
        current.failures = 0
    if judged is current.state:
        current.reason = reason
        return None
    previous = current.state
    current.state, current.since, current.reason = judged, result.at, reason
    return previous, reason
