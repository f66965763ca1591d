"""Running user SQL safely: one read statement, this database only, bounded in time and size.

Defence in depth, outermost first:

1. The DuckDB instance has external access off and its configuration locked
   (:func:`heron.tsdb.store.open_store`), so files, ATTACH, INSTALL and SET are impossible
   whatever the SQL says.
2. :func:`check_select` accepts exactly one SELECT statement and walks its syntax tree
   (``json_serialize_sql``): every table it names must be a table of the caller's database
   or a CTE of the query, unqualified; table functions come from a short list. This keeps
   a query from reading DuckDB's catalog views, which would show other tenants' tables.
3. The cursor's ``search_path`` is the caller's schema, so unqualified names resolve there
   (cursors are kept per schema between queries, see :class:`_CursorPool`).
4. A timer interrupts the query after the time limit; results stream in Arrow batches and
   stop at the row limit.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from heron.core.errors import QueryFailed, SqlRejected
from heron.tsdb.names import MACRO_SCHEMA, quote_ident
from heron.tsdb.store import list_tables

#: Table functions a query may call: they generate values and touch no storage.
ALLOWED_TABLE_FUNCTIONS = frozenset({"generate_series", "range", "unnest"})

#: Rows per Arrow batch pulled from DuckDB; bounds memory when results stream.
BATCH_ROWS = 8192


def split_statements(sql: str) -> list[duckdb.Statement]:
    """DuckDB's own statement splitter; a syntax error becomes a 422 naming it."""
    try:
        return list(duckdb.extract_statements(sql))
    except duckdb.Error as exc:
        raise QueryFailed(_clean(exc)) from exc


def check_select(cur: duckdb.DuckDBPyConnection, sql: str, tables: set[str]) -> None:
    """Reject anything but one SELECT over ``tables`` (lower-case names); see module docstring."""
    statements = split_statements(sql)
    if len(statements) != 1:
        raise SqlRejected(f"expected exactly one statement, got {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = statements[0].type.name
        raise SqlRejected(
            f"{kind} statements are not allowed; the SQL endpoint runs SELECT queries and "
            "CREATE/ALTER/DROP DATABASE, SHOW DATABASES, SHOW TABLES, DESCRIBE"
        )
    rows = cur.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()
    tree = orjson.loads(rows[0][0]) if rows else {"error": True}
    if tree.get("error"):
        raise SqlRejected(f"the query could not be analysed: {tree.get('error_message', 'unsupported syntax')}")
    _check_node(tree, tables)


def _check_node(node: Any, allowed: set[str]) -> None:
    if isinstance(node, list):
        for value in node:
            _check_node(value, allowed)
        return
    if not isinstance(node, dict):
        return
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict) and cte_map.get("map"):
        # A CTE is visible to the CTEs after it and to the query below it; inside its own
        # body only when it is recursive. Anything else named like it is the catalog's.
        inner = set(allowed)
        for entry in cte_map["map"]:
            name = str(entry.get("key", "")).lower()
            body = entry.get("value")
            recursive = isinstance(body, dict) and (body.get("query_node") or {}).get("type") == "RECURSIVE_CTE_NODE"
            _check_node(body, inner | {name} if recursive else inner)
            inner.add(name)
        for key, value in node.items():
            if key != "cte_map":
                _check_node(value, inner)
        return
    kind = node.get("type")
    if kind == "BASE_TABLE":
        name = str(node.get("table_name", ""))
        if node.get("schema_name") or node.get("catalog_name"):
            raise SqlRejected(f"table '{name}' must not be qualified: a query reads only its own database")
        if name.lower() not in allowed:
            raise SqlRejected(f"table '{name}' does not exist in this database")
    elif kind == "TABLE_FUNCTION":
        fn = node.get("function", {})
        name = str(fn.get("function_name", "")).lower()
        if name not in ALLOWED_TABLE_FUNCTIONS or fn.get("schema") or fn.get("catalog"):
            raise SqlRejected(f"table function '{name}' is not allowed")
    elif node.get("class") == "FUNCTION" and (
        node.get("schema") not in ("", None, MACRO_SCHEMA) or node.get("catalog")
    ):
        raise SqlRejected(f"function '{node.get('function_name')}' must not be qualified")
    for value in node.values():
        _check_node(value, allowed)


