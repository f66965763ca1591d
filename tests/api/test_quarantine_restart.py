"""`heron serve` always starts: records the store refuses are quarantined, never fatal.

The records are written into the write-ahead log by hand while Heron is stopped, as a Heron
without the rule for names logged them (a NUL in a column name), beside good records.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa
import pytest

from heron.tsdb.store import read_applied_seq
from heron.tsdb.wal import WalRecord, WriteAheadLog
from tests.conftest import RunningServer, start_server

SCHEMA = "cnosdb/public"
PASSWORD = "quarantine-test-password"


def _record(table: str, column: str, first: int, count: int) -> WalRecord:
    data = pa.table(
        {
            "time": pa.array(range(first, first + count), pa.int64()).view(pa.timestamp("ns")),
            column: pa.array([float(i) for i in range(count)], pa.float64()),
        }
    )
    return WalRecord(SCHEMA, table, {column: ("field", "DOUBLE")}, data)


def _prepare(data_dir: Path, records: list[WalRecord]) -> None:
    """A data directory that Heron made, with ``records`` logged after what DuckDB holds."""
    start_server(data_dir, password=PASSWORD).stop()
    con = duckdb.connect(str(data_dir / "tsdb" / "heron.duckdb"))
    applied = read_applied_seq(con)
    con.close()
    wal = WriteAheadLog(data_dir / "tsdb" / "wal")
    wal.last_seq = max(wal.last_seq, applied)
    wal.append(records)
    wal.close()


def _heron(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "heron", "wal", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _count(srv: RunningServer, table: str) -> int:
    with srv.client() as c:
        r = c.post("/api/v1/sql", content=f"SELECT count(*) AS n FROM {table}", headers={"Accept": "application/json"})
        assert r.status_code == 200, r.text
        return int(r.json()[0]["n"])


@pytest.mark.slow
def test_a_record_that_cannot_be_replayed_is_quarantined_and_heron_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _prepare(data, [_record("good", "v", 1, 2), _record("nul1", "\x00sed", 1, 1), _record("good", "v", 3, 1)])

    srv = start_server(data, password=PASSWORD)  # before the quarantine this exited at start
    try:
        assert _count(srv, "good") == 3
        health = httpx.get(f"{srv.url}/api/v1/health").json()
        assert health["status"] == "healthy" and health["store"]["quarantined_records"] == 1
        assert any("moved to the quarantine" in line for line in srv.log_lines)
        listed = _heron(data, "inspect")  # works while Heron runs
        assert listed.returncode == 0, listed.stderr
        assert "nul1" in listed.stdout and "1 rows" in listed.stdout
        assert "columns: time, '\\x00sed' (field DOUBLE)" in listed.stdout
        busy = _heron(data, "requeue")
        assert busy.returncode == 1 and "stop `heron serve`" in busy.stderr
    finally:
        srv.stop()

    again = _heron(data, "requeue")  # the record still cannot be stored: it stays quarantined
    assert again.returncode == 0, again.stderr
    assert "still refused" in again.stderr

    srv = start_server(data, password=PASSWORD)
    try:
        assert _count(srv, "good") == 3
    finally:
        srv.stop()


@pytest.mark.slow
def test_sigkill_while_quarantining_loses_nothing_and_quarantines_each_record_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = 150
    records = []
    for i in range(bad):
        records += [_record("good", "v", 10 * i + 1, 10), _record(f"bad{i}", "\x00v", 1, 1)]
    _prepare(data, records)
    quarantine = data / "tsdb" / "quarantine"

    # Start, and kill as soon as the quarantine has some of the records but not all.
    proc = subprocess.Popen(
        [sys.executable, "-m", "heron", "serve", "--data-dir", str(data), "--listen", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"HERON_ADMIN_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"},
    )
    deadline = time.monotonic() + 120
    held = 0
    while time.monotonic() < deadline and proc.poll() is None:
        held = len(list(quarantine.glob("*.json"))) if quarantine.is_dir() else 0
        if held:
            break
        time.sleep(0.001)
    proc.kill()
    proc.wait(timeout=30)
    assert 0 < held < bad, f"the kill did not land while quarantining ({held} of {bad} records were there)"

    srv = start_server(data, password=PASSWORD)
    try:
        assert _count(srv, "good") == 10 * bad  # every good row once
        health = httpx.get(f"{srv.url}/api/v1/health").json()
        assert health["store"]["quarantined_records"] == bad
    finally:
        srv.stop()
    seqs = sorted(int(p.stem) for p in quarantine.glob("*.json"))
    assert len(seqs) == len(set(seqs)) == bad
