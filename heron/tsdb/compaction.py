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
from heron.tsdb.names import MACRO_SCHEMA, qualified, quote_ident
from heron.tsdb.rollups import ROLLUP_PREFIX, RollupRule, is_rollup, roll_up
from heron.tsdb.store import describe_table, timed_tables

log = logging.getLogger(__name__)

NS_PER_SECOND = 1_000_000_000
#: Tag names that usually name a host: they lead the sort, so one host's rows are together.
HOST_TAGS = ("ident", "host", "hostname", "instance", "agent_hostname")
#: Windows waiting for compaction (and their rollups), kept in the same transactions as the
#: rows that made them wait, so a crash forgets none.
PENDING_TABLE = f"{MACRO_SCHEMA}.heron_compaction_pending"
#: What :meth:`Compactor.clean_before` answers when no window of a table waits (year 2262).
_NEVER = 2**63 - 1
#: A window spanning more windows than this in one apply is looked at row by row
#: (``np.unique``); fewer are marked as a range without that cost.
_RANGE_MARK_LIMIT = 64


@dataclass(frozen=True, slots=True)
class Step:
    """One compaction step: rows of ``table`` with ``lo_ns <= time < hi_ns``.

    ``merge``: a merge window (the second level, see :class:`Compactor`).
    """

    schema: str
    table: str  # lower-case name
    lo_ns: int
    hi_ns: int
    merge: bool = False


