"""Compaction on a real DuckDB file: the same rows before and after, each window sorted."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.core.batch import Batch
from heron.tsdb import metrics as ms
from heron.tsdb.compaction import NS_PER_SECOND, Compactor
from heron.tsdb.store import create_schema, open_store
from heron.tsdb.writer import Writer

SCHEMA = "cnosdb/public"
WINDOW_S = 10
WINDOW_NS = WINDOW_S * NS_PER_SECOND
_TABLES = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, Writer]]:
    path = tmp_path_factory.mktemp("compaction")
    con = open_store(path / "tsdb.duckdb")
    create_schema(con, SCHEMA)
    compactor = Compactor(window_seconds=WINDOW_S, delay_seconds=0, max_step_rows=50)
    writer = Writer(con, wal_dir=path / "wal", compactor=compactor)
    yield con, writer
    writer.close()
    con.close()


def _write(writer: Writer, batches: list[Batch], *, metrics: bool = False) -> None:
    writer.submit(
        tenant="cnosdb", database="public", schema=SCHEMA, batches=batches, atomic=False, metrics=metrics
    ).result(30)
    writer.sync().result(30)


def _compact_all(writer: Writer) -> int:
    steps = 0
    while (future := writer.compact_next()) is not None:
        future.result(30)
        steps += 1
    return steps


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    return con.cursor().execute(sql).fetchall()


Row = tuple[str | None, str | None, int, float | None, int | None]

rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["web1", "web2", "db1", "db2", None]),
        st.sampled_from(["eu", "us", None]),
        st.integers(min_value=0, max_value=5 * WINDOW_NS),
        st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64)),
        st.one_of(st.none(), st.integers(min_value=-(2**62), max_value=2**62)),
    ),
    min_size=1,
    max_size=120,
)


def _batch(table: str, rows: list[Row]) -> Batch:
    return Batch(
        table=table,
        time=pa.array([r[2] for r in rows], pa.int64()),
        tags={"host": pa.array([r[0] for r in rows], pa.string()), "region": pa.array([r[1] for r in rows])},
        fields={
            "v": pa.array([r[3] for r in rows], pa.float64()),
            "n": pa.array([r[4] for r in rows], pa.int64()),
        },
        lines=pa.array(range(1, len(rows) + 1), pa.int32()),
    )


def _assert_windows_sorted(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """In storage order, each window's rows are sorted by the given key columns (NULLs last)."""
    by_window: dict[int, list[tuple[object, ...]]] = {}
    for row in _rows(con, sql):
        window, *key = row
        assert isinstance(window, int)
        by_window.setdefault(window, []).append(tuple((v is None, v) for v in key))
    for window, keys in by_window.items():
        assert keys == sorted(keys), f"window {window} is not sorted"


