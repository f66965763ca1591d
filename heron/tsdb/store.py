"""The DuckDB file: opening it, locking it down, and what it holds.

One DuckDB instance per process. The writer thread owns its main connection; readers get
cursors (separate connections on the same instance, so reads see committed data without
blocking writes). External access is switched off and the configuration locked right after
opening, so no SQL that reaches DuckDB can read or write files, attach databases, install
extensions or change settings, whatever connection it runs on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import orjson

from heron.tsdb.names import INTERNAL_PREFIX, MACRO_SCHEMA, quote_ident

log = logging.getLogger(__name__)

#: CnosDB's time-series functions, as DuckDB macros. ``time_window`` returns the window's
#: start (CnosDB returns a start/end struct; the start is what GROUP BY needs).
_MACROS = (
    # DuckDB's now() is TIMESTAMP WITH TIME ZONE, which does not compare with the
    # TIMESTAMP_NS time column; CnosDB's now() is a plain UTC timestamp, so is Heron's.
    "CREATE OR REPLACE MACRO {s}.now() AS timezone('UTC', get_current_timestamp())",
    "CREATE OR REPLACE MACRO {s}.time_window(t, w) AS time_bucket(CAST(w AS INTERVAL), t)",
    "CREATE OR REPLACE MACRO {s}.date_bin(stride, t, origin := TIMESTAMP '1970-01-01 00:00:00')"
    " AS time_bucket(CAST(stride AS INTERVAL), t, origin)",
    "CREATE OR REPLACE MACRO {s}.first(t, v) AS arg_min(v, t)",
    "CREATE OR REPLACE MACRO {s}.last(t, v) AS arg_max(v, t)",
)


#: Where the writer records the last write-ahead-log record DuckDB holds, in the same
#: transaction as the rows (see :mod:`heron.tsdb.wal`). Not visible to user SQL.
_WAL_STATE = "heron_wal_state"


def read_applied_seq(con: duckdb.DuckDBPyConnection) -> int:
    rows = con.execute(f"SELECT applied_seq FROM {MACRO_SCHEMA}.{_WAL_STATE} WHERE id = 1").fetchall()
    return int(rows[0][0]) if rows else 0


def write_applied_seq(con: duckdb.DuckDBPyConnection, seq: int) -> None:
    con.execute(f"INSERT OR REPLACE INTO {MACRO_SCHEMA}.{_WAL_STATE} VALUES (1, ?)", [seq])


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    name: str
    sql_type: str
    kind: str  # "time", "tag" or "field"


def open_store(
    path: Path, *, memory_limit: str = "", threads: int = 0, checkpoint_wal_size: str = "128MB"
) -> duckdb.DuckDBPyConnection:
    """Open (or create) the TSDB file, install the macros, then lock the instance down.

    DuckDB checkpoints when its WAL reaches ``checkpoint_wal_size``. Its default (16 MB)
    rewrites the last, partly filled row group every few commits under steady ingest;
    128 MB measured about 1.4x the ingest rate here, for a longer WAL replay after a crash.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "checkpoint_threshold": checkpoint_wal_size,
    }
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    con = duckdb.connect(str(path), config=config)
    for macro in _MACROS:
        con.execute(macro.format(s=MACRO_SCHEMA))
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {MACRO_SCHEMA}.{_WAL_STATE} (id INTEGER PRIMARY KEY, applied_seq BIGINT NOT NULL)"
    )
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def list_schemas(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() AND NOT internal"
    ).fetchall()
    return {r[0] for r in rows} - {MACRO_SCHEMA}


def list_tables(con: duckdb.DuckDBPyConnection, schema: str, *, internal: bool = True) -> list[str]:
    """Tables and metric views of ``schema``, by name; ``internal=False`` leaves out the
    metric store's own tables (``_heron_*``), as ``SHOW TABLES`` does."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ?"
        " UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = current_database()"
        " AND schema_name = ? AND NOT internal ORDER BY 1",
        [schema, schema],
    ).fetchall()
    return [r[0] for r in rows if internal or not r[0].startswith(INTERNAL_PREFIX)]


def list_views(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(schema, name) of every metric view (see :mod:`heron.tsdb.metrics`)."""
    rows = con.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = current_database() AND NOT internal"
    ).fetchall()
    return {(r[0], r[1]) for r in rows}


def timed_tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """Base tables of ``schema`` that have a ``time`` column: where rows expire."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = ?"
        " AND column_name = 'time' AND table_name IN (SELECT table_name FROM duckdb_tables()"
        " WHERE database_name = current_database() AND schema_name = ?) ORDER BY 1",
        [schema, schema],
    ).fetchall()
    return [r[0] for r in rows]


def describe_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[ColumnInfo]:
    """Columns in order, each marked time, tag or field (see :func:`describe_schemas`)."""
    return describe_schemas(con, schema=schema, table=table).get(schema, {}).get(table, [])


def describe_schemas(
    con: duckdb.DuckDBPyConnection, *, schema: str | None = None, table: str | None = None
) -> dict[str, dict[str, list[ColumnInfo]]]:
    """Every table's (and metric view's) columns, in two catalog queries whatever the number of tables.

    Which columns are tags is kept in the table's comment as ``{"tags": [...]}``: one
    statement per table when tags are added, where a comment per column would cost one
    statement per column.
    """
    where = "database_name = current_database() AND schema_name <> ?"
    params: list[str] = [MACRO_SCHEMA]
    if schema is not None:
        where += " AND schema_name = ?"
        params.append(schema)
    if table is not None:
        where += " AND table_name = ?"
        params.append(table)
    tags: dict[tuple[str, str], set[str]] = {}
    view_where = where.replace("table_name", "view_name") + " AND NOT internal"
    for s, t, comment in con.execute(
        f"SELECT schema_name, table_name, comment FROM duckdb_tables() WHERE {where}"
        f" UNION ALL SELECT schema_name, view_name, comment FROM duckdb_views() WHERE {view_where}",
        params + params,
    ).fetchall():
        try:
            tags[(s, t)] = set(orjson.loads(comment or "{}").get("tags", []))
        except (orjson.JSONDecodeError, AttributeError):
            tags[(s, t)] = set()
    out: dict[str, dict[str, list[ColumnInfo]]] = {}
    for s, t, name, sql_type in con.execute(
        f"SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() WHERE {where}"
        " ORDER BY schema_name, table_name, column_index",
        params,
    ).fetchall():
        if (s, t) not in tags:
            continue  # a system view
        kind = "time" if name == "time" else ("tag" if name in tags[(s, t)] else "field")
        out.setdefault(s, {}).setdefault(t, []).append(ColumnInfo(name=name, sql_type=sql_type, kind=kind))
    return out


def tag_comment(tags: list[str]) -> str:
    """The table comment that records which columns are tags."""
    return orjson.dumps({"tags": sorted(tags)}).decode()


def create_schema(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")


def drop_schema(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    con.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
