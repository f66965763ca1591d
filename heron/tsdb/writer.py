"""The single writer: one thread owns DuckDB's write connection and commits in groups.

Requests put their batches on a bounded queue and wait on a future. The writer takes
everything that is waiting (up to ``max_commit_rows``), checks types against the tables,
adds the columns new tags and fields need, appends one Arrow table per DuckDB table, and
commits once; only then are the futures resolved. A 2xx therefore means the points are in
DuckDB's write-ahead log, and many small requests share one commit (group commit).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from heron.core.batch import Batch
from heron.core.errors import DatabaseNotFound, HeronError, Overloaded, TypeConflict
from heron.tsdb.names import qualified, quote_ident
from heron.tsdb.store import describe_table, list_schemas, list_tables

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


@dataclass(slots=True)
class _WriteRequest:
    tenant: str
    database: str
    schema: str
    batches: list[Batch]
    atomic: bool
    rows: int
    future: Future[WriteResult]


@dataclass(slots=True)
class _Call:
    fn: Callable[[duckdb.DuckDBPyConnection], Any]
    future: Future[Any]


@dataclass(slots=True)
class _Plan:
    """Column additions and Arrow tables one commit will apply."""

    new_tables: dict[tuple[str, str], _Table] = field(default_factory=dict)
    new_columns: dict[tuple[str, str], list[_Column]] = field(default_factory=dict)
    appends: dict[tuple[str, str], list[pa.Table]] = field(default_factory=dict)


_STOP = object()


class Writer:
    """Owns the write connection; see the module docstring."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        max_queue_rows: int = 2_000_000,
        max_commit_rows: int = 200_000,
    ) -> None:
        self._con = con
        self._max_queue_rows = max_queue_rows
        self._max_commit_rows = max_commit_rows
        self._queue: queue.Queue[Any] = queue.Queue()
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._catalog: dict[str, dict[str, _Table]] = {}
        self._table_names: dict[str, frozenset[str]] = {}
        self._load_catalog()
        self.rows_written = 0
        self.commits = 0
        self._thread = threading.Thread(target=self._run, name="heron-writer", daemon=True)
        self._thread.start()

    # -- public API, called from request threads ------------------------------------------

    def submit(
        self, *, tenant: str, database: str, schema: str, batches: list[Batch], atomic: bool
    ) -> Future[WriteResult]:
        """Queue batches for the next commit; raises ``Overloaded`` when the queue is full."""
        rows = sum(len(b) for b in batches)
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
        self._queue.put(_WriteRequest(tenant, database, schema, batches, atomic, rows, future))
        return future

    def call(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> Future[T]:
        """Run ``fn`` on the write connection between commits (DDL, retention)."""
        future: Future[T] = Future()
        self._queue.put(_Call(fn, future))
        return future

    @property
    def pending_rows(self) -> int:
        return self._pending_rows

    def table_names(self, schema: str) -> frozenset[str]:
        """Lower-case names of the committed tables of ``schema``.

        A snapshot the writer replaces after each commit that adds tables, so readers
        (the SQL sandbox) need not scan DuckDB's catalog on every query.
        """
        return self._table_names.get(schema, frozenset())

    def close(self) -> None:
        """Finish what is queued, checkpoint, and stop the thread."""
        self._queue.put(_STOP)
        self._thread.join()
        try:
            self._con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            log.warning("checkpoint at shutdown failed", extra={"error": str(exc)})

    # -- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
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
            if held is _STOP:
                return
            if held is not None:
                self._run_call(held)

    def _run_call(self, call: _Call) -> None:
        try:
            call.future.set_result(call.fn(self._con))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
            call.future.set_exception(exc)
        finally:
            self._load_catalog()

    def _commit_group(self, group: list[_WriteRequest]) -> None:
        plan = _Plan()
        staged: list[tuple[_WriteRequest, WriteResult]] = []
        for req in group:
            try:
                staged.append((req, self._stage(req, plan)))
            except HeronError as exc:
                self._finish(req, exc)
        if not staged:
            return
        try:
            self._apply(plan)
        except duckdb.Error as exc:
            self._rollback()
            if len(staged) > 1:
                log.warning("group commit failed; retrying requests one by one", extra={"error": str(exc)})
                for req, _ in staged:
                    self._commit_group([req])
                return
            req = staged[0][0]
            log.error("write failed", extra={"error": str(exc), "tenant": req.tenant, "database": req.database})
            self._finish(req, HeronError(f"the write could not be committed: {exc}"))
            return
        self._merge(plan)
        self.commits += 1
        for req, result in staged:
            self.rows_written += result.written
            self._finish(req, result)

    def _finish(self, req: _WriteRequest, outcome: WriteResult | BaseException) -> None:
        with self._lock:
            self._pending_rows -= req.rows
        if isinstance(outcome, BaseException):
            req.future.set_exception(outcome)
        else:
            req.future.set_result(outcome)

    # -- staging: types, new columns, Arrow tables ----------------------------------------

    def _lookup(self, plan: _Plan, schema: str, table: str) -> _Table | None:
        key = (schema, table.lower())
        return self._catalog.get(schema, {}).get(table.lower()) or plan.new_tables.get(key)

    def _stage(self, req: _WriteRequest, plan: _Plan) -> WriteResult:
        if req.schema not in self._catalog:
            raise DatabaseNotFound(req.tenant, req.database)
        local = _Plan()
        conflicts: list[TypeConflict] = []
        written = dropped = 0
        for batch in req.batches:
            existing = self._lookup(plan, req.schema, batch.table) or self._lookup(local, req.schema, batch.table)
            table_name = existing.name if existing else batch.table
            known = dict(existing.columns) if existing else {}
            for col in plan.new_columns.get((req.schema, table_name.lower()), []):
                known.setdefault(col.name.lower(), col)
            for col in local.new_columns.get((req.schema, table_name.lower()), []):
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
            table = pa.table({"time": batch.time.cast(pa.timestamp("ns")), **arrays})
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

    def _apply(self, plan: _Plan) -> None:
        con = self._con
        con.execute("BEGIN TRANSACTION")
        for (schema, _), tbl in plan.new_tables.items():
            con.execute(f"CREATE TABLE IF NOT EXISTS {qualified(schema, tbl.name)} (time TIMESTAMP_NS NOT NULL)")
        for (schema, key), cols in plan.new_columns.items():
            tbl = self._catalog.get(schema, {}).get(key) or plan.new_tables[(schema, key)]
            seen: set[str] = set()
            for col in cols:
                if col.name.lower() in seen:
                    continue
                seen.add(col.name.lower())
                target = qualified(schema, tbl.name)
                con.execute(f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {quote_ident(col.name)} {col.sql_type}")
                if col.kind == "tag":
                    con.execute(f"COMMENT ON COLUMN {target}.{quote_ident(col.name)} IS 'tag'")
        for (schema, key), tables in plan.appends.items():
            tbl = self._catalog.get(schema, {}).get(key) or plan.new_tables[(schema, key)]
            data = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
            con.register("__heron_batch", data)
            try:
                con.execute(f"INSERT INTO {qualified(schema, tbl.name)} BY NAME SELECT * FROM __heron_batch")
            finally:
                con.unregister("__heron_batch")
        con.execute("COMMIT")

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
        if plan.new_tables:
            self._publish_table_names()

    def _publish_table_names(self) -> None:
        self._table_names = {schema: frozenset(tables) for schema, tables in self._catalog.items()}

    def _load_catalog(self) -> None:
        started = time.perf_counter()
        catalog: dict[str, dict[str, _Table]] = {}
        for schema in list_schemas(self._con):
            tables = catalog.setdefault(schema, {})
            for name in list_tables(self._con, schema):
                tbl = _Table(name)
                for info in describe_table(self._con, schema, name):
                    if info.kind != "time":
                        tbl.columns[info.name.lower()] = _Column(info.name, info.sql_type, info.kind)
                tables[name.lower()] = tbl
        self._catalog = catalog
        self._publish_table_names()
        log.debug("catalog loaded", extra={"seconds": round(time.perf_counter() - started, 4)})


def _describe(kind: str, sql_type: str) -> str:
    if kind == "tag":
        return "a tag"
    return f"{TYPE_WORDS.get(sql_type, sql_type.lower())} field"


def _first_line(batch: Batch, mask: pa.Array) -> int:
    if batch.lines is None:
        return 0
    hit = batch.lines.filter(mask)
    return int(hit[0].as_py()) if len(hit) else 0