@settings(max_examples=40)
@given(rows=rows_strategy, parts=st.integers(min_value=1, max_value=3))
def test_a_table_reads_the_same_before_and_after_compaction(
    store: tuple[duckdb.DuckDBPyConnection, Writer], rows: list[Row], parts: int
) -> None:
    con, writer = store
    table = f"t{next(_TABLES)}"
    size = -(-len(rows) // parts)
    for start in range(0, len(rows), size):
        _write(writer, [_batch(table, rows[start : start + size])])
    everything = f'SELECT epoch_ns(time), host, region, v, n FROM "{SCHEMA}".{table} ORDER BY ALL'
    before = _rows(con, everything)
    assert len(before) == len(rows)
    _compact_all(writer)
    assert _rows(con, everything) == before
    _assert_windows_sorted(
        con,
        f'SELECT epoch_ns(time) // {WINDOW_NS}, host, region, epoch_ns(time) FROM "{SCHEMA}".{table} ORDER BY rowid',
    )


def test_metric_samples_are_sorted_by_metric_series_and_time(store: tuple[duckdb.DuckDBPyConnection, Writer]) -> None:
    con, writer = store
    batches = []
    for second in range(30):  # arrival order: every series at each second
        for host in ("b", "a", "c"):
            batches.append(
                Batch(
                    table=f"m_load{second % 2}",
                    time=pa.array([second * NS_PER_SECOND], pa.int64()),
                    tags={"host": pa.array([host])},
                    fields={ms.VALUE: pa.array([float(second)])},
                )
            )
    _write(writer, batches, metrics=True)
    samples = f'"{SCHEMA}"."{ms.SAMPLES}"'
    everything = f"SELECT epoch_ns(time), {ms.METRIC_ID}, {ms.SERIES_ID}, value FROM {samples} ORDER BY ALL"
    before = _rows(con, everything)
    assert _compact_all(writer) >= 3
    assert _rows(con, everything) == before
    _assert_windows_sorted(
        con,
        f"SELECT epoch_ns(time) // {WINDOW_NS}, {ms.METRIC_ID}, {ms.SERIES_ID}, epoch_ns(time)"
        f" FROM {samples} ORDER BY rowid",
    )
    assert _rows(con, f"SELECT count(*) FROM \"{SCHEMA}\".m_load0 WHERE host = 'a'") == [(15,)]


def test_a_window_larger_than_a_step_is_split_in_time(store: tuple[duckdb.DuckDBPyConnection, Writer]) -> None:
    con, writer = store
    rows: list[Row] = [(f"h{i % 7}", None, i * (WINDOW_NS // 400), float(i), i) for i in range(400)]
    _write(writer, [_batch("big", rows)])
    steps_before = writer.compactor.counters.steps
    _compact_all(writer)
    assert writer.compactor.counters.steps - steps_before >= 8  # 400 rows, at most 50 per step
    assert _rows(con, f'SELECT count(*), count(DISTINCT n) FROM "{SCHEMA}".big') == [(400, 400)]
    assert writer.health()["compaction"]["windows_waiting"] == 0


def test_writes_are_acknowledged_while_a_maintenance_step_runs(
    store: tuple[duckdb.DuckDBPyConnection, Writer],
) -> None:
    con, writer = store
    gate = threading.Event()
    started = threading.Event()

    def step(_con: duckdb.DuckDBPyConnection) -> None:
        started.set()
        gate.wait(30)

    running = writer.maintain(step)
    assert started.wait(30)
    try:
        acknowledged = writer.submit(
            tenant="cnosdb",
            database="public",
            schema=SCHEMA,
            batches=[_batch("during", [("h", None, 1, 1.0, 1)])],
            atomic=False,
        )
        assert acknowledged.result(30).written == 1
        assert not running.done()
    finally:
        gate.set()
    running.result(30)
    writer.sync().result(30)
    assert _rows(con, f'SELECT count(*) FROM "{SCHEMA}".during') == [(1,)]


def test_settled_windows_are_merged_into_one_sorted_run(tmp_path: Path) -> None:
    """The second level: once its windows are compacted and quiet, a merge window is
    rewritten as one run sorted by series and time, and survives a restart's bookkeeping."""
    con = open_store(tmp_path / "tsdb.duckdb")
    create_schema(con, SCHEMA)
    compactor = Compactor(window_seconds=10, delay_seconds=0, merge_window_seconds=40, merge_delay_seconds=0)
    writer = Writer(con, wal_dir=tmp_path / "wal", compactor=compactor)
    try:
        rows: list[Row] = [(f"h{i % 3}", None, i * NS_PER_SECOND // 2, float(i), i) for i in range(200)]  # 100 s
        for start in range(0, 200, 50):
            _write(writer, [_batch("merged", rows[start : start + 50])])
        before = _rows(con, f'SELECT * FROM "{SCHEMA}".merged ORDER BY ALL')
        _compact_all(writer)
        assert _rows(con, f'SELECT * FROM "{SCHEMA}".merged ORDER BY ALL') == before
        _assert_windows_sorted(
            con,
            f"SELECT epoch_ns(time) // {40 * NS_PER_SECOND}, host, epoch_ns(time)"
            f' FROM "{SCHEMA}".merged ORDER BY rowid',
        )
        counters = writer.health()["compaction"]
        assert (counters["windows_waiting"], counters["merges_waiting"]) == (0, 0)
        assert _rows(con, "SELECT count(*) FROM main.heron_compaction_pending") == [(0,)]
    finally:
        writer.close()
        con.close()
