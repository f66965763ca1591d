"""The writer on a real DuckDB file: columns appear, types are checked, the queue is bounded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from heron.core.batch import Batch
from heron.core.errors import DatabaseNotFound, Overloaded, TypeConflict
from heron.tsdb.store import create_schema, describe_table, open_store
from heron.tsdb.writer import Writer

SCHEMA = "cnosdb/public"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, Writer]]:
    con = open_store(tmp_path / "tsdb.duckdb")
    create_schema(con, SCHEMA)
    writer = Writer(con, wal_dir=tmp_path / "wal", max_queue_rows=10, max_commit_rows=1000)
    yield con, writer
    writer.close()
    con.close()


def _batch(table: str, times: list[int], tags: dict[str, list[str | None]], fields: dict[str, pa.Array]) -> Batch:
    return Batch(
        table=table,
        time=pa.array(times, pa.int64()),
        tags={k: pa.array(v, pa.string()) for k, v in tags.items()},
        fields=fields,
        lines=pa.array(range(1, len(times) + 1), pa.int32()),
    )


def _write(writer: Writer, batches: list[Batch], *, atomic: bool) -> object:
    """Write and wait until the rows are in DuckDB (acknowledged rows wait in the log first)."""
    future = writer.submit(tenant="cnosdb", database="public", schema=SCHEMA, batches=batches, atomic=atomic)
    result = future.result(10)
    writer.sync().result(10)
    return result


def test_new_tags_and_fields_become_typed_columns(store: tuple[duckdb.DuckDBPyConnection, Writer]) -> None:
    con, writer = store
    _write(writer, [_batch("cpu", [1, 2], {"host": ["a", "b"]}, {"v": pa.array([1.5, 2.5])})], atomic=True)
    _write(writer, [_batch("cpu", [3], {"dc": ["x"]}, {"n": pa.array([7], pa.int64())})], atomic=True)
    cols = {c.name: (c.sql_type, c.kind) for c in describe_table(con, SCHEMA, "cpu")}
    assert cols == {
        "time": ("TIMESTAMP_NS", "time"),
        "host": ("VARCHAR", "tag"),
        "v": ("DOUBLE", "field"),
        "dc": ("VARCHAR", "tag"),
        "n": ("BIGINT", "field"),
    }
    rows = con.execute(f'SELECT epoch_ns(time), host, v, dc, n FROM "{SCHEMA}".cpu ORDER BY time').fetchall()
    assert rows == [(1, "a", 1.5, None, None), (2, "b", 2.5, None, None), (3, None, None, "x", 7)]


def test_it_rejects_type_conflict_and_keeps_other_points(store: tuple[duckdb.DuckDBPyConnection, Writer]) -> None:
    con, writer = store
    _write(writer, [_batch("cpu", [1], {}, {"v": pa.array([1.0])})], atomic=True)
    mixed = _batch("cpu", [2, 3], {}, {"v": pa.array([5, None], pa.int64()), "w": pa.array([None, 1.0])})
    with pytest.raises(TypeConflict, match="column 'v': the column is float field, the value is integer field"):
        _write(writer, [mixed], atomic=True)
    assert con.execute(f'SELECT count(*) FROM "{SCHEMA}".cpu').fetchone() == (1,)
    result = _write(writer, [mixed], atomic=False)
    assert (result.written, result.dropped) == (1, 1)  # type: ignore[attr-defined]
    assert result.conflicts[0].line == 1  # type: ignore[attr-defined]
    assert con.execute(f'SELECT epoch_ns(time), v, w FROM "{SCHEMA}".cpu ORDER BY time').fetchall() == [
        (1, 1.0, None),
        (3, None, 1.0),
    ]


def test_a_tag_cannot_become_a_field(store: tuple[duckdb.DuckDBPyConnection, Writer]) -> None:
    _con, writer = store
    _write(writer, [_batch("cpu", [1], {"host": ["a"]}, {"v": pa.array([1.0])})], atomic=True)
    with pytest.raises(TypeConflict, match="the column is a tag"):
        _write(writer, [_batch("cpu", [2], {}, {"host": pa.array([1.0])})], atomic=True)


def test_unknown_schema_is_database_not_found(store: tuple[duckdb.DuckDBPyConnection, Writer]) -> None:
    _con, writer = store
    future = writer.submit(
        tenant="cnosdb",
        database="nope",
        schema="cnosdb/nope",
        batches=[_batch("cpu", [1], {}, {"v": pa.array([1.0])})],
        atomic=True,
    )
    with pytest.raises(DatabaseNotFound, match="CREATE DATABASE nope"):
        future.result(10)


def test_full_queue_answers_overloaded_and_loses_nothing_queued(
    store: tuple[duckdb.DuckDBPyConnection, Writer],
) -> None:
    con, writer = store
    gate = threading.Event()
    blocked = writer.call(lambda _c: gate.wait(10))
    futures = []
    with pytest.raises(Overloaded) as info:
        for i in range(100):
            futures.append(
                writer.submit(
                    tenant="cnosdb",
                    database="public",
                    schema=SCHEMA,
                    batches=[_batch("q", [i, i + 1000], {}, {"v": pa.array([1.0, 2.0])})],
                    atomic=True,
                )
            )
    assert info.value.retry_after_seconds >= 1
    assert len(futures) == 5  # 10 rows of queue, 2 rows per request
    gate.set()
    blocked.result(10)
    for f in futures:
        f.result(10)
    writer.sync().result(10)
    assert con.execute(f'SELECT count(*) FROM "{SCHEMA}".q').fetchone() == (10,)


def test_waiting_requests_share_one_commit(store: tuple[duckdb.DuckDBPyConnection, Writer]) -> None:
    con, writer = store
    gate = threading.Event()
    writer.call(lambda _c: gate.wait(10))
    before = writer.commits
    futures = [
        writer.submit(
            tenant="cnosdb",
            database="public",
            schema=SCHEMA,
            batches=[_batch("g", [i], {"h": [str(i)]}, {"v": pa.array([float(i)])})],
            atomic=True,
        )
        for i in range(5)
    ]
    gate.set()
    for f in futures:
        f.result(10)
    assert writer.commits == before + 1
    writer.sync().result(10)
    assert con.execute(f'SELECT count(*) FROM "{SCHEMA}".g').fetchone() == (5,)
