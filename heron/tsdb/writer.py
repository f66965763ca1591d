"""The single writer: one thread owns DuckDB's write connection and commits in groups.

Requests put their batches on a bounded queue and wait on a future. The writer takes
everything that is waiting (up to ``max_commit_rows``), checks types against the tables
(and against what it has accepted but not yet applied), appends the rows to Heron's
write-ahead log and fsyncs once; only then are the futures resolved. A 2xx therefore means
the points are on disk, and many small requests share one fsync (group commit).

The log is applied to DuckDB in large transactions: every ``flush_interval_seconds``,
when ``flush_rows`` rows are waiting, before any DDL or retention run, and before every
query (:meth:`Writer.sync`), so a reader always sees what was acknowledged. DuckDB's cost
per appended table and statement is paid once per flush instead of once per request,
which is what makes requests spanning hundreds of metric tables cheap. After a crash, the
records DuckDB had not committed are applied again at start.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from heron.core import telemetry
from heron.core.batch import Batch
from heron.core.errors import DatabaseNotFound, HeronError, Overloaded, StoreUnavailable, TypeConflict
from heron.core.identifiers import name_problem, printable
from heron.tsdb import metrics as ms
from heron.tsdb.applier import Outcome, apply_or_isolate, describe_error, rollback
from heron.tsdb.backlog import Backlog, Column, Key, Table
from heron.tsdb.names import INTERNAL_PREFIX
from heron.tsdb.quarantine import Quarantine
from heron.tsdb.store import describe_schemas, list_schemas, list_views, read_applied_seq
from heron.tsdb.wal import WalRecord, WriteAheadLog

log = logging.getLogger(__name__)

T = TypeVar("T")

#: DuckDB column type for each Arrow field type.
SQL_TYPES: dict[pa.DataType, str] = {
    pa.float64(): "DOUBLE",
    pa.int64(): "BIGINT",
    pa.uint64(): "UBIGINT",
    pa.string(): "VARCHAR",
    pa.bool_(): "BOOLEAN",
}

#: How an error message names each DuckDB column type (line-protocol words).
TYPE_WORDS: dict[str, str] = {
    "DOUBLE": "float",
    "BIGINT": "integer",
    "UBIGINT": "unsigned",
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
}


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one request got: rows written, rows dropped and why (partial-write dialects)."""

    written: int
    dropped: int = 0
    conflicts: tuple[TypeConflict, ...] = ()


@dataclass(slots=True)
class _WriteRequest:
    tenant: str
    database: str
    schema: str
    batches: list[Batch]
    atomic: bool
    rows: int
    future: Future[WriteResult]
    samples: ms.Samples | None = None
    metrics: bool = False  # the batches are metrics (table = metric, one float field "value")


@dataclass(slots=True)
class _Call:
    fn: Callable[[duckdb.DuckDBPyConnection], Any]
    future: Future[Any]
    reload_catalog: bool = True


@dataclass(slots=True)
class _Plan:
    """What one group of requests adds: tables, columns, Arrow tables, metrics and series.

    Staged before the group is logged; once logged it joins the writer's backlog
    (:class:`~heron.tsdb.backlog.Backlog`) as records with their sequence numbers.
    """

    new_tables: dict[tuple[str, str], Table] = field(default_factory=dict)
    new_columns: dict[tuple[str, str], list[Column]] = field(default_factory=dict)
    appends: dict[tuple[str, str], list[pa.Table]] = field(default_factory=dict)
    rows: int = 0
    # The metric store: metrics whose definition changes (keyed by lower-case name), and
    # series first seen in this plan (key -> id, id -> metric id) per schema.
    metric_defs: dict[tuple[str, str], ms.MetricDef] = field(default_factory=dict)
    series: dict[str, dict[str, int]] = field(default_factory=dict)
    series_metric: dict[str, dict[int, int]] = field(default_factory=dict)


_STOP = object()


