"""Monitors at run time: the Heron node's scheduler, the agents' assignments, push calls, results.

One :class:`ProbeService` per server process. It decides where each monitor runs:

* on every connected agent its ``cover``/``skip_servers`` select (Nezha's model): the agent
  gets its list over its WebSocket on connect and again whenever monitors change, and
  sends results back in batches (:meth:`record_agent`);
* on the Heron node itself (vantage point ``server_id`` 0, named ``probe_node_name`` or the
  host name) when ``heron_vantage`` is ``always``, or ``when_no_agent`` and no connected agent
  covers the monitor.

Push monitors run nowhere: their calls (:meth:`push`) are the results, and the scheduler
records a down result when a period plus the grace passes without one.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from heron.meta.db import MetaStore
from heron.probes.board import StateBoard
from heron.probes.monitors import MonitorInfo, MonitorStore
from heron.probes.scheduler import Scheduler
from heron.probes.spec import ProbeResult, failed

log = logging.getLogger(__name__)

#: The vantage point id of the Heron node itself (servers start at 1).
HERON_NODE_ID = 0
#: Push signals (Healthchecks' start/success/fail; Uptime Kuma's ``status=up|down``).
PUSH_SIGNALS = ("success", "start", "fail")

Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class _Agent:
    name: str
    send: Send
    assigned: tuple[tuple[int, str], ...] = ()


def node_name(configured: str) -> str:
    return configured or socket.gethostname() or "heron"


class ProbeService:
    def __init__(self, meta: MetaStore, *, node: str, concurrency: int) -> None:
        self.monitors = MonitorStore(meta)
        self.board = StateBoard()
        self.node = node
        self._agents: dict[int, _Agent] = {}
        self._last_push: dict[int, float] = {}
        self._push_started: dict[int, float] = {}
        self.started_at = time.time()
        self.scheduler = Scheduler(
            monitors=self.monitors.all,
            runs_here=self.runs_here,
            record=lambda monitor, result: self.record(monitor, HERON_NODE_ID, self.node, result),
            push_overdue=self.push_overdue,
            concurrency=concurrency,
        )
        self.board.start_rollups(self.started_at)

    # -- where monitors run ------------------------------------------------------------------

    def runs_here(self, monitor: MonitorInfo) -> bool:
        if monitor.heron_vantage == "always":
            return True
        if monitor.heron_vantage == "never":
            return False
        return not any(monitor.covers(server_id) for server_id in self._agents)

    def vantage_ids(self, monitor: MonitorInfo) -> list[int]:
        """The vantage points running ``monitor`` now: the node (0) and connected agents."""
        ids = [HERON_NODE_ID] if monitor.kind == "push" or self.runs_here(monitor) else []
        return ids + sorted(server_id for server_id in self._agents if monitor.covers(server_id))

    def assignment(self, server_id: int) -> list[MonitorInfo]:
        return [m for m in self.monitors.all().values() if m.covers(server_id)]

    def connected_agents(self) -> dict[int, str]:
        return {server_id: agent.name for server_id, agent in self._agents.items()}

    async def agent_connected(self, server_id: int, name: str, send: Send) -> None:
        self._agents[server_id] = _Agent(name, send)
        self.scheduler.changed()
        await self._send_assignment(server_id)

    def agent_disconnected(self, server_id: int) -> None:
        self._agents.pop(server_id, None)
        self.scheduler.changed()

    async def _send_assignment(self, server_id: int) -> None:
        agent = self._agents.get(server_id)
        if agent is None:
            return
        monitors = self.assignment(server_id)
        key = tuple(sorted((m.id, repr(m.spec)) for m in monitors))
        if key == agent.assigned:
            return
        gone = {i for i, _ in agent.assigned} - {m.id for m in monitors}
        for monitor_id in gone:
            self.board.forget_vantage(monitor_id, server_id)
        agent.assigned = key
        await agent.send({"type": "probes", "probes": [m.spec.to_wire() for m in monitors]})

    async def monitors_changed(self, deleted: list[int] | None = None) -> None:
        """After a create, change or delete: re-plan the node's checks and update every agent's list."""
        for monitor_id in deleted or []:
            self.board.forget(monitor_id)
            self._last_push.pop(monitor_id, None)
            self._push_started.pop(monitor_id, None)
        self.scheduler.changed()
        for server_id in list(self._agents):
            try:
                await self._send_assignment(server_id)
            except Exception:
                log.exception("sending monitors to an agent failed", extra={"server_id": server_id})

    async def refresh_agents(self) -> None:
        """Pick up monitors changed by another node (the store re-reads them every few seconds)."""
        await self.monitors_changed()

    # -- results -----------------------------------------------------------------------------

    def record(self, monitor: MonitorInfo, server_id: int, server_name: str, result: ProbeResult) -> None:
        change = self.board.record(monitor, server_id, server_name, result)
        if change is not None:
            log.info(
                "monitor state changed",
                extra={
                    "monitor_id": monitor.id,
                    "monitor": monitor.name,
                    "server_id": server_id,
                    "server": server_name,
                    "from": change.previous.value,
                    "to": change.state.value,
                    "reason": change.reason,
                },
            )

    def record_agent(self, server_id: int, results: list[tuple[int, ProbeResult]]) -> int:
        """Results an agent sent; only those of monitors it runs count. Returns how many were kept."""
        agent = self._agents.get(server_id)
        if agent is None:
            return 0
        monitors = self.monitors.all()
        kept = 0
        for monitor_id, result in results:
            monitor = monitors.get(monitor_id)
            if monitor is not None and monitor.covers(server_id):
                self.record(monitor, server_id, agent.name, result)
                kept += 1
        return kept

    # -- push monitors -----------------------------------------------------------------------

    def push(self, monitor: MonitorInfo, *, signal: str, message: str, ping_ms: float | None, now: float) -> str:
        """A call to a push URL; returns the state it recorded (``started`` for a start signal)."""
        if signal == "start":
            self._push_started[monitor.id] = now
            return "started"
        self._last_push[monitor.id] = now
        started = self._push_started.pop(monitor.id, None)
        delay = ping_ms if ping_ms is not None else (round((now - started) * 1000.0, 3) if started else None)
        if signal == "fail":
            result = failed(now, message or "the job reported a failure")
            result.delay_ms = delay
        else:
            result = ProbeResult(up=True, at=now, delay_ms=delay, reason=message)
        self.record(monitor, HERON_NODE_ID, self.node, result)
        return "up" if result.up else "down"

    def push_overdue(self, monitor: MonitorInfo, due: float) -> ProbeResult | None:
        """A down result when no call came within the period and the grace, else None."""
        last = self._last_push.get(monitor.id, max(self.started_at, monitor.created_at.timestamp()))
        allowed = monitor.interval_seconds + monitor.push_grace_seconds
        silent = due - last
        if silent <= allowed:
            return None
        started = self._push_started.get(monitor.id)
        if started is not None and started > last:
            reason = f"started {due - started:.0f} s ago, no success signal since"
        else:
            reason = (
                f"no push for {silent:.0f} s (expected every {monitor.interval_seconds} s "
                f"+ {monitor.push_grace_seconds} s grace)"
            )
        return failed(due, reason)

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        await self.scheduler.run()
