"""A record DuckDB refuses goes to the quarantine; everything else is applied, always.

These run the real writer on a real DuckDB file. The refusals are real too: a view created
behind the writer's back (its catalog does not know it), and a record with a NUL in a column
name written into the log directly, as a Heron without the name rule would have logged it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from heron.core.batch import Batch
from heron.tsdb.quarantine import Quarantine
from heron.tsdb.store import create_schema, open_store
from heron.tsdb.wal import WalRecord, WriteAheadLog
from heron.tsdb.writer import Writer

SCHEMA = "cnosdb/public"


def _batch(table: str, values: list[float], **tags: str) -> Batch:
    n = len(values)
    return Batch(
        table=table,
        time=pa.array(range(1, n + 1), pa.int64()),
        tags={k: pa.array([v] * n, pa.string()) for k, v in tags.items()},
        fields={"v": pa.array(values, pa.float64())},
        lines=pa.array(range(1, n + 1), pa.int32()),
    )


def _open(path: Path) -> tuple[duckdb.DuckDBPyConnection, Writer]:
    con = open_store(path / "tsdb.duckdb")
    create_schema(con, SCHEMA)
    return con, Writer(con, wal_dir=path / "wal", quarantine_dir=path / "quarantine")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, Writer]]:
    con, writer = _open(tmp_path)
    yield con, writer
    writer.close()
    con.close()


def _write(writer: Writer, *batches: Batch) -> None:
    writer.submit(tenant="cnosdb", database="public", schema=SCHEMA, batches=list(batches), atomic=False).result(10)


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.cursor().execute(f'SELECT count(*) FROM "{SCHEMA}"."{table}"').fetchone()
    assert row is not None
    return int(row[0])


def _hide_a_view(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """A view the writer's catalog does not know: appending to ``name`` then fails in DuckDB."""
    con.cursor().execute(f'CREATE VIEW "{SCHEMA}"."{name}" AS SELECT 1 AS v')


def test_a_refused_record_is_quarantined_and_every_other_table_is_applied(
    store: tuple[duckdb.DuckDBPyConnection, Writer], tmp_path: Path
) -> None:
    con, writer = store
    _hide_a_view(con, "drift")
    _write(writer, _batch("cpu", [1.0, 2.0], host="a"), _batch("drift", [3.0]), _batch("mem", [4.0]))
    writer.sync().result(10)  # would raise if the refused record blocked the apply

    assert (_count(con, "cpu"), _count(con, "mem")) == (2, 1)
    entries = Quarantine(tmp_path / "quarantine").entries()
    assert [(e.schema, e.table, e.rows) for e in entries] == [(SCHEMA, "drift", 1)]
    assert entries[0].reason.startswith("CatalogException") and "drift" in entries[0].reason
    assert writer.quarantined_records == 1
    assert writer.health()["quarantined_records"] == 1

    _write(writer, _batch("cpu", [5.0], host="b"))
    writer.sync().result(10)
    assert _count(con, "cpu") == 3


def test_requeue_applies_quarantined_records_after_the_fix(tmp_path: Path) -> None:
    con, writer = _open(tmp_path)
    _hide_a_view(con, "drift")
    _write(writer, _batch("drift", [1.0, 2.0], host="a"))
    writer.sync().result(10)
    assert len(writer.quarantine.entries()) == 1

    con.cursor().execute(f'DROP VIEW "{SCHEMA}"."drift"')  # the fix
    writer.close()
    con.close()
    con, writer = _open(tmp_path)  # the catalog is read again, without the view
    try:
        done = writer.requeue()
        assert [(schema, table, rows) for _seq, schema, table, rows in done] == [(SCHEMA, "drift", 2)]
        assert _count(con, "drift") == 2
        assert writer.quarantine.entries() == []
    finally:
        writer.close()
        con.close()


def test_a_record_refused_again_stays_in_the_quarantine(store: tuple[duckdb.DuckDBPyConnection, Writer]) -> None:
    con, writer = store
    _hide_a_view(con, "drift")
    _write(writer, _batch("drift", [1.0]))
    writer.sync().result(10)
    first = writer.quarantine.entries()
    writer.requeue()
    again = writer.quarantine.entries()
    assert [(e.table, e.rows) for e in again] == [(e.table, e.rows) for e in first] == [("drift", 1)]
    assert again[0].seq > first[0].seq  # logged again under a new sequence number


def _log_by_hand(wal_dir: Path, records: list[WalRecord]) -> None:
    wal = WriteAheadLog(wal_dir)
    wal.append(records)
    wal.close()


def _record(table: str, column: str, values: list[float]) -> WalRecord:
    data = pa.table(
        {
            "time": pa.array(range(1, len(values) + 1), pa.int64()).view(pa.timestamp("ns")),
            column: pa.array(values, pa.float64()),
        }
    )
    return WalRecord(SCHEMA, table, {column: ("field", "DOUBLE")}, data)


def test_a_logged_record_that_cannot_be_replayed_does_not_stop_the_start(tmp_path: Path) -> None:
    con = open_store(tmp_path / "tsdb.duckdb")
    create_schema(con, SCHEMA)
    con.close()
    _log_by_hand(
        tmp_path / "wal",
        [_record("good", "v", [1.0, 2.0]), _record("nul1", "\x00sed", [12.0]), _record("good", "v", [3.0])],
    )
    con, writer = _open(tmp_path)  # before the quarantine, this raised and `heron serve` exited
    try:
        writer.sync().result(10)
        assert _count(con, "good") == 3
        entries = writer.quarantine.entries()
        assert [(e.table, e.rows) for e in entries] == [("nul1", 1)]
        assert entries[0].seq == 2
    finally:
        writer.close()
        con.close()
    # A second start finds the log applied and the quarantine as it was: nothing twice.
    con, writer = _open(tmp_path)
    try:
        assert _count(con, "good") == 3
        assert [e.seq for e in writer.quarantine.entries()] == [2]
    finally:
        writer.close()
        con.close()


def test_quarantining_the_same_record_twice_keeps_one_copy(tmp_path: Path) -> None:
    quarantine = Quarantine(tmp_path / "q")
    record = _record("nul1", "\x00sed", [12.0])
    quarantine.put([(7, record)], "first reason")
    quarantine.put([(7, record)], "second reason")
    entries = quarantine.entries()
    assert [(e.seq, e.reason) for e in entries] == [(7, "second reason")]
    assert quarantine.load(entries[0]).data.equals(record.data)