class Writer:
    """Owns the write connection; see the module docstring."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        wal_dir: Path,
        quarantine_dir: Path | None = None,
        max_queue_rows: int = 2_000_000,
        max_commit_rows: int = 200_000,
        flush_rows: int = 1_000_000,
        flush_interval_seconds: float = 1.0,
    ) -> None:
        self._con = con
        self._max_queue_rows = max_queue_rows
        self._max_commit_rows = max_commit_rows
        self._flush_rows = flush_rows
        self._flush_interval = flush_interval_seconds
        self._pending = Backlog()
        self._pending_since = 0.0
        self.quarantine = Quarantine(quarantine_dir or wal_dir.parent / "quarantine")
        self._wal = WriteAheadLog(wal_dir, damaged_dir=self.quarantine.dir)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._catalog: dict[str, dict[str, Table]] = {}
        self._table_names: dict[str, frozenset[str]] = {}
        self._registries: dict[str, ms.Registry] = {}
        #: Counts changes of tables, columns and metrics in DuckDB, so readers can cache
        #: what they derive from the catalog (PromQL's metric names) until it changes.
        self.catalog_version = 0
        self._load_catalog()
        self._registries = {schema: ms.load_registry(con, schema) for schema in self._catalog}
        self._reserve_quarantined_ids()
        self.commits = 0
        #: Records set aside since start (see :mod:`heron.tsdb.quarantine`).
        self.quarantined_records = 0
        # The applier applies one backlog at a time while the writer goes on logging.
        self._applying: Backlog | None = None
        self._applying_seq = 0
        self._apply_result: Outcome | BaseException | None = None
        self._apply_done = threading.Event()
        self._apply_jobs: queue.Queue[tuple[Backlog, int] | None] = queue.Queue()
        # After a failure that is not the rows' fault (a full disk), retry with backoff.
        self._failure: str | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._failure_logged_at = 0.0
        self._recover()
        self._applier = threading.Thread(target=self._apply_loop, name="heron-applier", daemon=True)
        self._applier.start()
        self._thread = threading.Thread(target=self._run, name="heron-writer", daemon=True)
        self._thread.start()

    # -- public API, called from request threads ------------------------------------------

    def submit(
        self,
        *,
        tenant: str,
        database: str,
        schema: str,
        batches: list[Batch],
        atomic: bool,
        samples: ms.Samples | None = None,
        metrics: bool = False,
    ) -> Future[WriteResult]:
        """Queue batches for the next commit; raises ``Overloaded`` when the queue is full.

        ``samples`` and, with ``metrics=True``, ``batches`` go to the metric store (see
        :mod:`heron.tsdb.metrics`) unless their metric is an ordinary table already.
        """
        rows = sum(len(b) for b in batches) + (len(samples) if samples is not None else 0)
        future: Future[WriteResult] = Future()
        if rows == 0:
            future.set_result(WriteResult(written=0))
            return future
        with self._lock:
            if self._pending_rows and self._pending_rows + rows > self._max_queue_rows:
                raise Overloaded(
                    f"the write queue is full ({self._pending_rows} rows waiting); retry shortly",
                    retry_after_seconds=1,
                )
            self._pending_rows += rows
        self._queue.put(_WriteRequest(tenant, database, schema, batches, atomic, rows, future, samples, metrics))
        return future

    def call(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> Future[T]:
        """Run ``fn`` on the write connection between commits (DDL, retention)."""
        future: Future[T] = Future()
        self._queue.put(_Call(fn, future))
        return future

    def sync(self) -> Future[None]:
        """Resolve once everything acknowledged so far is in DuckDB (read-your-writes)."""
        future: Future[None] = Future()
        self._queue.put(_Call(lambda _con: None, future, reload_catalog=False))
        return future

    @property
    def settled(self) -> bool:
        """Whether everything acknowledged is in DuckDB already (then :meth:`sync` has nothing to do).

        A write is acknowledged only after the writer put its rows in the backlog, so a reader
        that saw its acknowledgement sees this false until the rows are applied.
        """
        return self._queue.empty() and self._applying is None and not self._pending.has_work()

    @property
    def queued_rows(self) -> int:
        """Rows accepted into the queue and not yet logged (what the 429 limit counts)."""
        return self._pending_rows

    def health(self) -> dict[str, Any]:
        """The store's state for the health endpoint: quarantined records, a failing apply."""
        records, rows = self.quarantine.counts()
        return {
            "status": "degraded" if self._failure else "ok",
            "pending_rows": self._pending_rows + self._pending.rows + (self._applying.rows if self._applying else 0),
            "quarantined_records": records,
            "quarantined_rows": rows,
            "apply_failing_since_attempts": self._failures,
        }

    def table_names(self, schema: str) -> frozenset[str]:
        """Lower-case names of the committed tables of ``schema``.

        A snapshot the writer replaces after each commit that adds tables, so readers
        (the SQL sandbox) need not scan DuckDB's catalog on every query.
        """
        return self._table_names.get(schema, frozenset())

    def close(self) -> None:
        """Finish what is queued, apply the log, checkpoint, and stop the threads."""
        self._queue.put(_STOP)
        self._thread.join()
        self._apply_jobs.put(None)
        self._applier.join()
        self._wal.close()
        try:
            self._con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            log.warning("checkpoint at shutdown failed", extra={"error": str(exc)})

    # -- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._flush_wait())
            except queue.Empty:
                self._hand_off()
                continue
            if item is _STOP:
                self._flush()
                return
            if item is _WAKE:
                self._hand_off()
                continue
            if isinstance(item, _Call):
                self._run_call(item)
                continue
            group = [item]
            rows = item.rows
            held: Any = None
            while rows < self._max_commit_rows:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(nxt, _WriteRequest):
                    held = nxt
                    break
                group.append(nxt)
                rows += nxt.rows
            self._commit_group(group)
            self._hand_off()
            if held is _WAKE:
                held = None
            if held is _STOP:
                self._flush()
                return
            if held is not None:
                self._run_call(held)

    def _flush_wait(self) -> float | None:
        """Seconds until the pending rows are due in DuckDB; None when nothing waits."""
        if not self._pending.has_work():
            return None
        return max(0.0, self._pending_since + self._flush_interval - time.monotonic())

    # -- applying the log to DuckDB -------------------------------------------------------

    def _hand_off(self) -> None:
        """Give the backlog to the applier when it is due and the applier is free.

        Due: ``flush_rows`` rows wait, or the oldest has waited ``flush_interval``, and no
        failed apply asks to wait longer. While the applier works the writer goes on logging
        and acknowledging; only when four times ``flush_rows`` pile up meanwhile does it wait
        (and the queue fills: 429).
        """
        self._collect(wait=False)
        backlog = self._pending
        if not backlog.has_work():
            return
        now = time.monotonic()
        due = backlog.rows >= self._flush_rows or now >= self._pending_since + self._flush_interval
        if not due or now < self._retry_at:
            return
        if self._applying is not None:
            if backlog.rows < 4 * self._flush_rows:
                return
            self._collect(wait=True)
            if self._applying is not None:
                return
        self._applying, self._applying_seq = backlog, self._wal.last_seq
        self._pending = Backlog()
        self._wal.rotate()
        self._apply_done.clear()
        self._apply_jobs.put((backlog, self._applying_seq))

    def _apply_loop(self) -> None:
        """The applier thread: one backlog at a time, on the write connection."""
        while True:
            job = self._apply_jobs.get()
            if job is None:
                return
            backlog, seq = job
            try:
                self._apply_result = self._apply(backlog, seq)
            except Exception as exc:  # noqa: BLE001 - reported to the writer, which retries
                rollback(self._con)
                self._apply_result = exc
            self._apply_done.set()
            self._queue.put(_WAKE)

    def _apply(self, backlog: Backlog, seq: int) -> Outcome:
        started = time.perf_counter()
        outcome = apply_or_isolate(
            self._con,
            backlog,
            catalog=self._catalog,
            registries=self._registries,
            applied_seq=seq,
            quarantine=self.quarantine,
        )
        telemetry.FLUSH_SECONDS.observe(time.perf_counter() - started)
        for (_schema, key), logged in outcome.applied.records.items():
            telemetry.ROWS_APPLIED.labels(table=key).inc(sum(record.data.num_rows for _, record in logged))
        return outcome

    def _collect(self, *, wait: bool) -> None:
        """Take the applier's result: merge what it applied, or put it back to retry."""
        backlog = self._applying
        if backlog is None or not self._apply_done.wait(None if wait else 0):
            return
        self._apply_done.clear()
        # ``_applying`` is cleared last on both paths: until then ``settled`` stays false.
        result = self._apply_result
        if isinstance(result, Outcome):
            self._applied(result)
            self._applying = None
            try:
                self._wal.drop_through(self._applying_seq)
            except OSError as exc:
                # Harmless: DuckDB holds the applied sequence number, so replay skips these.
                log.warning("could not remove applied write-ahead log segments", extra={"error": str(exc)})
            return
        assert isinstance(result, BaseException)
        self._failed(result)
        self._load_catalog()
        # Back in front of what was logged since, in log order; retried after a backoff.
        backlog.extend(self._pending)
        self._pending = backlog
        self._applying = None

    def _applied(self, outcome: Outcome) -> None:
        """DuckDB holds ``outcome.applied``: learn its tables; report what was set aside."""
        self._merge(outcome.applied)
        for unit, reason in outcome.quarantined:
            schema, table = unit.describe()
            records = unit.logged()
            self.quarantined_records += len(records)
            telemetry.QUARANTINED_RECORDS.inc(len(records))
            log.error(
                "records the store refused were moved to the quarantine; every other write was applied",
                extra={
                    "schema": schema,
                    "table": table,
                    "records": len(records),
                    "rows": unit.rows,
                    "reason": reason,
                    "inspect": "heron wal inspect",
                },
            )
        if outcome.quarantined:
            self._load_catalog()  # DDL of the refused units never happened
        if self._failure is not None:
            log.info("applying the write-ahead log works again", extra={"after_attempts": self._failures})
        self._failure, self._failures, self._retry_at = None, 0, 0.0

    def _failed(self, exc: BaseException) -> None:
        """An apply failed for a reason that is not the rows' (or not only theirs): back off."""
        reason = describe_error(exc)
        telemetry.APPLY_FAILURES.inc()
        self._failures += 1
        self._retry_at = time.monotonic() + min(_MAX_BACKOFF_SECONDS, self._flush_interval * 2 ** (self._failures - 1))
        now = time.monotonic()
        if reason != self._failure or now - self._failure_logged_at >= _FAILURE_LOG_INTERVAL_SECONDS:
            log.error(
                "applying the write-ahead log failed; acknowledged writes stay in the log and are retried",
                extra={"error": reason, "attempts": self._failures},
            )
            self._failure_logged_at = now
        self._failure = reason

    def _run_call(self, call: _Call) -> None:
        try:
            if not self._flush():
                raise StoreUnavailable(
                    f"acknowledged writes could not be applied to the store yet ({self._failure}); "
                    "they are kept in the write-ahead log and retried",
                    retry_after_seconds=max(1, int(self._retry_at - time.monotonic() + 1)),
                )
            call.future.set_result(call.fn(self._con))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
            call.future.set_exception(exc)
        finally:
            if call.reload_catalog:
                self._load_catalog()

    def _flush(self) -> bool:
        """Apply every acknowledged record to DuckDB now, in the writer thread (after the
        applier's work in progress); False if that failed and is being retried."""
        self._collect(wait=True)
        backlog = self._pending
        if not backlog.has_work():
            return True
        if self._failure is not None and time.monotonic() < self._retry_at:
            return False
        seq = self._wal.last_seq
        try:
            outcome = self._apply(backlog, seq)
        except Exception as exc:  # noqa: BLE001 - kept in the log and retried
            rollback(self._con)
            self._load_catalog()
            self._failed(exc)
            return False
        self._pending = Backlog()
        self._applied(outcome)
        try:
            self._wal.reset()
        except OSError as exc:
            # Harmless: DuckDB holds the applied sequence number, so replay skips these.
            log.warning("could not remove applied write-ahead log segments", extra={"error": str(exc)})
        return True

    def _recover(self) -> None:
        """Apply what the log holds beyond DuckDB's applied sequence number (after a crash).

        Never fatal: a record DuckDB refuses goes to the quarantine, and a store that cannot
        apply anything now (a full disk) keeps the records in the log and retries.
        """
        applied = read_applied_seq(self._con)
        replayed = 0
        for seq, record in self._wal.replay(after_seq=applied):
            self._stage_record(seq, record)
            replayed += record.data.num_rows
        if self._wal.last_seq < applied:
            self._wal.last_seq = applied
        if not replayed:
            self._wal.reset()
            return
        log.info("replaying the write-ahead log", extra={"rows": replayed})
        if not self._flush():
            log.error(
                "the write-ahead log could not be applied at start; Heron serves and retries",
                extra={"error": self._failure, "rows": replayed},
            )
            self._pending_since = time.monotonic()

    def _stage_record(self, seq: int, record: WalRecord) -> None:
        """Queue a logged record for the next flush, adding tables and columns it needs."""
        key = (record.schema, record.table.lower())
        if record.schema not in self._catalog:
            log.warning("dropping logged rows of a database that no longer exists", extra={"schema": record.schema})
            return
        pending = self._pending
        if key[1] in ms.INTERNAL_TABLES:
            registry = self._registry(record.schema)
            if key[1] == ms.METRICS:
                for mdef in registry.add_metric_rows(record.data):
                    pending.metric_defs[(record.schema, mdef.name.lower())] = mdef
                pending.metric_records.setdefault(record.schema, []).append((seq, record))
                return
            if key[1] == ms.SERIES:
                registry.add_series_rows(record.data)
        existing = self._catalog[record.schema].get(key[1])
        if existing is None and key not in pending.new_tables:
            pending.new_tables[key] = Table(record.table)
        known = dict(existing.columns) if existing else {}
        for col in pending.new_columns.get(key, []):
            known.setdefault(col.name.lower(), col)
        for name, (kind, sql_type) in record.columns.items():
            if name.lower() not in known:
                col = Column(name, sql_type, kind)
                known[name.lower()] = col
                pending.new_columns.setdefault(key, []).append(col)
        pending.add_record(key, seq, record)

    def _reserve_quarantined_ids(self) -> None:
        """Keep the ids of quarantined series and metrics from being given out again, so a
        requeue cannot make two series (or metrics) share one."""
        try:
            held = list(self.quarantine.records())
        except (OSError, ValueError) as exc:
            log.warning("could not read the quarantine", extra={"error": str(exc)})
            return
        for entry, record in held:
            low = entry.table.lower()
            if low not in (ms.SERIES, ms.METRICS):
                continue
            registry = self._registry(entry.schema)
            if not record.data.num_rows:
                continue
            if low == ms.SERIES:
                top_series = max(record.data.column(ms.SERIES_ID).to_pylist())
                registry.next_series = max(registry.next_series, int(top_series) + 1)
            top_metric = max(record.data.column(ms.METRIC_ID).to_pylist())
            registry.next_metric = max(registry.next_metric, int(top_metric) + 1)

    def requeue(self, only: set[int] | None = None) -> list[tuple[int, str, str, int]]:
        """Put quarantined records (all, or the sequence numbers in ``only``) back into the log
        and apply them now.

        Returns (seq, schema, table, rows) of each record requeued. A record that DuckDB
        refuses again goes back to the quarantine with the new reason.
        """
        done: list[tuple[int, str, str, int]] = []

        def run(_con: duckdb.DuckDBPyConnection) -> None:
            for entry, record in list(self.quarantine.records()):
                if only is not None and entry.seq not in only:
                    continue
                if record.schema not in self._catalog:
                    log.warning("a quarantined record's database no longer exists", extra={"schema": record.schema})
                    continue
                seq = self._wal.append([record])
                self.quarantine.remove(entry)
                self._stage_record(seq, record)
                done.append((entry.seq, record.schema, record.table, record.data.num_rows))
            self._pending_since = time.monotonic()

        self.call(run).result()
        self.sync().result()
        return done

    def _commit_group(self, group: list[_WriteRequest]) -> None:
        plan = _Plan()
        staged: list[tuple[_WriteRequest, WriteResult]] = []
        for req in group:
            try:
                staged.append((req, self._stage(req, plan)))
            except HeronError as exc:
                self._finish(req, exc)
            except Exception as exc:  # a bug must fail one request, not stop the writer
                log.exception("staging a write failed")
                self._finish(req, HeronError(f"the write could not be staged: {exc}"))
        if not staged:
            return
        keyed: list[tuple[Key | None, WalRecord]] = []  # None: a metrics record (of its schema)
        for (schema, key), tables in plan.appends.items():
            data = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
            if key in ms.INTERNAL_TABLES:
                keyed.append(((schema, key), WalRecord(schema, key, self._internal_columns(key, data), data)))
                continue
            table = self._lookup(plan, schema, key)
            assert table is not None
            columns = self._columns_of(schema, key, plan)
            names = [n for n in data.column_names if n != "time"]
            keyed.append(((schema, key), WalRecord(schema, table.name, {n: columns[n.lower()] for n in names}, data)))
        for schema, defs in _defs_by_schema(plan).items():
            keyed.append((None, WalRecord(schema, ms.METRICS, dict(ms.METRIC_COLUMNS), ms.metric_rows(defs))))
        try:
            last = self._wal.append([record for _, record in keyed])
        except OSError as exc:
            log.error("the write-ahead log could not be written", extra={"error": str(exc)})
            for req, _ in staged:
                self._finish(req, HeronError(f"the write could not be made durable: {exc.strerror or exc}"))
            return
        pending = self._pending
        if not pending.has_work():
            self._pending_since = time.monotonic()
        self._learn_metrics(plan)
        for pair, tbl in plan.new_tables.items():
            pending.new_tables.setdefault(pair, tbl)
        for pair, cols in plan.new_columns.items():
            pending.new_columns.setdefault(pair, []).extend(cols)
        for seq, (target, record) in enumerate(keyed, start=last - len(keyed) + 1):
            if target is None:
                pending.metric_records.setdefault(record.schema, []).append((seq, record))
            else:
                pending.add_record(target, seq, record)
        pending.metric_defs.update(plan.metric_defs)
        self.commits += 1
        for req, result in staged:
            self._finish(req, result)

    @staticmethod
    def _internal_columns(table: str, data: pa.Table) -> dict[str, tuple[str, str]]:
        if table == ms.SAMPLES:
            return dict(ms.SAMPLE_COLUMNS)
        out = dict(ms.SERIES_BASE_COLUMNS)
        out.update({n: ("tag", "VARCHAR") for n in data.column_names if n not in out})
        return out

    def _learn_metrics(self, plan: _Plan) -> None:
        """Series, label columns and metric definitions are in the log now: remember them."""
        for schema, new in plan.series.items():
            registry = self._registry(schema)
            registry.series.update(new)
            pairs = plan.series_metric[schema]
            registry.set_series_metric(
                np.fromiter(pairs.keys(), dtype=np.int64, count=len(pairs)),
                np.fromiter(pairs.values(), dtype=np.int64, count=len(pairs)),
            )
        for (schema, key), cols in plan.new_columns.items():
            if key == ms.SERIES:
                registry = self._registry(schema)
                for col in cols:
                    registry.columns.setdefault(col.name.lower(), col.name)
        for (schema, low), mdef in plan.metric_defs.items():
            self._registry(schema).metrics[low] = mdef

    def _finish(self, req: _WriteRequest, outcome: WriteResult | BaseException) -> None:
        with self._lock:
            self._pending_rows -= req.rows
        if isinstance(outcome, BaseException):
            req.future.set_exception(outcome)
        else:
            req.future.set_result(outcome)

    # -- staging: types, new columns, Arrow tables ----------------------------------------

    def _registry(self, schema: str) -> ms.Registry:
        registry = self._registries.get(schema)
        if registry is None:
            registry = self._registries[schema] = ms.Registry()
        return registry

    def _lookup(self, plan: _Plan, schema: str, table: str) -> Table | None:
        """The table as committed, as pending in the log, or as planned by this group."""
        key = (schema, table.lower())
        return (
            self._catalog.get(schema, {}).get(table.lower())
            or (self._applying.new_tables.get(key) if self._applying is not None else None)
            or self._pending.new_tables.get(key)
            or plan.new_tables.get(key)
        )

    def _is_metric(self, plan: _Plan, schema: str, table: str) -> bool:
        """Whether ``table`` is a metric of the store (logged, or planned in this group)."""
        low = table.lower()
        return low in self._registry(schema).metrics or (schema, low) in plan.metric_defs

    def _columns_of(self, schema: str, key: str, plan: _Plan) -> dict[str, tuple[str, str]]:
        """Every known column of a table (committed, pending, planned): lower name -> (kind, type)."""
        out: dict[str, tuple[str, str]] = {}
        table = self._catalog.get(schema, {}).get(key)
        if table is not None:
            out.update({k: (c.kind, c.sql_type) for k, c in table.columns.items()})
        for col in self._new_columns(schema, key, plan):
            out.setdefault(col.name.lower(), (col.kind, col.sql_type))
        return out

    def _new_columns(self, schema: str, key: str, *plans: _Plan) -> Iterator[Column]:
        """Columns of a table added by the plan being applied, the pending one and ``plans``, in that order."""
        for source in (self._applying, self._pending, *plans):
            if source is not None:
                yield from source.new_columns.get((schema, key), [])

    def _stage(self, req: _WriteRequest, plan: _Plan) -> WriteResult:
        if req.schema not in self._catalog:
            raise DatabaseNotFound(req.tenant, req.database)
        conflicts: list[TypeConflict] = []
        written = dropped = 0
        tables: list[Batch] = []
        metric_batches: list[Batch] = []
        for batch in req.batches:
            if batch.table.lower().startswith(INTERNAL_PREFIX):
                conflicts.append(_reserved(batch))
                dropped += len(batch)
                continue
            bad_name = _bad_name(batch)
            if bad_name is not None:
                conflicts.append(bad_name)
                dropped += len(batch)
                continue
            if self._is_metric(plan, req.schema, batch.table):
                if ms.is_metric_batch(batch):
                    metric_batches.append(batch)
                else:
                    conflicts.append(_not_a_metric_row(batch))
                    dropped += len(batch)
                continue
            if req.metrics and ms.is_metric_batch(batch) and self._lookup(plan, req.schema, batch.table) is None:
                metric_batches.append(batch)
            else:
                tables.append(batch)
        sample_sets = [s for s in (req.samples,) if s is not None and len(s)]
        if metric_batches:
            sample_sets.append(ms.samples_from_batches(metric_batches))
        to_store: list[tuple[ms.Samples, npt.NDArray[np.int64]]] = []
        for samples in sample_sets:
            ids, table_rows, refused = self._series_ids(req.schema, samples, plan)
            if len(table_rows):
                tables += samples.take(table_rows).to_batches()
            if len(refused):
                for batch in samples.take(refused).to_batches():
                    conflicts.append(_refused_series(batch))
                dropped += len(refused)
            to_store.append((samples, ids))
        if conflicts and req.atomic:
            raise conflicts[0]
        result = self._stage_tables(req, tables, plan)  # raises its own conflicts when atomic
        for samples, ids in to_store:
            written += self._stage_samples(req.schema, samples, ids, plan)
        return WriteResult(
            written=written + result.written,
            dropped=dropped + result.dropped,
            conflicts=tuple(conflicts) + result.conflicts,
        )

    def _series_ids(
        self, schema: str, samples: ms.Samples, plan: _Plan
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The id of each series of ``samples`` (new ones are created in ``plan``).

        Also the rows that belong in ordinary tables (their metric is one already) and the
        rows refused (a metric name Heron reserves); their series get id -1.
        """
        registry = self._registry(schema)
        get = registry.series.get
        found = [get(s.key, -1) for s in samples.series]
        ids = np.array(found, dtype=np.int64)
        misses = np.flatnonzero(ids < 0)
        if not len(misses):
            return ids, _NO_ROWS, _NO_ROWS
        new = plan.series.setdefault(schema, {})
        new_metric = plan.series_metric.setdefault(schema, {})
        rows: list[ms.SeriesDef] = []
        row_ids: list[int] = []
        row_metrics: list[int] = []
        elsewhere = np.zeros(len(ids), dtype=bool)
        refused = np.zeros(len(ids), dtype=bool)
        new_columns = plan.new_columns.setdefault((schema, ms.SERIES), [])
        planned_columns = {c.name.lower(): c.name for c in new_columns}
        for i in misses.tolist():
            s = samples.series[i]
            sid = new.get(s.key)
            if sid is not None:
                ids[i] = sid
                continue
            low = s.metric.lower()
            if low.startswith(INTERNAL_PREFIX) or not _storable_series(s):
                refused[i] = True
                continue
            mdef = plan.metric_defs.get((schema, low)) or registry.metrics.get(low)
            if mdef is None:
                table = self._lookup(plan, schema, s.metric)
                if table is not None and not table.view:
                    elsewhere[i] = True
                    continue
                mdef = ms.MetricDef(registry.next_metric, s.metric, [])
                registry.next_metric += 1
            tags = {t.lower() for t in mdef.tags}
            added: list[str] = []
            for label, _ in s.labels:
                name = ms.stored_label(label)
                low_label = name.lower()
                column = registry.columns.get(low_label) or planned_columns.get(low_label)
                if column is None:
                    column = planned_columns[low_label] = name
                    new_columns.append(Column(name, "VARCHAR", "tag"))
                if low_label not in tags:
                    tags.add(low_label)
                    added.append(column)
            if added or ((schema, low) not in plan.metric_defs and low not in registry.metrics):
                mdef = ms.MetricDef(mdef.id, mdef.name, sorted([*mdef.tags, *added], key=str.lower))
                plan.metric_defs[(schema, low)] = mdef
            sid = registry.next_series
            registry.next_series += 1
            ids[i] = new[s.key] = sid
            new_metric[sid] = mdef.id
            rows.append(s)
            row_ids.append(sid)
            row_metrics.append(mdef.id)
        if not new_columns:
            del plan.new_columns[(schema, ms.SERIES)]
        if rows:
            self._plan_internal_tables(schema, plan)
            plan.appends.setdefault((schema, ms.SERIES), []).append(
                _series_rows(rows, row_ids, row_metrics, registry.columns | planned_columns)
            )
        row_is = elsewhere[samples.index]
        row_refused = refused[samples.index]
        return ids, np.flatnonzero(row_is), np.flatnonzero(row_refused)

    def _plan_internal_tables(self, schema: str, plan: _Plan) -> None:
        for name in (ms.SAMPLES, ms.SERIES):
            key = (schema, name)
            if self._lookup(plan, schema, name) is None:
                plan.new_tables.setdefault(key, Table(name))

    def _stage_samples(self, schema: str, samples: ms.Samples, ids: npt.NDArray[np.int64], plan: _Plan) -> int:
        """Append the rows whose series has an id; return how many."""
        registry = self._registry(schema)
        metric = np.zeros(len(ids), dtype=np.int64)
        known = (ids >= 0) & (ids < len(registry.series_metric))
        metric[known] = registry.series_metric[ids[known]]
        planned = plan.series_metric.get(schema, {})
        for at in np.flatnonzero((ids >= 0) & (metric == 0)).tolist():  # series new in this plan
            metric[at] = planned[int(ids[at])]
        row_series = ids[samples.index]
        row_metric = metric[samples.index]
        keep = row_series >= 0
        count = int(np.count_nonzero(keep))
        if not count:
            return 0
        self._plan_internal_tables(schema, plan)
        time_ns, value = samples.time, samples.value
        if count != len(row_series):
            row_series, row_metric, time_ns, value = row_series[keep], row_metric[keep], time_ns[keep], value[keep]
        data = pa.table(
            {
                # view, not cast: int64 nanoseconds and timestamp[ns] share one layout.
                "time": pa.array(time_ns, pa.int64()).view(pa.timestamp("ns")),
                ms.METRIC_ID: pa.array(row_metric, pa.int64()),
                ms.SERIES_ID: pa.array(row_series, pa.int64()),
                ms.VALUE: pa.array(value, pa.float64()),
            }
        )
        plan.appends.setdefault((schema, ms.SAMPLES), []).append(data)
        return count

    def _stage_tables(self, req: _WriteRequest, batches: list[Batch], plan: _Plan) -> WriteResult:
        """Batches for ordinary tables: type checks, new columns, Arrow tables."""
        local = _Plan()
        conflicts: list[TypeConflict] = []
        written = dropped = 0
        for batch in batches:
            existing = self._lookup(plan, req.schema, batch.table) or self._lookup(local, req.schema, batch.table)
            table_name = existing.name if existing else batch.table
            known = dict(existing.columns) if existing else {}
            for col in self._new_columns(req.schema, table_name.lower(), plan, local):
                known.setdefault(col.name.lower(), col)

            keep: pa.Array | None = None
            arrays: dict[str, pa.Array] = {}
            additions: list[Column] = []
            wanted = [(k, v, "tag", "VARCHAR") for k, v in batch.tags.items()]
            wanted += [(k, v, "field", SQL_TYPES.get(v.type, "VARCHAR")) for k, v in batch.fields.items()]
            for name, array, kind, sql_type in wanted:
                found = known.get(name.lower())
                if found is None:
                    col = known[name.lower()] = Column(name, sql_type, kind)
                    additions.append(col)
                else:
                    col = found
                if col.kind != kind or col.sql_type != sql_type or name.lower() == "time":
                    present = pc.is_valid(array)
                    first = _first_line(batch, present)
                    conflicts.append(
                        TypeConflict(
                            table=table_name,
                            column=name,
                            existing=_describe(col.kind, col.sql_type) if name.lower() != "time" else "the timestamp",
                            got=_describe(kind, sql_type),
                            line=first,
                        )
                    )
                    absent = pc.invert(present)
                    keep = absent if keep is None else pc.and_(keep, absent)
                    continue
                same = arrays.get(col.name)
                # Keys that differ only in case (from different lines) share one column.
                arrays[col.name] = array if same is None else pc.coalesce(same, array)

            if conflicts and req.atomic:
                raise conflicts[0]
            rows = len(batch)
            # view, not cast: int64 nanoseconds and timestamp[ns] share one layout (no copy).
            table = pa.table({"time": batch.time.view(pa.timestamp("ns")), **arrays})
            if keep is not None:
                table = table.filter(keep)
                dropped += rows - table.num_rows
            written += table.num_rows
            if table.num_rows == 0:
                continue
            key = (req.schema, table_name.lower())
            if existing is None and key not in local.new_tables:
                local.new_tables[key] = Table(table_name)
            local.new_columns.setdefault(key, []).extend(a for a in additions if a.name in arrays)
            local.appends.setdefault(key, []).append(table)

        for key, tbl in local.new_tables.items():
            plan.new_tables.setdefault(key, tbl)
        for key, cols in local.new_columns.items():
            plan.new_columns.setdefault(key, []).extend(cols)
        for key, tables in local.appends.items():
            plan.appends.setdefault(key, []).extend(tables)
        return WriteResult(written=written, dropped=dropped, conflicts=tuple(conflicts))

    def _merge(self, plan: Backlog) -> None:
        """DuckDB holds ``plan`` now: its tables, columns and metric views join the catalog."""
        for (schema, key), tbl in plan.new_tables.items():
            self._catalog.setdefault(schema, {}).setdefault(key, tbl)
        for (schema, key), cols in plan.new_columns.items():
            tbl = self._catalog[schema][key]
            for col in cols:
                tbl.columns.setdefault(col.name.lower(), col)
        for (schema, low), mdef in plan.metric_defs.items():
            view = Table(mdef.name, view=True)
            view.columns = {t.lower(): Column(t, "VARCHAR", "tag") for t in mdef.tags}
            view.columns[ms.VALUE] = Column(ms.VALUE, "DOUBLE", "field")
            self._catalog.setdefault(schema, {})[low] = view
        if plan.new_tables or plan.metric_defs:
            self._publish_table_names()
        if plan.new_tables or plan.new_columns or plan.metric_defs:
            self.catalog_version += 1

    def _publish_table_names(self) -> None:
        self._table_names = {schema: frozenset(tables) for schema, tables in self._catalog.items()}

    def _load_catalog(self) -> None:
        started = time.perf_counter()
        catalog: dict[str, dict[str, Table]] = {schema: {} for schema in list_schemas(self._con)}
        views = list_views(self._con)
        for schema, tables in describe_schemas(self._con).items():
            for name, infos in tables.items():
                tbl = Table(name, view=(schema, name) in views)
                for info in infos:
                    if info.kind != "time":
                        tbl.columns[info.name.lower()] = Column(info.name, info.sql_type, info.kind)
                catalog.setdefault(schema, {})[name.lower()] = tbl
        self._catalog = catalog
        for schema in set(self._registries) - set(catalog):
            del self._registries[schema]  # the database was dropped
        self._publish_table_names()
        self.catalog_version += 1
        log.debug("catalog loaded", extra={"seconds": round(time.perf_counter() - started, 4)})


_NO_ROWS = np.zeros(0, dtype=np.int64)
#: Longest wait between attempts to apply the log after a failure.
_MAX_BACKOFF_SECONDS = 30.0
#: A failure that goes on is logged again this often (not at every attempt).
_FAILURE_LOG_INTERVAL_SECONDS = 60.0
#: Put on the writer's queue by the applier when it is done, to wake the writer.
_WAKE = object()


def _defs_by_schema(plan: _Plan) -> dict[str, list[ms.MetricDef]]:
    by_schema: dict[str, list[ms.MetricDef]] = {}
    for (schema, _), mdef in plan.metric_defs.items():
        by_schema.setdefault(schema, []).append(mdef)
    return by_schema


def _bad_name(batch: Batch) -> TypeConflict | None:
    """A batch whose table or column names the store cannot hold (the parsers check this;
    this is the last line before the log, so a parser's slip fails a request, not the store)."""
    for kind, name in (
        ("table", batch.table),
        *(("tag", t) for t in batch.tags),
        *(("field", f) for f in batch.fields),
    ):
        problem = name_problem(name)
        if problem is not None:
            return TypeConflict(
                table=printable(batch.table),
                column=printable(name) if kind != "table" else "time",
                existing="a name the store can hold",
                got=f"a {kind} name that {problem}",
                line=_first_line(batch, pc.is_valid(batch.time)),
            )
    return None


def _storable_series(series: ms.SeriesDef) -> bool:
    """Whether a series' metric and label names are ones the store can hold, each label in
    a column of its own (``time`` is stored as ``label_time``, so both cannot be labels)."""
    if name_problem(series.metric) is not None:
        return False
    columns = set()
    for name, _ in series.labels:
        if name_problem(name) is not None:
            return False
        columns.add(ms.stored_label(name).lower())
    return len(columns) == len(series.labels)


def _refused_series(batch: Batch) -> TypeConflict:
    """Why series of one metric were refused (see :func:`_storable_series`)."""
    if batch.table.lower().startswith(INTERNAL_PREFIX):
        return _reserved(batch)
    bad = _bad_name(batch)
    if bad is not None:
        return bad
    return TypeConflict(
        table=batch.table,
        column=next(iter(batch.tags), "value"),
        existing="a label of its own (labels 'time' and 'value' are stored as 'label_time' and 'label_value')",
        got="two labels that would share one column",
        line=_first_line(batch, pc.is_valid(batch.time)),
    )


def _reserved(batch: Batch) -> TypeConflict:
    return TypeConflict(
        table=batch.table,
        column="time",
        existing=f"part of Heron's metric store (names starting with '{INTERNAL_PREFIX}' are reserved)",
        got="a write",
        line=_first_line(batch, pc.is_valid(batch.time)),
    )


def _not_a_metric_row(batch: Batch) -> TypeConflict:
    other = next((n for n in batch.fields if n != ms.VALUE), ms.VALUE)
    got = batch.fields[other].type if other in batch.fields else "no value"
    return TypeConflict(
        table=batch.table,
        column=other,
        existing="not a column of this metric (a metric holds tags and one float field 'value')",
        got=f"a {got} field",
        line=_first_line(batch, pc.is_valid(batch.time)),
    )


def _series_rows(series: list[ms.SeriesDef], ids: list[int], metrics: list[int], columns: dict[str, str]) -> pa.Table:
    """Rows of the series table: id, metric, key, and each label in its column."""
    values: dict[str, list[str | None]] = {}
    for row, s in enumerate(series):
        for name, value in s.labels:
            column = columns[ms.stored_label(name).lower()]
            values.setdefault(column, [None] * len(series))[row] = value
    return pa.table(
        {
            ms.SERIES_ID: pa.array(ids, pa.int64()),
            ms.METRIC_ID: pa.array(metrics, pa.int64()),
            ms.SERIES_KEY: pa.array([s.key for s in series], pa.string()),
            **{name: pa.array(col, pa.string()) for name, col in values.items()},
        }
    )


def _describe(kind: str, sql_type: str) -> str:
    if kind == "tag":
        return "a tag"
    return f"{TYPE_WORDS.get(sql_type, sql_type.lower())} field"


def _first_line(batch: Batch, mask: pa.Array) -> int:
    if batch.lines is None:
        return 0
    hit = batch.lines.filter(mask)
    return int(hit[0].as_py()) if len(hit) else 0
