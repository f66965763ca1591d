"""Compaction: rewrite a table's settled time windows with rows sorted by series and time.

Rows reach DuckDB in arrival order: at each flush every series contributes its latest
point, so a table is a stripe of all series per second. A query for one host then reads
every row group, and the value columns compress poorly (neighbouring values belong to
different series). Compaction rewrites one *window* of one table at a time, a span of
``window_seconds`` of data time, sorted by the table's series (its tag columns, hosts
first; the metric store's metric and series ids) and then time, once the window has not
received rows for ``delay_seconds``. Each series' points then lie together, DuckDB's zone
maps let a single-host query skip the rest, and the values of one series, side by side,
compress to fewer bits.

One step is one transaction on the write connection, run on the applier thread between
two flushes (:meth:`heron.tsdb.writer.Writer.maintain`), so it never races an apply::

    INSERT INTO t SELECT * FROM t WHERE <window> ORDER BY <series>, time
    DELETE FROM t WHERE <window> AND rowid <= <the largest rowid before the insert>

Rows inserted by the transaction carry transaction-local row ids above every committed
one until it commits, so the delete removes exactly the old copies. A crash before the
commit leaves the table as it was; after it, as compacted: never both, never neither. A
window holding more than ``max_step_rows`` is split in halves of time until each part fits,
which bounds how long a step holds the applier (and so how long a query may wait).

Which windows changed is learnt from what the applier applies (:meth:`Compactor.note_applied`);
it is kept in memory, so windows written shortly before a crash are compacted only if they
are written to again. A clean shutdown compacts what is still waiting, within a time budget.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from heron.tsdb import metrics as ms
from heron.tsdb.backlog import Backlog
from heron.tsdb.names import qualified, quote_ident
from heron.tsdb.store import describe_table

log = logging.getLogger(__name__)

NS_PER_SECOND = 1_000_000_000
#: Tag names that usually name a host: they lead the sort, so one host's rows are together.
HOST_TAGS = ("ident", "host", "hostname", "instance", "agent_hostname")
#: A window spanning more windows than this in one apply is looked at row by row
#: (``np.unique``); fewer are marked as a range without that cost.
_RANGE_MARK_LIMIT = 64


@dataclass(frozen=True, slots=True)
class Step:
    """One compaction step: rows of ``table`` with ``lo_ns <= time < hi_ns``."""

    schema: str
    table: str  # lower-case name
    lo_ns: int
    hi_ns: int


@dataclass(frozen=True, slots=True)
class StepReport:
    """What a step did: rows rewritten (0 for an empty window), or the halves it split into."""

    step: Step
    rows: int
    seconds: float
    split: tuple[Step, ...] = ()


@dataclass(slots=True)
class CompactionCounters:
    """Progress of compaction since start, for the health endpoint and ``/metrics``.

    Written by the thread that finishes a step, read by anyone: each field is a plain
    number (assignment is atomic under the GIL), and :meth:`snapshot` copies them.
    """

    steps: int = 0
    rows_rewritten: int = 0
    seconds: float = 0.0
    failures: int = 0
    windows_waiting: int = 0
    last_table: str = ""
    last_rows: int = 0
    last_finished_unix: float = 0.0

    def snapshot(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "rows_rewritten": self.rows_rewritten,
            "seconds": round(self.seconds, 3),
            "failures": self.failures,
            "windows_waiting": self.windows_waiting,
            "last_table": self.last_table,
            "last_rows": self.last_rows,
            "last_finished_unix": self.last_finished_unix,
        }


@dataclass(slots=True)
class _Dirty:
    """Windows of one table written since they were last compacted: window -> last write."""

    windows: dict[int, float] = field(default_factory=dict)


class Compactor:
    """Remembers which windows changed and hands out the settled ones as steps.

    Fed by the writer thread (:meth:`note_applied`), read by the compaction loop
    (:meth:`due`); a lock keeps the two apart.
    """

    def __init__(
        self,
        *,
        window_seconds: float = 3600.0,
        delay_seconds: float = 30.0,
        max_step_rows: int = 1_000_000,
        enabled: bool = True,
    ) -> None:
        self.window_ns = max(1, int(window_seconds * NS_PER_SECOND))
        self.delay_seconds = delay_seconds
        self.max_step_rows = max_step_rows
        self.enabled = enabled
        self.counters = CompactionCounters()
        self._lock = threading.Lock()
        self._dirty: dict[tuple[str, str], _Dirty] = {}
        self._split: list[Step] = []  # halves of windows too large for one step, due now

    # -- learning what changed -------------------------------------------------------------

    def note_applied(self, backlog: Backlog) -> None:
        """Mark the windows that ``backlog`` (just applied) wrote to."""
        if not self.enabled:
            return
        now = time.monotonic()
        marks: list[tuple[tuple[str, str], list[int]]] = []
        for (schema, key), logged in backlog.records.items():
            if key in (ms.SERIES, ms.METRICS):
                continue
            windows: set[int] = set()
            for _, record in logged:
                windows.update(self._windows_of(record.data))
            if windows:
                marks.append(((schema, key), sorted(windows)))
        if not marks:
            return
        with self._lock:
            for target, touched in marks:
                dirty = self._dirty.setdefault(target, _Dirty())
                for window in touched:
                    dirty.windows[window] = now
            self.counters.windows_waiting = self._count()

    def _windows_of(self, data: pa.Table) -> list[int]:
        if not data.num_rows or "time" not in data.column_names:
            return []
        times = data.column("time").to_numpy().view(np.int64)
        low, high = int(times.min()) // self.window_ns, int(times.max()) // self.window_ns
        if high - low < _RANGE_MARK_LIMIT:
            return list(range(low, high + 1))
        return [int(w) for w in np.unique(times // self.window_ns)]

    def forget_schema(self, schema: str) -> None:
        """A database was dropped: nothing of it is left to compact."""
        with self._lock:
            for target in [t for t in self._dirty if t[0] == schema]:
                del self._dirty[target]
            self._split = [s for s in self._split if s.schema != schema]
            self.counters.windows_waiting = self._count()

    def forget_table(self, schema: str, table: str) -> None:
        """A table was dropped: its windows are no longer waiting."""
        with self._lock:
            self._dirty.pop((schema, table), None)
            self._split = [s for s in self._split if (s.schema, s.table) != (schema, table)]
            self.counters.windows_waiting = self._count()

    # -- handing out steps -----------------------------------------------------------------

    def due(self, *, now: float | None = None, everything: bool = False) -> Step | None:
        """The next step to run: a half of a split window first, else the window written
        to longest ago that has had no rows for ``delay_seconds`` (any window with
        ``everything``); None when none is due. The step is no longer waiting once returned."""
        if not self.enabled:
            return None
        moment = time.monotonic() if now is None else now
        with self._lock:
            if self._split:
                step = self._split.pop(0)
                self.counters.windows_waiting = self._count()
                return step
            best: tuple[float, tuple[str, str], int] | None = None
            for target, dirty in self._dirty.items():
                for window, touched in dirty.windows.items():
                    if (everything or touched + self.delay_seconds <= moment) and (best is None or touched < best[0]):
                        best = (touched, target, window)
            if best is None:
                return None
            _, (schema, key), window = best
            dirty = self._dirty[(schema, key)]
            del dirty.windows[window]
            if not dirty.windows:
                del self._dirty[(schema, key)]
            self.counters.windows_waiting = self._count()
        return Step(schema, key, window * self.window_ns, (window + 1) * self.window_ns)

    def finished(self, report: StepReport) -> None:
        """Count a step; queue the halves of a window that was too large."""
        c = self.counters
        if report.split:
            with self._lock:
                self._split.extend(report.split)
                c.windows_waiting = self._count()
            return
        c.steps += 1
        c.rows_rewritten += report.rows
        c.seconds += report.seconds
        c.last_table = f"{report.step.schema}.{report.step.table}"
        c.last_rows = report.rows
        c.last_finished_unix = time.time()
        if report.rows:
            log.info(
                "compaction step",
                extra={
                    "schema": report.step.schema,
                    "table": report.step.table,
                    "window_start_ns": report.step.lo_ns,
                    "rows": report.rows,
                    "seconds": round(report.seconds, 3),
                    "windows_waiting": c.windows_waiting,
                },
            )

    def failed(self, step: Step, exc: BaseException) -> None:
        """A step that failed is marked as written to now, so it is tried again later."""
        self.counters.failures += 1
        log.warning(
            "compaction step failed; the window is left as it was and tried again later",
            extra={"schema": step.schema, "table": step.table, "error": str(exc).splitlines()[0] if str(exc) else ""},
        )
        with self._lock:
            window = step.lo_ns // self.window_ns
            self._dirty.setdefault((step.schema, step.table), _Dirty()).windows[window] = time.monotonic()
            self.counters.windows_waiting = self._count()

    def _count(self) -> int:
        return sum(len(d.windows) for d in self._dirty.values()) + len(self._split)

    # -- doing a step ----------------------------------------------------------------------

    def run(self, con: duckdb.DuckDBPyConnection, step: Step) -> StepReport:
        """Do ``step`` on the write connection (the caller owns it for the duration) and
        count it; a failed step is left as it was, marked to be tried again, and raised."""
        try:
            report = compact_window(con, step, max_rows=self.max_step_rows)
        except Exception as exc:
            self.failed(step, exc)
            raise
        self.finished(report)
        return report

    def run_all(self, con: duckdb.DuckDBPyConnection, *, budget_seconds: float) -> int:
        """Compact every waiting window now, for up to ``budget_seconds``; steps done.

        Used at a clean shutdown, when the writer and the applier are idle.
        """
        deadline = time.monotonic() + budget_seconds
        done = 0
        while time.monotonic() < deadline:
            step = self.due(everything=True)
            if step is None:
                break
            try:
                self.run(con, step)
            except duckdb.Error:
                break
            done += 1
        return done


def sort_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    """The columns a window of ``table`` is sorted by: its series, then time.

    The metric store's samples: metric id, series id. An ordinary table: its tag columns,
    those that usually name a host first, the others by name.
    """
    if table == ms.SAMPLES:
        return [ms.METRIC_ID, ms.SERIES_ID, "time"]
    tags = [c.name for c in describe_table(con, schema, table) if c.kind == "tag"]
    hosts = [t for name in HOST_TAGS for t in tags if t.lower() == name]
    rest = sorted((t for t in tags if t not in hosts), key=str.lower)
    return [*hosts, *rest, "time"]


def compact_window(con: duckdb.DuckDBPyConnection, step: Step, *, max_rows: int) -> StepReport:
    """Rewrite the rows of one window sorted by series and time, in one transaction."""
    started = time.perf_counter()
    target = qualified(step.schema, step.table)
    where = f"time >= make_timestamp_ns({step.lo_ns}) AND time < make_timestamp_ns({step.hi_ns})"
    con.execute("BEGIN TRANSACTION")
    try:
        if not _table_exists(con, step.schema, step.table):
            con.execute("ROLLBACK")
            return StepReport(step, 0, time.perf_counter() - started)
        row = con.execute(f"SELECT count(*), max(rowid) FROM {target} WHERE {where}").fetchone()
        rows = int(row[0]) if row else 0
        if rows <= 1:
            con.execute("ROLLBACK")
            return StepReport(step, 0, time.perf_counter() - started)
        if rows > max_rows and step.hi_ns - step.lo_ns > NS_PER_SECOND:
            con.execute("ROLLBACK")
            mid = step.lo_ns + (step.hi_ns - step.lo_ns) // 2
            halves = (Step(step.schema, step.table, step.lo_ns, mid), Step(step.schema, step.table, mid, step.hi_ns))
            return StepReport(step, 0, time.perf_counter() - started, split=halves)
        top = con.execute(f"SELECT max(rowid) FROM {target}").fetchone()
        last_rowid = int(top[0]) if top and top[0] is not None else -1
        order = ", ".join(quote_ident(c) for c in sort_columns(con, step.schema, step.table))
        con.execute(f"INSERT INTO {target} SELECT * FROM {target} WHERE {where} ORDER BY {order}")
        con.execute(f"DELETE FROM {target} WHERE {where} AND rowid <= {last_rowid}")
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    return StepReport(step, rows, time.perf_counter() - started)


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    rows = con.execute(
        "SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ?"
        " AND lower(table_name) = ?",
        [schema, table],
    ).fetchall()
    return bool(rows)
