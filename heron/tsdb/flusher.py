"""The applier thread: the write-ahead log goes into DuckDB here, and so does maintenance.

The writer thread acknowledges writes once they are in the log (:mod:`heron.tsdb.writer`)
and hands the accumulated backlog to this module's thread when it is due; while the
applier works, the writer goes on logging. Background maintenance (compaction, rollups,
retention: :mod:`heron.tsdb.maintenance`) runs on the same thread, one bounded step at a
time, between two backlogs, so it never races an apply on the one write connection and
never holds up acknowledgements.

Exactly one of the two threads uses the write connection at any time: the writer thread
touches it (DDL, a full flush before a query, catalog reloads) only after :meth:`Flusher.collect`
has waited for the applier to finish.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import duckdb

from heron.core import telemetry
from heron.tsdb.applier import BeforeCommit, Outcome, apply_or_isolate, describe_error, rollback
from heron.tsdb.backlog import Backlog
from heron.tsdb.quarantine import Quarantine
from heron.tsdb.staging import StoreView
from heron.tsdb.store import read_applied_seq
from heron.tsdb.wal import WriteAheadLog

log = logging.getLogger(__name__)

#: Longest wait between attempts to apply the log after a failure.
MAX_BACKOFF_SECONDS = 30.0
#: A failure that goes on is logged again this often (not at every attempt).
FAILURE_LOG_INTERVAL_SECONDS = 60.0


@dataclass(slots=True)
class Task:
    """A maintenance step to run on the applier thread, and who waits for it.

    ``reload_catalog`` may be set by the step itself when it created tables, so the
    writer reads the catalog again once the step is done.
    """

    fn: Callable[[duckdb.DuckDBPyConnection], Any]
    future: Future[Any]
    reload_catalog: bool = False


class Flusher:
    """Hands backlogs and maintenance steps to the applier thread; owned by the writer thread."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        view: StoreView,
        wal: WriteAheadLog,
        quarantine: Quarantine,
        *,
        flush_rows: int,
        flush_interval_seconds: float,
        wake: Callable[[], None],
        applied: Callable[[Backlog], None] | None = None,
        before_commit: BeforeCommit | None = None,
    ) -> None:
        self._con = con
        self._view = view
        self._wal = wal
        self._quarantine = quarantine
        self._flush_rows = flush_rows
        self._flush_interval = flush_interval_seconds
        self._wake = wake
        self._on_applied = applied
        self._before_commit = before_commit
        #: Records set aside since start (see :mod:`heron.tsdb.quarantine`).
        self.quarantined_records = 0
        # What the applier does now: a backlog (with the log's last sequence number) or a task.
        self._job: Backlog | Task | None = None
        self._job_seq = 0
        self._result: Outcome | BaseException | None = None
        self._done = threading.Event()
        self._jobs: queue.Queue[tuple[Backlog, int] | Task | None] = queue.Queue()
        self._tasks: list[Task] = []
        # After a failure that is not the rows' fault (a full disk), retry with backoff.
        self.failure: str | None = None
        self.failures = 0
        self.retry_at = 0.0
        self._failure_logged_at = 0.0
        self._thread = threading.Thread(target=self._loop, name="heron-applier", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (after :meth:`flush`); tasks never started are cancelled."""
        for task in self._tasks:
            task.future.cancel()
        self._tasks.clear()
        self._jobs.put(None)
        self._thread.join()

    # -- called by the writer thread -------------------------------------------------------

    def flush_wait(self) -> float | None:
        """Seconds until the pending rows are due in DuckDB; None when nothing waits."""
        if not self._view.pending.has_work():
            return 0.0 if self._tasks and self._job is None else None
        return max(0.0, self._view.pending_since + self._flush_interval - time.monotonic())

    def add_task(self, task: Task) -> None:
        """Run ``task`` on the applier thread when it is free and no backlog is due."""
        self._tasks.append(task)
        self.hand_off()

    def hand_off(self) -> None:
        """Give the backlog to the applier when it is due and the applier is free; else a
        waiting maintenance step, if the applier is free and no backlog is due.

        Due: ``flush_rows`` rows wait, or the oldest has waited ``flush_interval``, and no
        failed apply asks to wait longer. While the applier works the writer goes on logging
        and acknowledging; only when four times ``flush_rows`` pile up meanwhile does it wait
        (and the queue fills: 429).
        """
        self.collect(wait=False)
        backlog = self._view.pending
        now = time.monotonic()
        due = backlog.has_work() and (
            backlog.rows >= self._flush_rows or now >= self._view.pending_since + self._flush_interval
        )
        if not due or now < self.retry_at:
            if self._job is None and self._tasks and not (backlog.has_work() and self.failure is not None):
                self._start(self._tasks.pop(0))
            return
        if self._job is not None:
            if backlog.rows < 4 * self._flush_rows:
                return
            self.collect(wait=True)
            if self._job is not None:
                return
        # ``applying`` is set before ``pending`` is emptied (see Writer.caught_up).
        self._view.applying, self._job_seq = backlog, self._wal.last_seq
        self._view.pending = Backlog()
        self._wal.rotate()
        self._start(backlog)

    def collect(self, *, wait: bool) -> None:
        """Take the applier's result: merge what it applied, or put it back to retry."""
        job = self._job
        if job is None or not self._done.wait(None if wait else 0):
            return
        self._done.clear()
        self._job = None
        result = self._result
        if isinstance(job, Task):
            if job.reload_catalog:
                self._view.load_catalog(self._con)
            return  # the task's future has its answer already
        if isinstance(result, Outcome):
            self._applied(result)
            self._view.applying = None
            try:
                self._wal.drop_through(self._job_seq)
            except OSError as exc:
                # Harmless: DuckDB holds the applied sequence number, so replay skips these.
                log.warning("could not remove applied write-ahead log segments", extra={"error": str(exc)})
            return
        assert isinstance(result, BaseException)
        self._failed(result)
        self._view.load_catalog(self._con)
        # Back in front of what was logged since, in log order; retried after a backoff.
        # ``applying`` is cleared only once ``pending`` holds the backlog again, so a reader
        # asking whether anything waits (Writer.caught_up) never finds neither.
        job.extend(self._view.pending)
        self._view.pending = job
        self._view.applying = None

    def flush(self) -> bool:
        """Apply every acknowledged record to DuckDB now, in the writer thread (after the
        applier's work in progress); False if that failed and is being retried."""
        self.collect(wait=True)
        backlog = self._view.pending
        if not backlog.has_work():
            return True
        if self.failure is not None and time.monotonic() < self.retry_at:
            return False
        seq = self._wal.last_seq
        try:
            outcome = self._apply(backlog, seq)
        except Exception as exc:  # noqa: BLE001 - kept in the log and retried
            rollback(self._con)
            self._view.load_catalog(self._con)
            self._failed(exc)
            return False
        self._view.pending = Backlog()
        self._applied(outcome)
        try:
            self._wal.reset()
        except OSError as exc:
            # Harmless: DuckDB holds the applied sequence number, so replay skips these.
            log.warning("could not remove applied write-ahead log segments", extra={"error": str(exc)})
        return True

    def recover(self) -> None:
        """Apply what the log holds beyond DuckDB's applied sequence number (after a crash).

        Never fatal: a record DuckDB refuses goes to the quarantine, and a store that cannot
        apply anything now (a full disk) keeps the records in the log and retries.
        """
        applied = read_applied_seq(self._con)
        replayed = 0
        for seq, record in self._wal.replay(after_seq=applied):
            self._view.stage_logged(seq, record)
            replayed += record.data.num_rows
        if self._wal.last_seq < applied:
            self._wal.last_seq = applied
        if not replayed:
            self._wal.reset()
            return
        log.info("replaying the write-ahead log", extra={"rows": replayed})
        if not self.flush():
            log.error(
                "the write-ahead log could not be applied at start; Heron serves and retries",
                extra={"error": self.failure, "rows": replayed},
            )
            self._view.pending_since = time.monotonic()

    # -- internals -------------------------------------------------------------------------

    def _start(self, job: Backlog | Task) -> None:
        self._job = job
        self._done.clear()
        self._jobs.put(job if isinstance(job, Task) else (job, self._job_seq))

    def _loop(self) -> None:
        """The applier thread: one backlog or task at a time, on the write connection."""
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if isinstance(job, Task):
                self._run_task(job)
            else:
                backlog, seq = job
                try:
                    self._result = self._apply(backlog, seq)
                except Exception as exc:  # noqa: BLE001 - reported to the writer, which retries
                    rollback(self._con)
                    self._result = exc
            self._done.set()
            self._wake()

    def _run_task(self, task: Task) -> None:
        if not task.future.set_running_or_notify_cancel():
            return
        try:
            task.future.set_result(task.fn(self._con))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the step
            rollback(self._con)
            task.future.set_exception(exc)

    def _apply(self, backlog: Backlog, seq: int) -> Outcome:
        started = time.perf_counter()
        outcome = apply_or_isolate(
            self._con,
            backlog,
            catalog=self._view.catalog,
            registries=self._view.registries,
            applied_seq=seq,
            quarantine=self._quarantine,
            before_commit=self._before_commit,
        )
        telemetry.FLUSH_SECONDS.observe(time.perf_counter() - started)
        for (_schema, key), logged in outcome.applied.records.items():
            telemetry.ROWS_APPLIED.labels(table=key).inc(sum(record.data.num_rows for _, record in logged))
        return outcome

    def _applied(self, outcome: Outcome) -> None:
        """DuckDB holds ``outcome.applied``: learn its tables; report what was set aside."""
        self._view.merge(outcome.applied)
        if self._on_applied is not None:
            self._on_applied(outcome.applied)
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
            self._view.load_catalog(self._con)  # DDL of the refused units never happened
        if self.failure is not None:
            log.info("applying the write-ahead log works again", extra={"after_attempts": self.failures})
        self.failure, self.failures, self.retry_at = None, 0, 0.0

    def _failed(self, exc: BaseException) -> None:
        """An apply failed for a reason that is not the rows' (or not only theirs): back off."""
        reason = describe_error(exc)
        telemetry.APPLY_FAILURES.inc()
        self.failures += 1
        self.retry_at = time.monotonic() + min(MAX_BACKOFF_SECONDS, self._flush_interval * 2 ** (self.failures - 1))
        now = time.monotonic()
        if reason != self.failure or now - self._failure_logged_at >= FAILURE_LOG_INTERVAL_SECONDS:
            log.error(
                "applying the write-ahead log failed; acknowledged writes stay in the log and are retried",
                extra={"error": reason, "attempts": self.failures},
            )
            self._failure_logged_at = now
        self.failure = reason
