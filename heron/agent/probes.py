"""The agent's monitor runner: the checks the server assigned, on a timer, results sent in batches.

The server sends the list over the agent's WebSocket (``{"type": "probes", "probes": [...]}``,
on connect and whenever it changes); each new list replaces the last. One scheduler thread
keeps a heap of due times (each monitor at its fixed phase within its interval, as on the
server) and hands due checks to a few worker threads, which run the blocking checks of
:mod:`heron.probes.checks` with their own timeouts. A check still running when its monitor
is due again is not started twice. Results wait in a list and go to the server as one
``{"type": "probe_results", "results": [...]}`` message every few seconds or every
:data:`BATCH_RESULTS` results, through the link's backlog, so they are acknowledged,
resent after a reconnect, and bounded while the server is away, like status reports.

What a check needs is imported when it first runs (h11 for HTTP, ssl for HTTPS, icmplib,
dnspython): an agent with only TCP monitors loads none of them.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from heron.probes.checks import check
from heron.probes.spec import ProbeResult, ProbeSpec, next_due

log = logging.getLogger(__name__)

#: Worker threads running checks; a few suffice for dozens of monitors with second-long timeouts.
DEFAULT_WORKERS = 4
#: Results per message, and the longest a result waits before it is sent.
BATCH_RESULTS = 100
FLUSH_SECONDS = 5.0
#: Most monitors one assignment may carry.
MAX_PROBES = 10_000

Send = Callable[[dict[str, Any]], None]


class ProbeRunner:
    """Runs assigned checks until :meth:`stop`; ``send`` queues a message for the server."""

    def __init__(self, send: Send, *, workers: int = DEFAULT_WORKERS, flush_seconds: float = FLUSH_SECONDS) -> None:
        self._send = send
        self._flush_seconds = flush_seconds
        self._lock = threading.Condition()
        self._specs: dict[int, ProbeSpec] = {}
        self._heap: list[tuple[float, int]] = []
        self._due: dict[int, float] = {}
        self._running: set[int] = set()
        self._results: list[dict[str, Any]] = []
        self._flush_at = time.monotonic() + flush_seconds
        self._jobs: queue.SimpleQueue[tuple[ProbeSpec, float] | None] = queue.SimpleQueue()
        self._stopping = False
        self.missed = 0
        self._threads = [threading.Thread(target=self._schedule, name="heron-probes", daemon=True)]
        self._threads += [
            threading.Thread(target=self._work, name=f"heron-probe-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def assign(self, message: dict[str, Any]) -> None:
        """Replace the monitors with those of a ``probes`` message; unchanged ones keep their schedule."""
        raw = message.get("probes")
        items = raw[:MAX_PROBES] if isinstance(raw, list) else []
        specs = {spec.id: spec for spec in (ProbeSpec.from_wire(item) for item in items) if spec is not None}
        now = time.time()
        with self._lock:
            for monitor_id in [i for i in self._specs if i not in specs]:
                self._due.pop(monitor_id, None)
            for monitor_id, spec in specs.items():
                old = self._specs.get(monitor_id)
                if old is None or old.interval_seconds != spec.interval_seconds:
                    due = next_due(monitor_id, spec.interval_seconds, now)
                    self._due[monitor_id] = due
                    heapq.heappush(self._heap, (due, monitor_id))
            self._specs = specs
            self._lock.notify_all()
        log.info("monitors assigned: %d", len(specs))

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        for _ in self._threads:
            self._jobs.put(None)

    def _schedule(self) -> None:
        while True:
            with self._lock:
                if self._stopping:
                    return
                now = time.time()
                due_now = []
                while self._heap and self._heap[0][0] <= now:
                    due, monitor_id = heapq.heappop(self._heap)
                    spec = self._specs.get(monitor_id)
                    if spec is None or self._due.get(monitor_id) != due:
                        continue
                    following = due + spec.interval_seconds
                    if following <= now:
                        following = next_due(monitor_id, spec.interval_seconds, now)
                    self._due[monitor_id] = following
                    heapq.heappush(self._heap, (following, monitor_id))
                    if monitor_id in self._running:
                        self.missed += 1
                        continue
                    self._running.add(monitor_id)
                    due_now.append(spec)
                batch = self._take_batch(force=False)
                wait = min(1.0, self._heap[0][0] - now) if self._heap else 1.0
                if not due_now and batch is None:
                    if self._results:
                        wait = min(wait, self._flush_at - time.monotonic())
                    self._lock.wait(max(0.001, wait))
            for spec in due_now:
                self._jobs.put((spec, time.time()))
            if batch is not None:
                self._send(batch)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            spec, started = job
            result: ProbeResult = check(spec, now=started)
            with self._lock:
                self._running.discard(spec.id)
                if spec.id not in self._specs:
                    continue  # unassigned while it ran
                self._results.append(result.to_wire(spec.id))
                batch = self._take_batch(force=len(self._results) >= BATCH_RESULTS)
            if batch is not None:
                self._send(batch)

    def _take_batch(self, *, force: bool) -> dict[str, Any] | None:
        """The waiting results as one message when there are enough or they waited long enough (lock held)."""
        if not self._results or (not force and time.monotonic() < self._flush_at):
            return None
        results, self._results = self._results, []
        self._flush_at = time.monotonic() + self._flush_seconds
        return {"type": "probe_results", "results": results}
