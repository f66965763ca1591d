"""The write-ahead log: records come back in order, a torn tail is cut, applied records go."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from heron.tsdb.wal import WalCorrupt, WalRecord, WriteAheadLog


def _record(n: int, table: str = "cpu") -> WalRecord:
    data = pa.table({"time": pa.array(range(n), pa.int64()).cast(pa.timestamp("ns")), "v": pa.array([1.5] * n)})
    return WalRecord("cnosdb/public", table, {"v": ("field", "DOUBLE")}, data)


def test_records_survive_a_reopen_in_order(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    assert wal.append([_record(2), _record(3, "mem")]) == 2
    assert wal.append([_record(1)]) == 3
    wal.close()
    wal.close()
    again = WriteAheadLog(tmp_path)
    assert again.last_seq == 3
    got = [(seq, r.table, r.data.num_rows, r.columns) for seq, r in again.replay(after_seq=1)]
    assert got == [(2, "mem", 3, {"v": ("field", "DOUBLE")}), (3, "cpu", 1, {"v": ("field", "DOUBLE")})]
    again.close()


@pytest.mark.parametrize("cut", [1, 7, 20, 100])
def test_a_torn_tail_is_cut_and_the_rest_kept(tmp_path: Path, cut: int) -> None:
    wal = WriteAheadLog(tmp_path)
    wal.append([_record(2)])
    wal.append([_record(5)])
    wal.close()
    (segment,) = tmp_path.glob("*.wal")
    blob = segment.read_bytes()
    segment.write_bytes(blob[:-cut])
    again = WriteAheadLog(tmp_path)
    assert again.last_seq == 1
    assert [seq for seq, _ in again.replay(after_seq=0)] == [1]
    assert again.append([_record(1)]) == 2
    again.close()


def test_damage_before_the_newest_segment_is_an_error(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    wal.append([_record(2)])
    wal.close()
    wal = WriteAheadLog(tmp_path)
    wal.append([_record(2)])
    wal.close()
    first = sorted(tmp_path.glob("*.wal"))[0]
    first.write_bytes(first.read_bytes()[:-3])
    (tmp_path / "99999999999999999999.wal").write_bytes(b"")
    with pytest.raises(WalCorrupt):
        list(WriteAheadLog(tmp_path).replay(after_seq=0))


def test_reset_forgets_records_but_numbering_goes_on(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    wal.append([_record(2), _record(2)])
    wal.reset()
    assert list(tmp_path.glob("*.wal")) == []
    assert wal.append([_record(1)]) == 3
    wal.close()
