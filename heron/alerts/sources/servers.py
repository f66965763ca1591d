"""Server rules: Nezha's conditions over the live state of every server a rule watches."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from heron.alerts.conditions import COVER_ALL, Condition, Window, cycle_bounds, server_value
from heron.alerts.rules import RuleDef
from heron.alerts.sources import Observation

#: How often a transfer quota's byte count is read again from the status history.
CYCLE_REFRESH_SECONDS = 60.0


def cycle_bytes(cond: Condition, moved: tuple[float, float]) -> float:
    """What a transfer quota counts of (bytes in, bytes out)."""
    if cond.type == "transfer_in_cycle":
        return moved[0]
    if cond.type == "transfer_out_cycle":
        return moved[1]
    return moved[0] + moved[1]


@dataclass(frozen=True, slots=True)
class ServerSnapshot:
    """A server as rules see it: its record, whether it is online, its host block and status."""

    id: int
    name: str
    owner_id: int | None
    online: bool
    last_active: float | None
    host: Mapping[str, Any]
    status: Mapping[str, Any]
    #: When the status was reported (the sample's time); ``None`` for a server that never reported.
    sampled_at: float | None = None

    @property
    def ip(self) -> str:
        return str(self.host.get("IPv4") or self.host.get("IPv6") or "")

    def as_context(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "host": dict(self.host), "status": dict(self.status)}


#: Bytes received and sent by each server since a time: start -> {server_id: (in, out)}.
TransferSince = Callable[[datetime], Mapping[int, tuple[float, float]]]


class ServerSource:
    """Nezha's server rules over the live state; keeps each condition's samples per server."""

    def __init__(
        self,
        servers: Callable[[], Iterable[ServerSnapshot]],
        *,
        may_watch: Callable[[RuleDef, ServerSnapshot], bool],
        transfer_since: TransferSince,
    ) -> None:
        self._servers = servers
        self._may_watch = may_watch
        self._transfer_since = transfer_since
        self._windows: dict[tuple[int, int, int], Window] = {}
        self._cycles: dict[tuple[int, int], tuple[float, datetime, Mapping[int, tuple[float, float]]]] = {}
        self._snapshot: list[ServerSnapshot] = []
        self._snapshot_at = -1.0

    @property
    def servers(self) -> list[ServerSnapshot]:
        """The servers as of the last round (read now if no round has run yet)."""
        if self._snapshot_at < 0:
            self._snapshot = list(self._servers())
        return self._snapshot

    def begin(self, now: float) -> None:
        """Read the servers once per evaluation round (every server rule sees the same state)."""
        if now != self._snapshot_at:
            self._snapshot = list(self._servers())
            self._snapshot_at = now

    def forget(self, rule_ids: set[int]) -> None:
        """Drop the samples of rules that were changed or deleted."""
        for window_key in [k for k in self._windows if k[0] in rule_ids]:
            del self._windows[window_key]
        for cycle_key in [k for k in self._cycles if k[0] in rule_ids]:
            del self._cycles[cycle_key]

    def cycle_transfer(
        self, rule: RuleDef, index: int, cond: Condition, now: float
    ) -> tuple[float, Mapping[int, tuple[float, float]]]:
        """When the bytes moved in the current cycle of ``rule``'s condition ``index`` were
        read, and those bytes by server (in, out); read again every ``CYCLE_REFRESH_SECONDS``
        and when a new cycle starts. The rule's evaluation and Nezha's cycle statistics
        (``GET /api/v1/service``) share it."""
        start, _end = cycle_bounds(cond, datetime.fromtimestamp(now, UTC))
        cached = self._cycles.get((rule.id, index))
        if cached is None or now - cached[0] >= CYCLE_REFRESH_SECONDS or cached[1] != start:
            cached = (now, start, self._transfer_since(start))
            self._cycles[(rule.id, index)] = cached
        return cached[0], cached[2]

    def _cycle_value(self, rule: RuleDef, index: int, cond: Condition, server_id: int, now: float) -> float | None:
        moved = self.cycle_transfer(rule, index, cond, now)[1].get(server_id)
        return None if moved is None else cycle_bytes(cond, moved)

    def observe(self, rule: RuleDef, now: float) -> list[Observation]:
        """Observations of the servers where something is going on: a condition out of range,
        or counting towards its duration. A server whose conditions are all in range yields
        nothing (the evaluator resolves what it held for it), which keeps a round over 2,000
        servers and 20 rules cheap: the common case is one lookup and one comparison each."""
        self.begin(now)
        out = []
        conds = list(enumerate(rule.conditions))
        everyone = all(c.cover == COVER_ALL and not c.ignore for c in rule.conditions)
        windows = self._windows
        for srv in self._snapshot:
            if not self._may_watch(rule, srv):
                continue
            if not everyone and not all(c.covers(srv.id) for c in rule.conditions):
                continue
            failing_all = True
            busy = False
            values: dict[str, float] = {}
            for index, cond in conds:
                kind = cond.type
                if kind == "offline":
                    value: float | None = None if srv.last_active is None else (0.0 if srv.online else 1.0)
                elif cond.is_cycle:
                    value = self._cycle_value(rule, index, cond, srv.id, now)
                else:
                    value = server_value(kind, srv.host, srv.status)
                if value is None or not math.isfinite(value):
                    failing_all = False
                    continue
                values[kind] = round(value, 4)
                key = (rule.id, srv.id, index)
                window = windows.get(key)
                bad = cond.out_of_range(value)
                if not bad and (window is None or window.bad_since is None):
                    if window is not None:
                        del windows[key]
                    failing_all = False
                    continue
                if window is None:
                    window = windows[key] = Window()
                reported = kind != "offline" and not cond.is_cycle and srv.sampled_at
                failing = window.add(
                    srv.sampled_at if reported and srv.sampled_at else now,
                    bad,
                    0.0 if cond.is_cycle else cond.duration,
                    now=now,
                )
                busy = busy or window.bad_since is not None
                failing_all = failing_all and failing
            if not busy and not failing_all:
                continue
            out.append(
                Observation(
                    key=f"server:{srv.id}",
                    labels={"server_id": str(srv.id), "server_name": srv.name},
                    breached=failing_all and bool(values),
                    value=next(iter(values.values()), None),
                    values=values,
                    server_id=srv.id,
                    server=srv,
                    message=f"{srv.name}({srv.ip}) {rule.name}" if srv.ip else f"{srv.name} {rule.name}",
                )
            )
        return out

    def preview(self, rule: RuleDef, now: float) -> tuple[int, list[Observation]]:
        """The servers the rule watches and those whose every condition is out of range right now.

        Stateless (the rule may be unsaved): durations are not waited for, which is what "would it
        fire now" means to someone writing the rule. Answers (servers watched, observations)."""
        watched = 0
        out = []
        cycles: dict[int, Mapping[int, tuple[float, float]]] = {}
        for srv in list(self._servers()):
            if not self._may_watch(rule, srv) or not all(c.covers(srv.id) for c in rule.conditions):
                continue
            watched += 1
            values: dict[str, float] = {}
            breached = True
            for index, cond in enumerate(rule.conditions):
                if cond.type == "offline":
                    value: float | None = None if srv.last_active is None else (0.0 if srv.online else 1.0)
                elif cond.is_cycle:
                    if index not in cycles:
                        start, _end = cycle_bounds(cond, datetime.fromtimestamp(now, UTC))
                        cycles[index] = self._transfer_since(start)
                    moved = cycles[index].get(srv.id)
                    if moved is None:
                        value = None
                    elif cond.type == "transfer_in_cycle":
                        value = moved[0]
                    elif cond.type == "transfer_out_cycle":
                        value = moved[1]
                    else:
                        value = moved[0] + moved[1]
                else:
                    value = server_value(cond.type, srv.host, srv.status)
                if value is None or not math.isfinite(value):
                    breached = False
                    continue
                values[cond.type] = round(value, 4)
                breached = breached and cond.out_of_range(value)
            if breached and values:
                out.append(
                    Observation(
                        key=f"server:{srv.id}",
                        labels={"server_id": str(srv.id), "server_name": srv.name},
                        breached=True,
                        value=next(iter(values.values())),
                        values=values,
                        server_id=srv.id,
                        message=f"{srv.name} {rule.name}",
                    )
                )
        return watched, out
