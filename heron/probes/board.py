"""Current state per monitor and vantage point, state-change subscriptions, and history rows.

Every result, from the Heron node or from an agent, goes through :meth:`StateBoard.record`:
the state moves (:mod:`heron.probes.state`), the result becomes a row of ``service_results``
and a move a row of ``service_events`` (buffered, written in batches by a background task,
like server status), and the daily totals behind ``GET /api/v1/service`` are updated.

The read interface for other features (alerting):

* :meth:`StateBoard.current` — a snapshot of every (monitor, vantage point) state, or one
  monitor's, as :class:`VantageStatus` values;
* :meth:`StateBoard.state_of` — one pair's state;
* :meth:`StateBoard.subscribe` — a callback for every :class:`heron.probes.state.StateChange`,
  called on the event loop right after the change; it must not block (hand work to a task or
  a queue). The returned function unsubscribes.
* :meth:`StateBoard.subscribe_results` — a callback for every result (the monitor, the vantage
  point and the result), for what depends on each check rather than on state changes (Nezha's
  ``latency_notify``); the same rules: cheap, never blocking.

Nothing here does I/O.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from heron.core.batch import Batch
from heron.probes.monitors import MonitorInfo
from heron.probes.spec import DETAIL_TYPES, ProbeResult
from heron.probes.state import Rules, State, StateChange, VantageState, advance

log = logging.getLogger(__name__)

#: The TSDB tables (tenant cnosdb, database public).
RESULTS_TABLE = "service_results"
EVENTS_TABLE = "service_events"
#: Rollup tables by bucket size: 7d history reads the 5-minute one, 30d the 30-minute one.
ROLLUP_TABLES: dict[int, str] = {300: "service_rollup_5m", 1800: "service_rollup_30m"}
#: The coarsest bucket: the watermark ``rolled_up_until`` is a multiple of it (and so of every size).
ROLLUP_WATERMARK_SECONDS = max(ROLLUP_TABLES)
#: How long a bucket stays open after its end for results that come late.
ROLLUP_SLACK_SECONDS = 60
#: Rows kept for the TSDB when writing falls behind; the oldest tenth is dropped beyond this.
MAX_PENDING_ROWS = 500_000
#: Days of totals kept in memory for the overview (Nezha shows 30).
OVERVIEW_DAYS = 30
DAY_SECONDS = 86_400

Subscriber = Callable[[StateChange], None]
#: Hears every result: (monitor, vantage point id, vantage point name, result).
ResultSubscriber = Callable[[MonitorInfo, int, str, ProbeResult], None]


@dataclass(frozen=True, slots=True)
class VantageStatus:
    """One (monitor, vantage point) pair as readers see it."""

    monitor_id: int
    server_id: int
    server_name: str
    state: State
    since: float
    reason: str
    last_at: float
    last_up: bool
    last_delay_ms: float | None
    last_details: dict[str, Any]


@dataclass(slots=True)
class _Row:
    monitor_id: int
    kind: str
    server_id: int
    server_name: str
    state: State
    result: ProbeResult
    monitor_name: str = ""


def rules_of(monitor: MonitorInfo) -> Rules:
    return Rules(
        retries=monitor.retries, max_latency_ms=monitor.max_latency_ms, cert_expiry_days=monitor.cert_expiry_days
    )


class DailyTotals:
    """Up and down counts and delay sums per monitor and UTC day, for the last :data:`OVERVIEW_DAYS`."""

    def __init__(self) -> None:
        self._days: dict[int, dict[int, list[float]]] = {}

    def add(self, monitor_id: int, day: int, up: int, down: int, delay_sum: float, delay_count: int) -> None:
        cell = self._days.setdefault(monitor_id, {}).setdefault(day, [0, 0, 0.0, 0])
        cell[0] += up
        cell[1] += down
        cell[2] += delay_sum
        cell[3] += delay_count

    def series(self, monitor_id: int, today: int) -> tuple[list[float], list[int], list[int]]:
        """30 daily delays, ups and downs, oldest first, today last (Nezha's arrays)."""
        days = self._days.get(monitor_id, {})
        delay, up, down = [], [], []
        for day in range(today - OVERVIEW_DAYS + 1, today + 1):
            cell = days.get(day)
            if cell is None:
                delay.append(0.0)
                up.append(0)
                down.append(0)
                continue
            delay.append(round(cell[2] / cell[3], 3) if cell[3] else 0.0)
            up.append(int(cell[0]))
            down.append(int(cell[1]))
        return delay, up, down

    def prune(self, today: int) -> None:
        for days in self._days.values():
            for day in [d for d in days if d <= today - OVERVIEW_DAYS]:
                del days[day]

    def forget(self, monitor_id: int) -> None:
        self._days.pop(monitor_id, None)


class StateBoard:
    """Thread-safe: results arrive on the event loop; API handlers read from worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[tuple[int, int], VantageState] = {}
        self._names: dict[tuple[int, int], str] = {}
        self._rows: list[_Row] = []
        self._events: list[StateChange] = []
        self._subscribers: list[Subscriber] = []
        self._result_subscribers: list[ResultSubscriber] = []
        self.daily = DailyTotals()
        self.dropped_rows = 0
        self._rollup: dict[tuple[int, int, int, int], list[float]] = {}  # (size, monitor, vantage, bucket)
        #: Every result before this (Unix seconds, a boundary of every bucket size) is in the rollup
        #: tables, or in the buffer about to be written: 7d and 30d read rollups before it, raw rows after.
        self.rolled_up_until = 0

    # -- writing -----------------------------------------------------------------------------

    def record(self, monitor: MonitorInfo, server_id: int, server_name: str, result: ProbeResult) -> StateChange | None:
        """Apply one result; returns the state change it caused, if any (also given to subscribers)."""
        key = (monitor.id, server_id)
        with self._lock:
            current = self._states.setdefault(key, VantageState(since=result.at))
            self._names[key] = server_name
            moved = advance(current, result, rules_of(monitor))
            if len(self._rows) >= MAX_PENDING_ROWS:
                del self._rows[: MAX_PENDING_ROWS // 10]
                self.dropped_rows += MAX_PENDING_ROWS // 10
            row = _Row(monitor.id, monitor.kind, server_id, server_name, current.state, result, monitor.name)
            self._rows.append(row)
            delay = result.delay_ms if result.up and result.delay_ms is not None else 0.0
            self.daily.add(
                monitor.id, int(result.at // DAY_SECONDS), int(result.up), int(not result.up), delay, int(result.up)
            )
            for size in ROLLUP_TABLES:
                bucket = int(result.at // size) * size
                cell = self._rollup.setdefault((size, monitor.id, server_id, bucket), [0, 0, 0.0, 0])
                cell[0] += int(result.up)
                cell[1] += int(not result.up)
                cell[2] += delay
                cell[3] += int(result.up and result.delay_ms is not None)
            change = None
            if moved is not None:
                previous, reason = moved
                change = StateChange(
                    monitor.id, monitor.name, monitor.kind, server_id, server_name, previous, current.state,
                    reason, result.at, result.delay_ms, dict(result.details),
                )  # fmt: skip
                self._events.append(change)
            subscribers = list(self._subscribers)
            result_subscribers = list(self._result_subscribers)
        for hear in result_subscribers:
            try:
                hear(monitor, server_id, server_name, result)
            except Exception:
                log.exception("a monitor result subscriber failed", extra={"monitor_id": monitor.id})
        if change is not None:
            for callback in subscribers:
                try:
                    callback(change)
                except Exception:
                    log.exception("a monitor state subscriber failed", extra={"monitor_id": monitor.id})
        return change

    def forget(self, monitor_id: int) -> None:
        """A monitor was deleted: its states and totals go."""
        with self._lock:
            for key in [k for k in self._states if k[0] == monitor_id]:
                del self._states[key]
                self._names.pop(key, None)
            self.daily.forget(monitor_id)

    def forget_vantage(self, monitor_id: int, server_id: int) -> None:
        """A vantage point stopped running a monitor: it no longer counts towards its state."""
        with self._lock:
            self._states.pop((monitor_id, server_id), None)
            self._names.pop((monitor_id, server_id), None)

    # -- reading -----------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` with every state change from now on; returns the unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def subscribe_results(self, callback: ResultSubscriber) -> None:
        """Call ``callback`` with every result from now on (for as long as the board lives)."""
        with self._lock:
            self._result_subscribers.append(callback)

    def current(self, monitor_id: int | None = None) -> list[VantageStatus]:
        """Every pair's state (or one monitor's), by monitor then vantage point."""
        with self._lock:
            items = [
                (key, state, self._names.get(key, ""))
                for key, state in self._states.items()
                if monitor_id is None or key[0] == monitor_id
            ]
        return [
            VantageStatus(
                key[0], key[1], name, s.state, s.since, s.reason, s.last_at, s.last_up, s.last_delay_ms, s.last_details
            )
            for key, s, name in sorted(items, key=lambda item: item[0])
        ]

    def state_of(self, monitor_id: int, server_id: int) -> VantageStatus | None:
        found = [s for s in self.current(monitor_id) if s.server_id == server_id]
        return found[0] if found else None

    def daily_series(self, monitor_id: int, today: int) -> tuple[list[float], list[int], list[int]]:
        with self._lock:
            return self.daily.series(monitor_id, today)

    def load_daily(self, rows: list[tuple[int, int, int, int, float, int]]) -> None:
        """Totals read from history at start: (monitor, day, up, down, delay sum, delay count)."""
        with self._lock:
            for monitor_id, day, up, down, delay_sum, delay_count in rows:
                self.daily.add(monitor_id, day, up, down, delay_sum, delay_count)

    # -- history rows ------------------------------------------------------------------------

    def start_rollups(self, now: float) -> None:
        """At start: what came before now was rolled up by the previous run (see :attr:`rolled_up_until`)."""
        self.rolled_up_until = int(now // ROLLUP_WATERMARK_SECONDS) * ROLLUP_WATERMARK_SECONDS

    def drain(self, *, now: float, final: bool = False) -> list[Batch]:
        """Result rows, state changes and closed rollup buckets buffered since the last call, as TSDB batches.

        A rollup bucket closes :data:`ROLLUP_SLACK_SECONDS` after its end; ``final`` (shutdown)
        writes the open ones too. A result that comes later for a closed bucket makes a second
        row for it: readers sum rows, so counts stay exact.
        """
        with self._lock:
            rows, self._rows = self._rows, []
            events, self._events = self._events, []
            horizon = now - ROLLUP_SLACK_SECONDS
            closed = {k: v for k, v in self._rollup.items() if final or k[3] + k[0] <= horizon}
            for key in closed:
                del self._rollup[key]
            if not final:
                watermark = int(horizon // ROLLUP_WATERMARK_SECONDS) * ROLLUP_WATERMARK_SECONDS
                self.rolled_up_until = max(self.rolled_up_until, watermark)
        batches = []
        if rows:
            batches.append(results_batch(rows))
        if events:
            batches.append(events_batch(events))
        for size, table in ROLLUP_TABLES.items():
            cells = {k[1:]: v for k, v in closed.items() if k[0] == size}
            if cells:
                batches.append(rollup_batch(table, cells))
        return batches

    def count_lost(self, batches: list[Batch]) -> None:
        with self._lock:
            self.dropped_rows += sum(len(b) for b in batches)


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


_ARROW = {int: pa.int64(), float: pa.float64(), str: pa.string()}


def results_batch(rows: list[_Row]) -> Batch:
    """Rows of ``service_results``: tags service (id and name), vantage point and kind; the verdict and every detail.

    The names make the rows readable as ``heron_service_*{service="…", server="…"}`` in PromQL.
    """
    fields: dict[str, pa.Array] = {
        "up": pa.array([int(r.result.up) for r in rows], type=pa.int64()),
        "state": pa.array([r.state.value for r in rows], type=pa.string()),
        "delay_ms": pa.array(
            [r.result.delay_ms if r.result.delay_ms is not None and math.isfinite(r.result.delay_ms) else None
             for r in rows],
            type=pa.float64(),
        ),
        "reason": pa.array([r.result.reason for r in rows], type=pa.string()),
    }  # fmt: skip
    for key, kind in DETAIL_TYPES.items():
        values = [r.result.details.get(key) for r in rows]
        if any(v is not None for v in values):
            fields[key] = pa.array(values, type=_ARROW[kind])
    return Batch(
        table=RESULTS_TABLE,
        time=pa.array([_ns(r.result.at) for r in rows], type=pa.int64()),
        tags={
            "service_id": pa.array([str(r.monitor_id) for r in rows], type=pa.string()),
            "service_name": pa.array([r.monitor_name for r in rows], type=pa.string()),
            "server_id": pa.array([str(r.server_id) for r in rows], type=pa.string()),
            "server_name": pa.array([r.server_name for r in rows], type=pa.string()),
            "kind": pa.array([r.kind for r in rows], type=pa.string()),
        },
        fields=fields,
    )


def events_batch(events: list[StateChange]) -> Batch:
    """Rows of ``service_events``: which pair moved from which state to which, and why."""
    return Batch(
        table=EVENTS_TABLE,
        time=pa.array([_ns(e.at) for e in events], type=pa.int64()),
        tags={
            "service_id": pa.array([str(e.monitor_id) for e in events], type=pa.string()),
            "server_id": pa.array([str(e.server_id) for e in events], type=pa.string()),
            "server_name": pa.array([e.server_name for e in events], type=pa.string()),
        },
        fields={
            "previous": pa.array([e.previous.value for e in events], type=pa.string()),
            "state": pa.array([e.state.value for e in events], type=pa.string()),
            "reason": pa.array([e.reason for e in events], type=pa.string()),
        },
    )


def rollup_batch(table: str, cells: dict[tuple[int, int, int], list[float]]) -> Batch:
    """Rows of a rollup table: per monitor, vantage point and bucket, the counts and delay sums."""
    keys = sorted(cells)
    return Batch(
        table=table,
        time=pa.array([k[2] * 1_000_000_000 for k in keys], type=pa.int64()),
        tags={
            "service_id": pa.array([str(k[0]) for k in keys], type=pa.string()),
            "server_id": pa.array([str(k[1]) for k in keys], type=pa.string()),
        },
        fields={
            "ups": pa.array([int(cells[k][0]) for k in keys], type=pa.int64()),
            "downs": pa.array([int(cells[k][1]) for k in keys], type=pa.int64()),
            "delay_sum": pa.array([float(cells[k][2]) for k in keys], type=pa.float64()),
            "delay_count": pa.array([int(cells[k][3]) for k in keys], type=pa.int64()),
        },
    )