class _Watchdog:
    """One thread that fires deadlines, instead of a timer thread per query."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, delay_seconds: float, callback: Callable[[], None]) -> _Watch:
        handle = _Watch(callback)
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay_seconds, next(self._seq), handle))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="heron-query-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()
        return handle

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, _, handle = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            handle.fire()


class _Watch:
    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback: Callable[[], None] | None = callback

    def cancel(self) -> None:
        self._callback = None

    def fire(self) -> None:
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()


_WATCHDOG = _Watchdog()


def call_after(delay_seconds: float, callback: Callable[[], None]) -> _Watch:
    """Call ``callback`` after ``delay_seconds`` unless the returned handle is cancelled first
    (one shared thread fires every deadline: PromQL interrupts its cursors with it too)."""
    return _WATCHDOG.watch(delay_seconds, callback)


#: SQL texts already checked against a set of tables; repeated dashboard queries skip the
#: syntax-tree walk. Keyed by the table-name snapshot, so a new table invalidates nothing
#: wrongly (a different snapshot is a different key).
_CHECKED: OrderedDict[tuple[str, frozenset[str]], None] = OrderedDict()
_CHECKED_MAX = 1024
_CHECKED_LOCK = threading.Lock()


def _check_cached(cur: duckdb.DuckDBPyConnection, sql: str, tables: frozenset[str]) -> None:
    key = (sql, tables)
    with _CHECKED_LOCK:
        if key in _CHECKED:
            _CHECKED.move_to_end(key)
            return
    check_select(cur, sql, set(tables))
    with _CHECKED_LOCK:
        _CHECKED[key] = None
        if len(_CHECKED) > _CHECKED_MAX:
            _CHECKED.popitem(last=False)


class _CursorPool:
    """Idle read cursors by schema, their ``search_path`` already set.

    Opening a cursor and setting its search path cost about a third of a small query's
    time in DuckDB. A cursor goes back only after its query ran to the end, so an idle one
    holds no result and no transaction; one that failed or was interrupted is closed.
    """

    def __init__(self, *, per_schema: int = 4, schemas: int = 64) -> None:
        self._idle: OrderedDict[str, list[duckdb.DuckDBPyConnection]] = OrderedDict()
        self._per_schema = per_schema
        self._schemas = schemas
        self._lock = threading.Lock()

    def take(self, con: duckdb.DuckDBPyConnection, schema: str) -> duckdb.DuckDBPyConnection:
        with self._lock:
            idle = self._idle.get(schema)
            if idle:
                return idle.pop()
        cur = con.cursor()
        cur.execute(f"SET search_path = '{quote_ident(schema)},{MACRO_SCHEMA}'")
        return cur

    def give_back(self, schema: str, cur: duckdb.DuckDBPyConnection) -> None:
        stale: list[duckdb.DuckDBPyConnection] = []
        with self._lock:
            idle = self._idle.setdefault(schema, [])
            self._idle.move_to_end(schema)
            if len(idle) < self._per_schema:
                idle.append(cur)
            else:
                stale.append(cur)
            if len(self._idle) > self._schemas:
                stale += self._idle.popitem(last=False)[1]
        for cursor in stale:
            with contextlib.suppress(duckdb.Error):
                cursor.close()


_CURSORS = _CursorPool()


class QueryStream:
    """A running query: iterate Arrow batches; ``close()`` always, even after an error."""

    def __init__(
        self,
        cur: duckdb.DuckDBPyConnection,
        reader: pa.RecordBatchReader,
        *,
        timer: _Watch,
        max_rows: int,
        interrupted: threading.Event,
        timeout_seconds: float,
        schema: str,
    ) -> None:
        self._cur = cur
        self._reader = reader
        self._timer = timer
        self._max_rows = max_rows
        self._interrupted = interrupted
        self._timeout_seconds = timeout_seconds
        self._db_schema = schema
        self._finished = False
        self.schema: pa.Schema = reader.schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        rows = 0
        while True:
            try:
                batch = self._reader.read_next_batch()
            except StopIteration:
                self._finished = True
                return
            except (duckdb.Error, pa.ArrowException, OSError) as exc:
                # Errors raised while DuckDB streams reach Python through Arrow's C stream
                # interface, which reports them as OSError with DuckDB's message.
                raise self._failure(exc) from exc
            rows += batch.num_rows
            if rows > self._max_rows:
                raise QueryFailed(f"the result has more than {self._max_rows} rows; add a LIMIT or aggregate")
            yield batch

    def _failure(self, exc: Exception) -> QueryFailed:
        if self._interrupted.is_set():
            return QueryFailed(f"the query ran longer than {self._timeout_seconds:g} s and was stopped")
        return QueryFailed(_clean(exc))

    def close(self) -> None:
        self._timer.cancel()
        if self._finished and not self._interrupted.is_set():
            _CURSORS.give_back(self._db_schema, self._cur)
            return
        with contextlib.suppress(duckdb.Error):
            self._cur.close()


def run_select(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    sql: str,
    *,
    timeout_seconds: float,
    max_rows: int,
    tables: frozenset[str] | None = None,
) -> QueryStream:
    """Check and start ``sql`` in ``schema``; the caller iterates and closes the stream.

    ``tables`` (lower-case names) saves a catalog scan when the caller already knows them.
    """
    cur = _CURSORS.take(con, schema)
    interrupted = threading.Event()

    def _interrupt() -> None:
        interrupted.set()
        cur.interrupt()

    timer = _WATCHDOG.watch(timeout_seconds, _interrupt)
    try:
        if tables is None:
            check_select(cur, sql, {t.lower() for t in list_tables(cur, schema)})
        else:
            _check_cached(cur, sql, tables)
        relation = cur.sql(sql)
        if relation is None:
            raise SqlRejected("the statement returns no rows")
        reader = relation.to_arrow_reader(BATCH_ROWS)
    except (SqlRejected, QueryFailed):
        timer.cancel()
        cur.close()
        raise
    except duckdb.Error as exc:
        timer.cancel()
        cur.close()
        if interrupted.is_set():
            raise QueryFailed(f"the query ran longer than {timeout_seconds:g} s and was stopped") from exc
        raise QueryFailed(_clean(exc)) from exc
    return QueryStream(
        cur,
        reader,
        timer=timer,
        max_rows=max_rows,
        interrupted=interrupted,
        timeout_seconds=timeout_seconds,
        schema=schema,
    )


def _clean(exc: Exception) -> str:
    """DuckDB's message without the internal schema prefix and trailing caret lines."""
    text = str(exc).strip()
    return text.split("\n\nLINE ")[0].strip()
