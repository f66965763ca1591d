"""Service rules: conditions over the state of every monitor a rule watches, per vantage point.

One alert per monitor and vantage point (the Heron node, id 0, or an agent's server), as a
blackbox exporter's probes are one series per target and prober: a site that is down from
one network and up from another says where. A notification group's ``group_by``
(``["alertname", "service_id"]``) makes one message per monitor out of them.

The states come from the monitors' state board (:mod:`heron.probes.board`): ``down`` is the
board's verdict (after the monitor's ``retries``), ``latency`` the last check's delay,
``cert_expiry`` the last check's ``cert_days_left``. Each condition's samples are the checks'
results, counted over its ``duration`` like a server condition's (:class:`Window`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from heron.alerts.conditions import COVER_ALL, Window
from heron.alerts.rules import RuleDef
from heron.alerts.service_conditions import out_of_range
from heron.alerts.sources import Observation

#: (monitor id, name, owner id, enabled) of every monitor, and every (monitor, vantage point) state.
Monitors = Callable[[], Mapping[int, Any]]
States = Callable[[], Iterable[Any]]


def _value(kind: str, status: Any) -> float | None:
    """What condition ``kind`` reads from one vantage point's state; None when it has no value."""
    state = str(getattr(status.state, "value", status.state))
    if state == "pending":
        return None
    if kind == "down":
        return 1.0 if state == "down" else 0.0
    if kind == "latency":
        delay = status.last_delay_ms
        return float(delay) if status.last_up and delay is not None else None
    days = status.last_details.get("cert_days_left")
    return float(days) if isinstance(days, int | float) and status.last_up else None


class ServiceSource:
    """Service rules over the monitors' live states; keeps each condition's samples per pair."""

    def __init__(self, monitors: Monitors, states: States, *, may_watch: Callable[[RuleDef, Any], bool]) -> None:
        self._monitors = monitors
        self._states = states
        self._may_watch = may_watch
        self._windows: dict[tuple[int, int, int, int], Window] = {}

    def forget(self, rule_ids: set[int]) -> None:
        """Drop the samples of rules that were changed or deleted."""
        for key in [k for k in self._windows if k[0] in rule_ids]:
            del self._windows[key]

    def preview(self, rule: RuleDef, now: float) -> tuple[int, list[Observation]]:
        """The (monitor, vantage point) pairs the rule watches and those out of range right now.

        Stateless (the rule may be unsaved): durations are not waited for. Answers (pairs
        watched, observations that would fire)."""
        instant = replace(rule, conditions=tuple(replace(c, duration=0.0) for c in rule.conditions))
        fresh = ServiceSource(self._monitors, self._states, may_watch=self._may_watch)
        monitors = self._monitors()
        watched = 0
        for st in self._states():
            monitor = monitors.get(st.monitor_id)
            if monitor is None or not monitor.enabled or not self._may_watch(rule, monitor):
                continue
            if all(c.covers(monitor.id) for c in rule.conditions):
                watched += 1
        return watched, [o for o in fresh.observe(instant, now) if o.breached]

    def observe(self, rule: RuleDef, now: float) -> list[Observation]:
        """Observations of the pairs where something is going on (out of range, or counting
        towards a duration); a pair whose conditions all hold yields nothing and the evaluator
        resolves what it held for it."""
        monitors = self._monitors()
        conds = list(enumerate(rule.conditions))
        everyone = all(c.cover == COVER_ALL and not c.ignore for c in rule.conditions)
        out = []
        for st in self._states():
            monitor = monitors.get(st.monitor_id)
            if monitor is None or not monitor.enabled or not self._may_watch(rule, monitor):
                continue
            if not everyone and not all(c.covers(monitor.id) for c in rule.conditions):
                continue
            failing_all, busy = True, False
            values: dict[str, float] = {}
            for index, cond in conds:
                value = _value(cond.type, st)
                if value is None or not math.isfinite(value):
                    failing_all = False
                    continue
                values[cond.type] = round(value, 4)
                key = (rule.id, monitor.id, st.server_id, index)
                window = self._windows.get(key)
                bad = out_of_range(cond, value)
                if not bad and (window is None or window.bad_since is None):
                    if window is not None:
                        del self._windows[key]
                    failing_all = False
                    continue
                if window is None:
                    window = self._windows[key] = Window()
                failing = window.add(st.last_at or now, bad, cond.duration, now=now)
                busy = busy or window.bad_since is not None
                failing_all = failing_all and failing
            if not busy and not failing_all:
                continue
            vantage = st.server_name or ("heron" if st.server_id == 0 else f"server {st.server_id}")
            why = f": {st.reason}" if st.reason else ""
            out.append(
                Observation(
                    key=f"service:{monitor.id}:{st.server_id}",
                    labels={
                        "service_id": str(monitor.id),
                        "service_name": monitor.name,
                        "vantage_id": str(st.server_id),
                        "vantage_name": vantage,
                    },
                    breached=failing_all and bool(values),
                    value=next(iter(values.values()), None),
                    values=values,
                    server_id=st.server_id or None,
                    message=f"{monitor.name} ({monitor.target or monitor.kind}) from {vantage} {rule.name}{why}",
                )
            )
        return out
