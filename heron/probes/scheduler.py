"""The Heron node's own checks, on the event loop, and push monitors' deadlines.

Each monitor is due every ``interval_seconds`` at a fixed phase within its interval (from
its id), so 2,000 monitors created together do not all fire in the same second. A heap holds
the next due time of each; the loop sleeps until the earliest, starts every check that is
due as a task, and schedules the next. A global semaphore bounds the checks in flight
(``probe_concurrency``); the lag between a check's due time and its start is recorded
(:class:`SchedulerStats`). A check still running when its monitor is due again is not
started twice: that cycle counts as missed. Checks have their own timeouts, and every
network wait is asynchronous, so no check can stall the loop or another check.

Push monitors are not checked, they are called; at each due time the scheduler looks
whether a call came within the period plus the grace, and records a down result if not.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from heron.probes import checks
from heron.probes.monitors import MonitorInfo
from heron.probes.spec import ACTIVE_KINDS, ProbeResult, next_due

log = logging.getLogger(__name__)

#: Lags kept for the percentiles (the last ones).
LAG_SAMPLES = 20_000
#: Longest sleep, so changes to the monitors are noticed within it even without a wake-up.
MAX_SLEEP_SECONDS = 1.0


@dataclass
class SchedulerStats:
    started: int = 0
    missed: int = 0
    running: int = 0
    #: (check number, lag in seconds) of the last checks started.
    lags: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=LAG_SAMPLES))

    def snapshot(self, *, since_check: int = 0) -> dict[str, float | int]:
        """Counters, and lag percentiles over the checks started after check number ``since_check``."""
        ordered = sorted(lag for number, lag in self.lags if number > since_check)

        def pct(p: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 3) if ordered else 0.0

        return {
            "checks_started": self.started,
            "missed_cycles": self.missed,
            "running": self.running,
            "lag_p50_ms": pct(0.5),
            "lag_p99_ms": pct(0.99),
            "lag_max_ms": round(ordered[-1] * 1000, 3) if ordered else 0.0,
            "lag_samples": len(ordered),
        }


class Scheduler:
    """Runs the monitors ``runs_here`` selects; results go to ``record``."""

    def __init__(
        self,
        *,
        monitors: Callable[[], dict[int, MonitorInfo]],
        runs_here: Callable[[MonitorInfo], bool],
        record: Callable[[MonitorInfo, ProbeResult], None],
        push_overdue: Callable[[MonitorInfo, float], ProbeResult | None],
        concurrency: int,
    ) -> None:
        self._monitors = monitors
        self._runs_here = runs_here
        self._record = record
        self._push_overdue = push_overdue
        self._semaphore = asyncio.Semaphore(concurrency)
        self._heap: list[tuple[float, int]] = []
        self._planned: dict[int, tuple[float, MonitorInfo]] = {}
        self._running: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._dirty = True
        self._seen: dict[int, MonitorInfo] | None = None
        self.stats = SchedulerStats()

    def changed(self) -> None:
        """Monitors or agents changed: re-plan now rather than within a second."""
        self._dirty = True
        self._wake.set()

    def _replan(self, now: float) -> None:
        """Follow the monitors; only when they or the agents changed (the loop wakes for every due check)."""
        snapshot = self._monitors()
        if not self._dirty and snapshot is self._seen:
            return
        self._dirty, self._seen = False, snapshot
        current = {m.id: m for m in snapshot.values() if m.enabled and self._selected(m)}
        for monitor_id in [i for i in self._planned if i not in current]:
            del self._planned[monitor_id]
        for monitor_id, monitor in current.items():
            planned = self._planned.get(monitor_id)
            if planned is not None and planned[1].interval_seconds == monitor.interval_seconds:
                self._planned[monitor_id] = (planned[0], monitor)
                continue
            due = next_due(monitor.id, monitor.interval_seconds, now)
            self._planned[monitor_id] = (due, monitor)
            heapq.heappush(self._heap, (due, monitor_id))

    def _selected(self, monitor: MonitorInfo) -> bool:
        return monitor.kind == "push" or (monitor.kind in ACTIVE_KINDS and self._runs_here(monitor))

    async def run(self) -> None:
        """Schedule until cancelled; cancelling also cancels the checks in flight."""
        try:
            await self._loop()
        finally:
            for task in list(self._tasks):
                task.cancel()

    async def _loop(self) -> None:
        while True:
            now = time.time()
            self._wake.clear()
            self._replan(now)
            while self._heap and self._heap[0][0] <= now:
                due, monitor_id = heapq.heappop(self._heap)
                planned = self._planned.get(monitor_id)
                if planned is None or planned[0] != due:
                    continue  # deleted, or re-planned with another due time
                monitor = planned[1]
                following = due + monitor.interval_seconds
                if following <= now:  # the loop itself fell behind by whole cycles
                    skipped = int((now - due) // monitor.interval_seconds)
                    self.stats.missed += skipped
                    following = due + (skipped + 1) * monitor.interval_seconds
                self._planned[monitor_id] = (following, monitor)
                heapq.heappush(self._heap, (following, monitor_id))
                self._start(monitor, due)
            sleep = MAX_SLEEP_SECONDS if not self._heap else min(MAX_SLEEP_SECONDS, self._heap[0][0] - time.time())
            if sleep > 0:
                try:
                    async with asyncio.timeout(sleep):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    def _start(self, monitor: MonitorInfo, due: float) -> None:
        if monitor.kind == "push":
            result = self._push_overdue(monitor, due)
            if result is not None:
                self._record(monitor, result)
            return
        if monitor.id in self._running:
            self.stats.missed += 1
            return
        self._running.add(monitor.id)
        task = asyncio.create_task(self._check(monitor, due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _check(self, monitor: MonitorInfo, due: float) -> None:
        try:
            async with self._semaphore:
                started = time.time()
                self.stats.started += 1
                self.stats.lags.append((self.stats.started, max(0.0, started - due)))
                self.stats.running += 1
                try:
                    result = await checks.check_async(monitor.spec, now=started)
                finally:
                    self.stats.running -= 1
            self._record(monitor, result)
        except Exception:
            log.exception("recording a check failed", extra={"monitor_id": monitor.id})
        finally:
            self._running.discard(monitor.id)
