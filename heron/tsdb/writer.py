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

import contextlib
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
from heron.core.errors import DatabaseNotFound, HeronError, Overloaded, TypeConflict
from heron.tsdb import metrics as ms
from heron.tsdb.names import INTERNAL_PREFIX, qualified, quote_ident
from heron.tsdb.store import (
    describe_schemas,
    list_schemas,
    list_views,
    read_applied_seq,
    tag_comment,
    write_applied_seq,
)
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
class _Column:
    name: str
    sql_type: str
    kind: str


@dataclass(slots=True)
class _Table:
    name: str
    columns: dict[str, _Column] = field(default_factory=dict)  # keyed by lower-case name
    view: bool = False  # a metric of the metric store (heron.tsdb.metrics)


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
    """Column additions and Arrow tables one commit will apply."""

    new_tables: dict[tuple[str, str], _Table] = field(default_factory=dict)
    new_columns: dict[tuple[str, str], list[_Column]] = field(default_factory=dict)
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
        self._pending = _Plan()
        self._pending_since = 0.0
        self._wal = WriteAheadLog(wal_dir)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._catalog: dict[str, dict[str, _Table]] = {}
        self._table_names: dict[str, frozenset[str]] = {}
        self._registries: dict[str, ms.Registry] = {}
        #: Counts changes of tables, columns and metrics in DuckDB, so readers can cache
        #: what they derive from the catalog (PromQL's metric names) until it changes.
        self.catalog_version = 0
        self._load_catalog()
        self._registries = {schema: ms.load_registry(con, schema) for schema in self._catalog}
        self.commits = 0
        # The applier applies one plan at a time while the writer goes on logging.
        self._applying: _Plan | None = None
        self._applying_seq = 0
        self._apply_error: str | None = None
        self._apply_done = threading.Event()
        self._apply_jobs: queue.Queue[tuple[_Plan, int] | None] = queue.Queue()
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

        A write is acknowledged only after the writer put its rows in the pending plan, so a
        reader that saw its acknowledgement sees this false until the rows are applied.
        """
        return self._queue.empty() and self._applying is None and not _has_work(self._pending)

    @property
    def queued_rows(self) -> int:
        """Rows accepted into the queue and not yet logged (what the 429 limit counts)."""
        return self._pending_rows

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
        if not _has_work(self._pending):
            return None
        return max(0.0, self._pending_since + self._flush_interval - time.monotonic())

    # -- applying the log to DuckDB -------------------------------------------------------

    def _hand_off(self) -> None:
        """Give the pending plan to the applier when it is due and the applier is free.

        Due: ``flush_rows`` rows wait, or the oldest has waited ``flush_interval``. While
        the applier works the writer goes on logging and acknowledging; only when four
        times ``flush_rows`` pile up meanwhile does it wait (and the queue fills: 429).
        """
        self._collect(wait=False)
        plan = self._pending
        if not _has_work(plan):
            return
        due = plan.rows >= self._flush_rows or time.monotonic() >= self._pending_since + self._flush_interval
        if not due:
            return
        if self._applying is not None:
            if plan.rows < 4 * self._flush_rows:
                return
            self._collect(wait=True)
            if self._applying is not None:
                return
        self._applying, self._applying_seq = plan, self._wal.last_seq
        self._pending = _Plan()
        self._wal.rotate()
        self._apply_done.clear()
        self._apply_jobs.put((plan, self._applying_seq))

    def _apply_loop(self) -> None:
        """The applier thread: one plan at a time, on the write connection."""
        while True:
            job = self._apply_jobs.get()
            if job is None:
                return
            plan, seq = job
            try:
                self._apply(plan, applied_seq=seq)
                self._apply_error = None
            except Exception as exc:  # noqa: BLE001 - reported to the writer, which retries
                with contextlib.suppress(duckdb.Error):
                    self._con.execute("ROLLBACK")
                self._apply_error = str(exc)
            self._apply_done.set()
            self._queue.put(_WAKE)

    def _collect(self, *, wait: bool) -> None:
        """Take the applier's result: merge what it applied, or put it back to retry."""
        plan = self._applying
        if plan is None or not self._apply_done.wait(None if wait else 0):
            return
        self._apply_done.clear()
        # ``_applying`` is cleared last on both paths: until then ``settled`` stays false.
        if self._apply_error is None:
            self._merge(plan)
            self._applying = None
            try:
                self._wal.drop_through(self._applying_seq)
            except OSError as exc:
                # Harmless: DuckDB holds the applied sequence number, so replay skips these.
                log.warning("could not remove applied write-ahead log segments", extra={"error": str(exc)})
            return
        log.error("applying the write-ahead log failed; will retry", extra={"error": self._apply_error})
        self._load_catalog()
        # Back in front of what was logged since, in log order; retried after an interval.
        self._pending = _joined(plan, self._pending)
        self._pending_since = time.monotonic()
        self._applying = None

    def _run_call(self, call: _Call) -> None:
        try:
            if not self._flush():
                raise HeronError("acknowledged writes could not be applied to the store yet; see the server log")
            call.future.set_result(call.fn(self._con))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
            call.future.set_exception(exc)
        finally:
            if call.reload_catalog:
                self._load_catalog()

    def _flush(self) -> bool:
        """Apply every acknowledged record to DuckDB now, in the writer thread (after the
        applier's work in progress); False if it failed."""
        self._collect(wait=True)
        plan = self._pending
        if not _has_work(plan):
            return True
        seq = self._wal.last_seq
        try:
            self._apply(plan, applied_seq=seq)
        except duckdb.Error as exc:
            self._rollback()
            self._pending_since = time.monotonic()  # try again after another interval
            log.error("applying the write-ahead log failed; will retry", extra={"error": str(exc)})
            return False
        self._merge(plan)
        self._pending = _Plan()
        try:
            self._wal.reset()
        except OSError as exc:
            # Harmless: DuckDB holds the applied sequence number, so replay skips these.
            log.warning("could not remove applied write-ahead log segments", extra={"error": str(exc)})
        return True

    def _recover(self) -> None:
        """Apply what the log holds beyond DuckDB's applied sequence number (after a crash)."""
        applied = read_applied_seq(self._con)
        replayed = 0
        for _seq, record in self._wal.replay(after_seq=applied):
            self._stage_record(record)
            replayed += record.data.num_rows
        if self._wal.last_seq < applied:
            self._wal.last_seq = applied
        if replayed:
            log.info("replaying the write-ahead log", extra={"rows": replayed})
            if not self._flush():
                raise HeronError("the write-ahead log could not be applied at start; see the server log")
        else:
            self._wal.reset()

    def _stage_record(self, record: WalRecord) -> None:
        """Queue a logged record for the next flush, adding tables and columns it needs."""
        key = (record.schema, record.table.lower())
        if record.schema not in self._catalog:
            log.warning("dropping logged rows of a database that no longer exists", extra={"schema": record.schema})
            return
        if key[1] in ms.INTERNAL_TABLES:
            registry = self._registry(record.schema)
            if key[1] == ms.METRICS:
                for mdef in registry.add_metric_rows(record.data):
                    self._pending.metric_defs[(record.schema, mdef.name.lower())] = mdef
                return
            if key[1] == ms.SERIES:
                registry.add_series_rows(record.data)
        existing = self._catalog[record.schema].get(key[1])
        if existing is None and key not in self._pending.new_tables:
            self._pending.new_tables[key] = _Table(record.table)
        known = dict(existing.columns) if existing else {}
        for col in self._pending.new_columns.get(key, []):
            known.setdefault(col.name.lower(), col)
        for name, (kind, sql_type) in record.columns.items():
            if name.lower() not in known:
                col = _Column(name, sql_type, kind)
                known[name.lower()] = col
                self._pending.new_columns.setdefault(key, []).append(col)
        self._pending.appends.setdefault(key, []).append(record.data)
        self._pending.rows += record.data.num_rows

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
        records = []
        for (schema, key), tables in plan.appends.items():
            data = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
            if key in ms.INTERNAL_TABLES:
                records.append(WalRecord(schema, key, self._internal_columns(key, data), data))
                continue
            table = self._lookup(plan, schema, key)
            assert table is not None
            columns = self._columns_of(schema, key, plan)
            names = [n for n in data.column_names if n != "time"]
            records.append(WalRecord(schema, table.name, {n: columns[n.lower()] for n in names}, data))
        for schema, defs in _defs_by_schema(plan).items():
            records.append(WalRecord(schema, ms.METRICS, dict(ms.METRIC_COLUMNS), ms.metric_rows(defs)))
        try:
            self._wal.append(records)
        except OSError as exc:
            log.error("the write-ahead log could not be written", extra={"error": str(exc)})
            for req, _ in staged:
                self._finish(req, HeronError(f"the write could not be made durable: {exc.strerror or exc}"))
            return
        if not self._pending.appends:
            self._pending_since = time.monotonic()
        self._learn_metrics(plan)
        for pair, tbl in plan.new_tables.items():
            self._pending.new_tables.setdefault(pair, tbl)
        for pair, cols in plan.new_columns.items():
            self._pending.new_columns.setdefault(pair, []).extend(cols)
        for pair, tables in plan.appends.items():
            self._pending.appends.setdefault(pair, []).extend(tables)
            self._pending.rows += sum(t.num_rows for t in tables)
        self._pending.metric_defs.update(plan.metric_defs)
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

    def _lookup(self, plan: _Plan, schema: str, table: str) -> _Table | None:
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

    def _new_columns(self, schema: str, key: str, *plans: _Plan) -> Iterator[_Column]:
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
            if self._is_metric(plan, req.schema, batch.table):
                if ms.is_metric_batch(batch):
                    metric_batches.append(batch)
                else:
                    conflicts.append(_not_a_metric_row(batch))
                    dropped += len(batch)
                continue
            if req.metrics and self._lookup(plan, req.schema, batch.table) is None:
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
                    conflicts.append(_reserved(batch))
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
            if low.startswith(INTERNAL_PREFIX):
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
                    new_columns.append(_Column(name, "VARCHAR", "tag"))
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
                plan.new_tables.setdefault(key, _Table(name))

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
            additions: list[_Column] = []
            wanted = [(k, v, "tag", "VARCHAR") for k, v in batch.tags.items()]
            wanted += [(k, v, "field", SQL_TYPES.get(v.type, "VARCHAR")) for k, v in batch.fields.items()]
            for name, array, kind, sql_type in wanted:
                found = known.get(name.lower())
                if found is None:
                    col = known[name.lower()] = _Column(name, sql_type, kind)
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
                arrays[col.name] = array

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
                local.new_tables[key] = _Table(table_name)
            local.new_columns.setdefault(key, []).extend(a for a in additions if a.name in arrays)
            local.appends.setdefault(key, []).append(table)

        for key, tbl in local.new_tables.items():
            plan.new_tables.setdefault(key, tbl)
        for key, cols in local.new_columns.items():
            plan.new_columns.setdefault(key, []).extend(cols)
        for key, tables in local.appends.items():
            plan.appends.setdefault(key, []).extend(tables)
        return WriteResult(written=written, dropped=dropped, conflicts=tuple(conflicts))

    def _apply(self, plan: _Plan, *, applied_seq: int) -> None:
        started = time.perf_counter()
        self._apply_plan(plan, applied_seq=applied_seq)
        telemetry.FLUSH_SECONDS.observe(time.perf_counter() - started)
        for (_schema, key), tables in plan.appends.items():
            telemetry.ROWS_APPLIED.labels(table=key).inc(sum(t.num_rows for t in tables))

    def _apply_plan(self, plan: _Plan, *, applied_seq: int) -> None:
        con = self._con
        con.execute("BEGIN TRANSACTION")
        store_schemas = {s for (s, k) in plan.appends if k in ms.INTERNAL_TABLES} | {s for s, _ in plan.metric_defs}
        for schema in sorted(store_schemas):
            ms.create_tables(con, schema)
        for (schema, key), cols in plan.new_columns.items():
            unique = list({c.name.lower(): c for c in reversed(cols)}.values())[::-1]
            committed = self._catalog.get(schema, {}).get(key)
            tbl = committed or plan.new_tables[(schema, key)]
            target = qualified(schema, tbl.name)
            if committed is None and key not in ms.INTERNAL_TABLES:
                # One statement for a new table and all its columns (DuckDB's cost is per statement).
                defs = "".join(f", {quote_ident(c.name)} {c.sql_type}" for c in unique)
                con.execute(f"CREATE TABLE IF NOT EXISTS {target} (time TIMESTAMP_NS NOT NULL{defs})")
            else:
                known = committed.columns if committed else {}
                for col in unique:
                    if col.name.lower() not in known:
                        con.execute(
                            f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {quote_ident(col.name)} {col.sql_type}"
                        )
            if key not in ms.INTERNAL_TABLES and any(c.kind == "tag" for c in unique):
                old = [c.name for c in committed.columns.values() if c.kind == "tag"] if committed else []
                tags = old + [c.name for c in unique if c.kind == "tag"]
                con.execute(f"COMMENT ON TABLE {target} IS '{tag_comment(tags).replace(chr(39), chr(39) * 2)}'")
        for (schema, key), tbl in plan.new_tables.items():
            if (schema, key) not in plan.new_columns and key not in ms.INTERNAL_TABLES:
                con.execute(f"CREATE TABLE IF NOT EXISTS {qualified(schema, tbl.name)} (time TIMESTAMP_NS NOT NULL)")
        self._apply_metric_defs(plan)
        for (schema, key), tables in plan.appends.items():
            tbl = self._catalog.get(schema, {}).get(key) or plan.new_tables[(schema, key)]
            data = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
            if key == ms.SAMPLES:
                # Clustered by metric and series, so a query of one metric skips the row
                # groups of the others (DuckDB's zone maps on __metric).
                data = data.take(pc.sort_indices(data, [(ms.METRIC_ID, "ascending"), (ms.SERIES_ID, "ascending")]))
            con.register("__heron_batch", data)
            try:
                con.execute(f"INSERT INTO {qualified(schema, tbl.name)} BY NAME SELECT * FROM __heron_batch")
            finally:
                con.unregister("__heron_batch")
        write_applied_seq(con, applied_seq)
        con.execute("COMMIT")

    def _apply_metric_defs(self, plan: _Plan) -> None:
        """Record changed metrics and (re)create their views, inside the flush's transaction."""
        con = self._con
        for schema, defs in _defs_by_schema(plan).items():
            columns = self._registries[schema].columns
            ids = ", ".join(str(d.id) for d in defs)
            con.execute(f"DELETE FROM {qualified(schema, ms.METRICS)} WHERE {ms.METRIC_ID} IN ({ids})")
            con.register("__heron_batch", ms.metric_rows(defs))
            try:
                con.execute(f"INSERT INTO {qualified(schema, ms.METRICS)} BY NAME SELECT * FROM __heron_batch")
            finally:
                con.unregister("__heron_batch")
            for mdef in defs:
                con.execute(ms.view_sql(schema, mdef, columns))
                comment = tag_comment(mdef.tags).replace("'", "''")
                con.execute(f"COMMENT ON VIEW {qualified(schema, mdef.name)} IS '{comment}'")

    def _rollback(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self._con.execute("ROLLBACK")
        self._load_catalog()

    def _merge(self, plan: _Plan) -> None:
        for (schema, key), tbl in plan.new_tables.items():
            self._catalog.setdefault(schema, {}).setdefault(key, tbl)
        for (schema, key), cols in plan.new_columns.items():
            tbl = self._catalog[schema][key]
            for col in cols:
                tbl.columns.setdefault(col.name.lower(), col)
        for (schema, low), mdef in plan.metric_defs.items():
            view = _Table(mdef.name, view=True)
            view.columns = {t.lower(): _Column(t, "VARCHAR", "tag") for t in mdef.tags}
            view.columns[ms.VALUE] = _Column(ms.VALUE, "DOUBLE", "field")
            self._catalog.setdefault(schema, {})[low] = view
        if plan.new_tables or plan.metric_defs:
            self._publish_table_names()
        if plan.new_tables or plan.new_columns or plan.metric_defs:
            self.catalog_version += 1

    def _publish_table_names(self) -> None:
        self._table_names = {schema: frozenset(tables) for schema, tables in self._catalog.items()}

    def _load_catalog(self) -> None:
        started = time.perf_counter()
        catalog: dict[str, dict[str, _Table]] = {schema: {} for schema in list_schemas(self._con)}
        views = list_views(self._con)
        for schema, tables in describe_schemas(self._con).items():
            for name, infos in tables.items():
                tbl = _Table(name, view=(schema, name) in views)
                for info in infos:
                    if info.kind != "time":
                        tbl.columns[info.name.lower()] = _Column(info.name, info.sql_type, info.kind)
                catalog.setdefault(schema, {})[name.lower()] = tbl
        self._catalog = catalog
        for schema in set(self._registries) - set(catalog):
            del self._registries[schema]  # the database was dropped
        self._publish_table_names()
        self.catalog_version += 1
        log.debug("catalog loaded", extra={"seconds": round(time.perf_counter() - started, 4)})


_NO_ROWS = np.zeros(0, dtype=np.int64)
#: Put on the writer's queue by the applier when it is done, to wake the writer.
_WAKE = object()


def _defs_by_schema(plan: _Plan) -> dict[str, list[ms.MetricDef]]:
    by_schema: dict[str, list[ms.MetricDef]] = {}
    for (schema, _), mdef in plan.metric_defs.items():
        by_schema.setdefault(schema, []).append(mdef)
    return by_schema


def _has_work(plan: _Plan) -> bool:
    return bool(plan.appends or plan.new_tables or plan.metric_defs)


def _joined(first: _Plan, then: _Plan) -> _Plan:
    """One plan doing ``first`` and then ``then`` (log order kept)."""
    out = _Plan(rows=first.rows + then.rows)
    for source in (first, then):
        for key, tbl in source.new_tables.items():
            out.new_tables.setdefault(key, tbl)
        for key, cols in source.new_columns.items():
            out.new_columns.setdefault(key, []).extend(cols)
        for key, tables in source.appends.items():
            out.appends.setdefault(key, []).extend(tables)
        out.metric_defs.update(source.metric_defs)
    return out


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
