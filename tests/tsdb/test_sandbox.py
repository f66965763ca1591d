"""The read sandbox: every escape is refused, ordinary time-series SQL works."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from heron.core.errors import QueryFailed, SqlRejected
from heron.tsdb.sandbox import run_select
from heron.tsdb.store import create_schema, open_store

MINE = "acme/metrics"
OTHER = "other/secrets"


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    c = open_store(Path(tmp_path_factory.mktemp("sandbox")) / "tsdb.duckdb")
    for schema in (MINE, OTHER):
        create_schema(c, schema)
        c.execute(f'CREATE TABLE "{schema}".cpu (time TIMESTAMP_NS, host VARCHAR, v DOUBLE)')
    c.execute(
        f"""INSERT INTO "{MINE}".cpu VALUES
        ('2024-01-01 00:00:01', 'a', 1), ('2024-01-01 00:03:00', 'a', 3), ('2024-01-01 00:07:00', 'a', 2)"""
    )
    c.execute(f"""INSERT INTO "{OTHER}".cpu VALUES ('2024-01-01', 'secret-host', 42)""")
    yield c
    c.close()


def _run(con: duckdb.DuckDBPyConnection, sql: str, *, timeout: float = 10, max_rows: int = 1000) -> pa.Table:
    stream = run_select(con, MINE, sql, timeout_seconds=timeout, max_rows=max_rows)
    try:
        return pa.Table.from_batches(list(stream), schema=stream.schema)
    finally:
        stream.close()


ESCAPES = [
    # files
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM read_text('/etc/passwd')",
    "COPY (SELECT 1) TO '/tmp/heron-escape.csv'",
    "EXPORT DATABASE '/tmp/heron-escape'",
    # other databases and DuckDB itself
    "ATTACH '/tmp/heron-escape.duckdb' AS x",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "PRAGMA enable_profiling",
    "CALL duckdb_settings()",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM duckdb_tables",
    "SELECT * FROM sqlite_master",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM pg_catalog.pg_tables",
    'SELECT * FROM "other/secrets".cpu',
    "SELECT * FROM memory.main.cpu",
    "WITH sqlite_master AS (SELECT * FROM sqlite_master) SELECT * FROM sqlite_master",
    "SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x), duckdb_tables",
    "SELECT * FROM query('SELECT * FROM \"other/secrets\".cpu')",
    # writes and more than one statement
    "DELETE FROM cpu",
    "INSERT INTO cpu VALUES (now(), 'x', 1)",
    "DROP TABLE cpu",
    "CREATE TABLE t AS SELECT 1",
    "SELECT 1; SELECT 2",
    "SELECT 1; DROP TABLE cpu",
]


@pytest.mark.parametrize("sql", ESCAPES)
def test_every_escape_is_refused(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    with pytest.raises((SqlRejected, QueryFailed)):
        _run(con, sql)
    assert con.execute(f'SELECT count(*) FROM "{MINE}".cpu').fetchone() == (3,)


def test_time_series_functions_work(con: duckdb.DuckDBPyConnection) -> None:
    t = _run(con, "SELECT time_window(time, '5m') AS w, count(*) AS n FROM cpu GROUP BY w ORDER BY w")
    assert t.column("n").to_pylist() == [2, 1]
    t = _run(con, "SELECT date_bin(INTERVAL '5 minutes', time) AS w, max(v) AS m FROM cpu GROUP BY w ORDER BY w")
    assert t.column("m").to_pylist() == [3.0, 2.0]
    t = _run(con, "SELECT first(time, v) AS f, last(time, v) AS l FROM cpu")
    assert (t.column("f")[0].as_py(), t.column("l")[0].as_py()) == (1.0, 2.0)
    t = _run(con, "SELECT count(*) AS n FROM cpu WHERE time > now() - INTERVAL '100 years' AND time < now()")
    assert t.column("n").to_pylist() == [3]
    t = _run(con, "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r")
    assert t.column("n").to_pylist() == [1, 2, 3]
    t = _run(con, "WITH hosts AS (SELECT DISTINCT host FROM cpu) SELECT * FROM hosts")
    assert t.column("host").to_pylist() == ["a"]


def test_time_column_is_a_real_timestamp(con: duckdb.DuckDBPyConnection) -> None:
    t = _run(con, "SELECT time FROM cpu WHERE time >= TIMESTAMP '2024-01-01 00:03:00' ORDER BY time")
    assert pa.types.is_timestamp(t.schema.field("time").type)
    assert t.num_rows == 2


def test_limits_stop_long_and_large_queries(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(QueryFailed, match="more than 1000 rows"):
        _run(con, "SELECT * FROM range(100000)")
    with pytest.raises(QueryFailed, match="longer than"):
        _run(con, "SELECT count(*) FROM range(100000000000) a", timeout=0.3)


def test_unknown_tables_get_a_clear_message(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(SqlRejected, match="table 'mem' does not exist in this database"):
        _run(con, "SELECT * FROM mem")


def _host_of(con: duckdb.DuckDBPyConnection, schema: str) -> list[object]:
    stream = run_select(con, schema, "SELECT host FROM cpu ORDER BY time LIMIT 1", timeout_seconds=10, max_rows=10)
    try:
        return [row for batch in stream for row in batch.column(0).to_pylist()]
    finally:
        stream.close()


def test_kept_cursors_stay_with_their_database_and_survive_failed_queries(con: duckdb.DuckDBPyConnection) -> None:
    """Cursors are reused per database: after errors, row limits and timeouts, and with two
    databases used in turn from several threads, each query still reads its own database."""
    for _ in range(3):
        with pytest.raises(QueryFailed):
            _run(con, "SELECT no_such_column FROM cpu")
        with pytest.raises(QueryFailed, match="more than 1 rows"):
            _run(con, "SELECT * FROM cpu", max_rows=1)
        with pytest.raises(QueryFailed, match="longer than"):
            _run(con, "SELECT count(*) FROM range(100000000000) a", timeout=0.2)
        assert _host_of(con, MINE) == ["a"]
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda i: (i % 2, _host_of(con, (MINE, OTHER)[i % 2])), range(40)))
    assert {(i, tuple(hosts)) for i, hosts in found} == {(0, ("a",)), (1, ("secret-host",))}
