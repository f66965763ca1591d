"""The single writer: one thread owns the write path and commits in groups.

Requests put their batches on a bounded queue and wait on a future. The writer takes
everything that is waiting (up to ``max_commit_rows``), stages it (types checked against
the tables and against what it has accepted but not yet applied: :mod:`heron.tsdb.staging`),
appends the rows to Heron's write-ahead log and fsyncs once; only then are the futures
resolved. A 2xx therefore means the points are on disk, and many small requests share one
fsync (group commit).

The log is applied to DuckDB in large transactions by the applier thread
(:mod:`heron.tsdb.flusher`): every ``flush_interval_seconds``, when ``flush_rows`` rows are
waiting, before any DDL or retention run, and before every query (:meth:`Writer.sync`), so a
reader always sees what was acknowledged. DuckDB's cost per appended table and statement is
paid once per flush instead of once per request, which is what makes requests spanning
hundreds of metric tables cheap. After a crash, the records DuckDB had not committed are
applied again at start. Maintenance (compaction, rollups) runs on the applier thread too,
in bounded steps between flushes (:meth:`Writer.maintain`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from heron.core.batch import Batch
from heron.core.errors import HeronError, Overloaded, StoreUnavailable
from heron.tsdb import metrics as ms
from heron.tsdb.backlog import Key
from heron.tsdb.compaction import Compactor, StepReport, create_pending_table
from heron.tsdb.flusher import Flusher, Task
from heron.tsdb.quarantine import Quarantine
from heron.tsdb.retention import Expired, drop_table, expire
from heron.tsdb.rollups import RollupRule
from heron.tsdb.staging import SQL_TYPES, TYPE_WORDS, Plan, StoreView, WriteRequest, WriteResult
from heron.tsdb.store import drop_schema
from heron.tsdb.wal import WalRecord, WriteAheadLog

__all__ = ["SQL_TYPES", "TYPE_WORDS", "WriteResult", "Writer"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True)
class _Call:
    fn: Callable[[duckdb.DuckDBPyConnection], Any]
    future: Future[Any]
    reload_catalog: bool = True


_STOP = object()
#: Put on the writer's queue by the applier when it is done, to wake the writer.
_WAKE = object()


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
        compactor: Compactor | None = None,
        compact_at_close_seconds: float = 0.0,
    ) -> None:
        self._con = con
        self._max_queue_rows = max_queue_rows
        self._max_commit_rows = max_commit_rows
        self._compact_at_close = compact_at_close_seconds
        self.quarantine = Quarantine(quarantine_dir or wal_dir.parent / "quarantine")
        self._wal = WriteAheadLog(wal_dir, damaged_dir=self.quarantine.dir)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._view = StoreView(con)
        self._view.reserve_quarantined_ids(self.quarantine)
        #: Which windows of which tables changed, for compaction and rollups.
        self.compactor = compactor or Compactor()
        self._flusher = Flusher(
            con,
            self._view,
            self._wal,
            self.quarantine,
            flush_rows=flush_rows,
            flush_interval_seconds=flush_interval_seconds,
            wake=lambda: self._queue.put(_WAKE),
            applied=self.compactor.note_applied,
            before_commit=self.compactor.persist_marks,
        )
        self.commits = 0
        create_pending_table(con)
        self.compactor.load_pending(con)
        self._flusher.recover()
        self._flusher.start()
        self._thread = threading.Thread(target=self._run, name="heron-writer", daemon=True)
        self._thread.start()

    @property
    def quarantined_records(self) -> int:
        """Records set aside since start (see :mod:`heron.tsdb.quarantine`)."""
        return self._flusher.quarantined_records

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
        self._queue.put(WriteRequest(tenant, database, schema, batches, atomic, rows, future, samples, metrics))
        return future

    def call(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> Future[T]:
        """Run ``fn`` on the write connection between commits, after a full flush (DDL,
        retention): writes wait meanwhile, so ``fn`` must be short."""
        future: Future[T] = Future()
        self._queue.put(_Call(fn, future))
        return future

    def maintain(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> Future[T]:
        """Run ``fn`` on the applier thread between two flushes (a compaction or rollup step).

        Writes go on being acknowledged meanwhile; queries wait for it (they wait for the
        applier), so ``fn`` must be a bounded step. ``fn`` must not change the catalog.
        """
        future: Future[T] = Future()
        self._queue.put(Task(fn, future))
        return future

    def compact_next(self) -> Future[StepReport] | None:
        """Start the next due compaction step (see :mod:`heron.tsdb.compaction`); None if
        no window is due."""
        step = self.compactor.due()
        if step is None:
            return None
        future: Future[StepReport] = Future()

        def run(con: duckdb.DuckDBPyConnection) -> StepReport:
            report = self.compactor.run(con, step)
            task.reload_catalog = report.created_tables
            return report

        task = Task(run, future)
        self._queue.put(task)
        return future

    def expire(self, schema: str, *, ttl_seconds: int) -> Future[Expired]:
        """Delete rows of ``schema`` older than the TTL, and series left without samples."""
        return self.call(
            lambda con: expire(
                con,
                schema,
                ttl_seconds=ttl_seconds,
                registry=self._view.registries.get(schema),
                rollups=self.compactor.rollups.get(schema, ()),
            )
        )

    def drop_table(self, schema: str, name: str) -> Future[bool]:
        """Drop a table or metric of ``schema`` with everything it had; False if none."""

        def run(con: duckdb.DuckDBPyConnection) -> bool:
            dropped = drop_table(con, schema, name, registry=self._view.registries.get(schema))
            if dropped:
                self.compactor.forget_table(schema, name.lower())
            return dropped

        return self.call(run)

    def set_rollups(self, schema: str, rules: tuple[RollupRule, ...]) -> Future[int]:
        """Set a database's rollup tiers; every window holding rows waits for compaction,
        so the tiers cover what is stored already. Returns the windows marked."""

        def run(con: duckdb.DuckDBPyConnection) -> int:
            self.compactor.set_rollups(schema, rules)
            return self.compactor.mark_all(con, schema) if rules else 0

        return self.call(run)

    def drop_schema(self, schema: str) -> Future[None]:
        """Drop a database's schema; its compaction state goes with it."""

        def run(con: duckdb.DuckDBPyConnection) -> None:
            drop_schema(con, schema)
            self.compactor.forget_schema(schema)

        return self.call(run)

    def caught_up(self) -> bool:
        """True when every acknowledged write is in DuckDB already, so a reader need not
        wait for :meth:`sync` (a hop through the writer thread).

        Read without a lock from any thread: a write is in the pending backlog before its
        future resolves, the backlog moves to ``applying`` before ``pending`` is emptied,
        and ``applying`` is cleared only after DuckDB committed it (or after it is back in
        ``pending``), so a write acknowledged before this call is never missed.
        """
        return self._view.caught_up()

    @property
    def settled(self) -> bool:
        """Whether nothing acknowledged or queued waits for DuckDB (then :meth:`sync` has nothing to do)."""
        return self._queue.empty() and self.caught_up()

    @property
    def queued_rows(self) -> int:
        """Rows accepted into the queue and not yet logged (what the 429 limit counts)."""
        return self._pending_rows

    @property
    def catalog_version(self) -> int:
        """Changes so far to tables, columns and metrics (see :class:`~heron.tsdb.staging.StoreView`)."""
        return self._view.catalog_version

    def sync(self) -> Future[None]:
        """Resolve once everything acknowledged so far is in DuckDB (read-your-writes)."""
        future: Future[None] = Future()
        self._queue.put(_Call(lambda _con: None, future, reload_catalog=False))
        return future

    def health(self) -> dict[str, Any]:
        """The store's state for the health endpoint: quarantined records, a failing apply."""
        records, rows = self.quarantine.counts()
        return {
            "status": "degraded" if self._flusher.failure else "ok",
            "pending_rows": self._pending_rows + self._view.in_flight_rows(),
            "quarantined_records": records,
            "quarantined_rows": rows,
            "apply_failing_since_attempts": self._flusher.failures,
            "compaction": self.compactor.counters.snapshot(),
        }

    def table_names(self, schema: str) -> frozenset[str]:
        """Lower-case names of the committed tables of ``schema``.

        A snapshot the writer replaces after each commit that adds tables, so readers
        (the SQL sandbox) need not scan DuckDB's catalog on every query.
        """
        return self._view.table_names(schema)

    def close(self) -> None:
        """Finish what is queued, apply the log, checkpoint, and stop the threads."""
        self._queue.put(_STOP)
        self._thread.join()
        self._flusher.stop()
        self._wal.close()
        try:
            self._con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            log.warning("checkpoint at shutdown failed", extra={"error": str(exc)})

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
                if record.schema not in self._view.catalog:
                    log.warning("a quarantined record's database no longer exists", extra={"schema": record.schema})
                    continue
                seq = self._wal.append([record])
                self.quarantine.remove(entry)
                self._view.stage_logged(seq, record)
                done.append((entry.seq, record.schema, record.table, record.data.num_rows))
            self._view.pending_since = time.monotonic()

        self.call(run).result()
        self.sync().result()
        return done

    # -- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        flusher = self._flusher
        while True:
            try:
                item = self._queue.get(timeout=flusher.flush_wait())
            except queue.Empty:
                flusher.hand_off()
                continue
            if item is _STOP:
                self._stop()
                return
            if item is _WAKE:
                flusher.hand_off()
                continue
            if isinstance(item, _Call):
                self._run_call(item)
                continue
            if isinstance(item, Task):
                flusher.add_task(item)
                continue
            group = [item]
            rows = item.rows
            held: Any = None
            while rows < self._max_commit_rows:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(nxt, WriteRequest):
                    held = nxt
                    break
                group.append(nxt)
                rows += nxt.rows
            self._commit_group(group)
            flusher.hand_off()
            if held is _STOP:
                self._stop()
                return
            if isinstance(held, _Call):
                self._run_call(held)
            elif isinstance(held, Task):
                flusher.add_task(held)

    def _stop(self) -> None:
        """Apply what is logged, compact what waits (within the budget), refuse maintenance
        still queued."""
        if self._flusher.flush() and self._compact_at_close > 0:
            steps = self.compactor.run_all(self._con, budget_seconds=self._compact_at_close)
            if steps:
                log.info("compacted at shutdown", extra={"steps": steps})
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, (_Call, Task)):
                item.future.cancel()

    def _run_call(self, call: _Call) -> None:
        try:
            if not self._flusher.flush():
                raise StoreUnavailable(
                    f"acknowledged writes could not be applied to the store yet ({self._flusher.failure}); "
                    "they are kept in the write-ahead log and retried",
                    retry_after_seconds=max(1, int(self._flusher.retry_at - time.monotonic() + 1)),
                )
            call.future.set_result(call.fn(self._con))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
            call.future.set_exception(exc)
        finally:
            if call.reload_catalog:
                self._view.load_catalog(self._con)

    def _commit_group(self, group: list[WriteRequest]) -> None:
        plan = Plan()
        staged: list[tuple[WriteRequest, WriteResult]] = []
        for req in group:
            try:
                staged.append((req, self._view.stage(req, plan)))
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
            table = self._view.lookup(plan, schema, key)
            assert table is not None
            columns = self._view.columns_of(schema, key, plan)
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
        pending = self._view.pending
        if not pending.has_work():
            self._view.pending_since = time.monotonic()
        self._view.learn_metrics(plan)
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

    def _finish(self, req: WriteRequest, outcome: WriteResult | BaseException) -> None:
        with self._lock:
            self._pending_rows -= req.rows
        if isinstance(outcome, BaseException):
            req.future.set_exception(outcome)
        else:
            req.future.set_result(outcome)


def _defs_by_schema(plan: Plan) -> dict[str, list[ms.MetricDef]]:
    by_schema: dict[str, list[ms.MetricDef]] = {}
    for (schema, _), mdef in plan.metric_defs.items():
        by_schema.setdefault(schema, []).append(mdef)
    return by_schema