@dataclass(frozen=True, slots=True)
class StepReport:
    """What a step did: rows rewritten (0 for an empty window), or the halves it split into."""

    step: Step
    rows: int
    seconds: float
    split: tuple[Step, ...] = ()
    created_tables: bool = False  # a rollup table was created or widened


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
    windows_waiting: int = 0  # windows (and halves of windows) waiting for a step
    merges_waiting: int = 0  # merge windows waiting for their windows to be quiet
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
            "merges_waiting": self.merges_waiting,
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
        merge_window_seconds: float = 0.0,
        merge_delay_seconds: float = 3600.0,
        enabled: bool = True,
    ) -> None:
        self.window_ns = max(1, int(window_seconds * NS_PER_SECOND))
        self.delay_seconds = delay_seconds
        # The second level: windows of merge_window_ns, rewritten as one once none of their
        # windows has changed for merge_delay_seconds (0: no second level).
        merge_ns = int(merge_window_seconds * NS_PER_SECOND)
        self.merge_ns = merge_ns if merge_ns > self.window_ns and merge_ns % self.window_ns == 0 else 0
        self.merge_delay_seconds = merge_delay_seconds
        self.max_step_rows = max_step_rows
        self.enabled = enabled
        self.counters = CompactionCounters()
        #: Rollup tiers by schema (see :mod:`heron.tsdb.rollups`).
        self.rollups: dict[str, tuple[RollupRule, ...]] = {}
        self._lock = threading.Lock()
        self._dirty: dict[tuple[str, str], _Dirty] = {}
        self._merges: dict[tuple[str, str], _Dirty] = {}  # merge windows waiting, by index
        self._split: list[Step] = []  # halves of windows too large for one step, due now
        self._running: list[Step] = []  # handed out by due(), not yet finished or failed

    # -- learning what changed -------------------------------------------------------------

    def set_rollups(self, schema: str, rules: tuple[RollupRule, ...]) -> None:
        """The rollup tiers of one database (see :mod:`heron.tsdb.rollups`)."""
        with self._lock:
            if rules:
                self.rollups[schema] = rules
            else:
                self.rollups.pop(schema, None)

    def _touched(self, backlog: Backlog) -> list[tuple[tuple[str, str], list[int]]]:
        """The windows each table of ``backlog`` has rows in."""
        marks: list[tuple[tuple[str, str], list[int]]] = []
        for (schema, key), logged in backlog.records.items():
            if key in (ms.SERIES, ms.METRICS) or is_rollup(key):
                continue
            windows: set[int] = set()
            for _, record in logged:
                windows.update(self._windows_of(record.data))
            if windows:
                marks.append(((schema, key), sorted(windows)))
        return marks

    def persist_marks(self, con: duckdb.DuckDBPyConnection, backlog: Backlog) -> None:
        """Record the windows ``backlog`` makes wait, inside the transaction that applies it
        (on the applier thread); windows already waiting are recorded already."""
        if not self.enabled:
            return
        marks = self._touched(backlog)
        with self._lock:
            new = [
                Step(schema, key, w * self.window_ns, (w + 1) * self.window_ns)
                for (schema, key), windows in marks
                for w in windows
                if w not in self._dirty.get((schema, key), _Dirty()).windows
            ]
        _persist(con, new)

    def load_pending(self, con: duckdb.DuckDBPyConnection) -> None:
        """At start: the windows that were waiting when Heron stopped (or crashed).

        A mark of another window size (the setting changed) or of a half window is replaced
        by the marks of the windows of today's size that cover it.
        """
        if not self.enabled:
            return
        rows = con.execute(f"SELECT DISTINCT schema_name, table_name, lo_ns, hi_ns FROM {PENDING_TABLE}").fetchall()
        now = time.monotonic()
        odd: list[tuple[str, str, int, int]] = []
        with self._lock:
            for schema, table, lo, hi in rows:
                if self.merge_ns and int(lo) % self.merge_ns == 0 and int(hi) - int(lo) == self.merge_ns:
                    self._merges.setdefault((schema, table), _Dirty()).windows[int(lo) // self.merge_ns] = now
                    continue
                first, last = int(lo) // self.window_ns, (int(hi) - 1) // self.window_ns
                if (int(lo), int(hi)) != (first * self.window_ns, (first + 1) * self.window_ns):
                    odd.append((schema, table, int(lo), int(hi)))
                dirty = self._dirty.setdefault((schema, table), _Dirty())
                for window in range(first, last + 1):
                    dirty.windows[window] = now
            self.counters.windows_waiting = self._count()
            grid = [
                Step(s, t, w * self.window_ns, (w + 1) * self.window_ns)
                for (s, t), d in self._dirty.items()
                if any((s, t) == (o[0], o[1]) for o in odd)
                for w in d.windows
            ]
        if odd:
            con.execute("BEGIN TRANSACTION")
            for schema, table, lo, hi in odd:
                con.execute(
                    f"DELETE FROM {PENDING_TABLE} WHERE schema_name = ? AND table_name = ? AND lo_ns = ? AND hi_ns = ?",
                    [schema, table, lo, hi],
                )
            _persist(con, grid)
            con.execute("COMMIT")

    def mark_all(self, con: duckdb.DuckDBPyConnection, schema: str) -> int:
        """Make every window of ``schema`` that holds rows wait (new rollup rules); on the
        write connection with the applier idle. Returns the windows marked."""
        now = time.monotonic()
        steps: list[Step] = []
        for table in timed_tables(con, schema):
            key = table.lower()
            if key in (ms.SERIES, ms.METRICS) or is_rollup(key):
                continue
            w, ns = self.window_ns, "epoch_ns(time)"
            found = con.execute(  # floor division, also before 1970
                f"SELECT DISTINCT ({ns} - ((({ns} % {w}) + {w}) % {w})) // {w} FROM {qualified(schema, table)}"
            ).fetchall()
            with self._lock:
                dirty = self._dirty.setdefault((schema, key), _Dirty())
                for (window,) in found:
                    if int(window) not in dirty.windows:
                        steps.append(
                            Step(schema, key, int(window) * self.window_ns, (int(window) + 1) * self.window_ns)
                        )
                    dirty.windows[int(window)] = now
                self.counters.windows_waiting = self._count()
        _persist(con, steps)
        return len(steps)

    def note_applied(self, backlog: Backlog) -> None:
        """Mark the windows that ``backlog`` (just applied) wrote to."""
        if not self.enabled:
            return
        now = time.monotonic()
        marks = self._touched(backlog)
        if not marks:
            return
        with self._lock:
            for target, touched in marks:
                dirty = self._dirty.setdefault(target, _Dirty())
                merges = self._merges.get(target)
                for window in touched:
                    dirty.windows[window] = now
                    if merges is not None and self.merge_ns:
                        merge = window * self.window_ns // self.merge_ns
                        if merge in merges.windows:
                            merges.windows[merge] = now
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
            self.rollups.pop(schema, None)
            for target in [t for t in self._dirty if t[0] == schema]:
                del self._dirty[target]
            for target in [t for t in self._merges if t[0] == schema]:
                del self._merges[target]
            self._split = [s for s in self._split if s.schema != schema]
            self.counters.windows_waiting = self._count()

    def forget_table(self, schema: str, table: str) -> None:
        """A table was dropped: its windows are no longer waiting."""
        with self._lock:
            self._dirty.pop((schema, table), None)
            self._merges.pop((schema, table), None)
            self._split = [s for s in self._split if (s.schema, s.table) != (schema, table)]
            self.counters.windows_waiting = self._count()

    # -- handing out steps -----------------------------------------------------------------

    def due(self, *, now: float | None = None, everything: bool = False) -> Step | None:
        """The next step to run: a half of a split window first, else the window written
        to longest ago that has had no rows for ``delay_seconds`` (any window with
        ``everything``); None when none is due. The step is no longer waiting once returned;
        it counts as running until :meth:`finished` or :meth:`failed`."""
        step = self._next(now=now, everything=everything)
        if step is not None:
            with self._lock:
                self._running.append(step)
        return step

    def clean_before(self, schema: str, table: str) -> int | None:
        """Where ``table``'s rollups stop being exact: the start (ns) of its earliest window
        that is waiting, split or being compacted (a very large number when none is); None
        when compaction is off, so no rollup is maintained. Rollup rows before it hold every
        row applied before the last step of their window."""
        if not self.enabled:
            return None
        key = (schema, table.lower())
        with self._lock:
            starts = [w * self.window_ns for w in self._dirty.get(key, _Dirty()).windows]
            starts += [s.lo_ns for s in (*self._split, *self._running) if (s.schema, s.table) == key]
        return min(starts, default=_NEVER)

    def _next(self, *, now: float | None, everything: bool) -> Step | None:
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
                return self._due_merge(moment, everything)
            _, (schema, key), window = best
            dirty = self._dirty[(schema, key)]
            if everything and self.merge_ns:
                # No reason to wait (shutdown): the whole merge window in one rewrite,
                # instead of its windows first and the merge after.
                merge = window * self.window_ns // self.merge_ns
                lo, hi = merge * self.merge_ns, (merge + 1) * self.merge_ns
                for w in [w for w in dirty.windows if lo <= w * self.window_ns < hi]:
                    del dirty.windows[w]
                self._merges.get((schema, key), _Dirty()).windows.pop(merge, None)
                step = Step(schema, key, lo, hi, merge=True)
            else:
                del dirty.windows[window]
                step = Step(schema, key, window * self.window_ns, (window + 1) * self.window_ns)
            if not dirty.windows:
                del self._dirty[(schema, key)]
            self.counters.windows_waiting = self._count()
        return step

    def _due_merge(self, moment: float, everything: bool) -> Step | None:
        """A merge window quiet for ``merge_delay_seconds`` with none of its windows waiting
        (under the lock)."""
        for target, merges in self._merges.items():
            waiting = self._dirty.get(target, _Dirty()).windows
            for merge, touched in list(merges.windows.items()):
                if not everything and touched + self.merge_delay_seconds > moment:
                    continue
                lo, hi = merge * self.merge_ns, (merge + 1) * self.merge_ns
                if any(lo <= w * self.window_ns < hi for w in waiting):
                    continue
                del merges.windows[merge]
                if not merges.windows:
                    del self._merges[target]
                self.counters.windows_waiting = self._count()
                return Step(target[0], target[1], lo, hi, merge=True)
        return None

    def finished(self, report: StepReport) -> None:
        """Count a step; queue the halves of a window that was too large."""
        c = self.counters
        self._done(report.step)
        if report.split:
            with self._lock:
                self._split.extend(report.split)
                c.windows_waiting = self._count()
            return
        step = report.step
        if report.rows and self.merge_ns and not step.merge:
            with self._lock:
                merges = self._merges.setdefault((step.schema, step.table), _Dirty())
                merges.windows[step.lo_ns // self.merge_ns] = time.monotonic()
                c.windows_waiting = self._count()
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
        self._done(step)
        log.warning(
            "compaction step failed; the window is left as it was and tried again later",
            extra={"schema": step.schema, "table": step.table, "error": str(exc).splitlines()[0] if str(exc) else ""},
        )
        with self._lock:
            window = step.lo_ns // self.window_ns
            self._dirty.setdefault((step.schema, step.table), _Dirty()).windows[window] = time.monotonic()
            self.counters.windows_waiting = self._count()

    def _done(self, step: Step) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._running.remove(step)

    def _count(self) -> int:
        """Windows waiting (and, as a side effect, the merge windows' counter)."""
        self.counters.merges_waiting = sum(len(d.windows) for d in self._merges.values())
        return sum(len(d.windows) for d in self._dirty.values()) + len(self._split)

    # -- doing a step ----------------------------------------------------------------------

    def run(self, con: duckdb.DuckDBPyConnection, step: Step) -> StepReport:
        """Do ``step`` on the write connection (the caller owns it for the duration) and
        count it; a failed step is left as it was, marked to be tried again, and raised."""
        try:
            report = compact_window(
                con,
                step,
                max_rows=self.max_step_rows,
                rules=self.rollups.get(step.schema, ()),
                merge_ns=0 if step.merge else self.merge_ns,
            )
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


def compact_window(
    con: duckdb.DuckDBPyConnection,
    step: Step,
    *,
    max_rows: int,
    rules: tuple[RollupRule, ...] = (),
    merge_ns: int = 0,
) -> StepReport:
    """Rewrite the rows of one window sorted by series and time, recompute its rollups, and
    clear its persisted mark, in one transaction (see the module docstring).

    A window of more than ``max_rows`` rows is not rewritten: its mark is replaced by marks
    of its two halves (in the same transaction), which are returned as steps to do. With
    ``merge_ns``, a window that held rows leaves a mark for its merge window.
    """
    started = time.perf_counter()
    target = qualified(step.schema, step.table)
    where = f"time >= make_timestamp_ns({step.lo_ns}) AND time < make_timestamp_ns({step.hi_ns})"
    rows = 0
    halves: tuple[Step, ...] = ()
    created = False
    con.execute("BEGIN TRANSACTION")
    try:
        if _table_exists(con, step.schema, step.table):
            row = con.execute(f"SELECT count(*) FROM {target} WHERE {where}").fetchone()
            rows = int(row[0]) if row else 0
        if rows > max_rows and step.hi_ns - step.lo_ns > NS_PER_SECOND:
            mid = step.lo_ns + (step.hi_ns - step.lo_ns) // 2
            halves = (
                Step(step.schema, step.table, step.lo_ns, mid, step.merge),
                Step(step.schema, step.table, mid, step.hi_ns, step.merge),
            )
            _persist(con, list(halves))
            rows = 0
        elif rows > 1:
            top = con.execute(f"SELECT max(rowid) FROM {target}").fetchone()
            last_rowid = int(top[0]) if top and top[0] is not None else -1
            order = ", ".join(quote_ident(c) for c in sort_columns(con, step.schema, step.table))
            con.execute(f"INSERT INTO {target} SELECT * FROM {target} WHERE {where} ORDER BY {order}")
            con.execute(f"DELETE FROM {target} WHERE {where} AND rowid <= {last_rowid}")
        if rows and rules:
            before = _rollup_tables(con, step.schema)
            roll_up(con, step.schema, step.table, rules, step.lo_ns, step.hi_ns)
            created = _rollup_tables(con, step.schema) != before
        con.execute(  # this window's mark, and those of the windows inside it
            f"DELETE FROM {PENDING_TABLE} WHERE schema_name = ? AND table_name = ? AND lo_ns >= ? AND hi_ns <= ?",
            [step.schema, step.table, step.lo_ns, step.hi_ns],
        )
        if rows and merge_ns:
            lo = step.lo_ns - step.lo_ns % merge_ns
            _persist(con, [Step(step.schema, step.table, lo, lo + merge_ns, merge=True)])
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    return StepReport(step, rows, time.perf_counter() - started, split=halves, created_tables=created)


def create_pending_table(con: duckdb.DuckDBPyConnection) -> None:
    """Where windows waiting for compaction are kept across restarts (not visible to SQL)."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {PENDING_TABLE}"
        " (schema_name VARCHAR NOT NULL, table_name VARCHAR NOT NULL, lo_ns BIGINT NOT NULL, hi_ns BIGINT NOT NULL)"
    )


def _persist(con: duckdb.DuckDBPyConnection, steps: list[Step]) -> None:
    if steps:
        con.executemany(
            f"INSERT INTO {PENDING_TABLE} VALUES (?, ?, ?, ?)", [[s.schema, s.table, s.lo_ns, s.hi_ns] for s in steps]
        )


def _rollup_tables(con: duckdb.DuckDBPyConnection, schema: str) -> int:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ?"
        " AND starts_with(table_name, ?)",
        [schema, ROLLUP_PREFIX],
    ).fetchone()
    return int(row[0]) if row else 0


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    rows = con.execute(
        "SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ?"
        " AND lower(table_name) = ?",
        [schema, table],
    ).fetchall()
    return bool(rows)
