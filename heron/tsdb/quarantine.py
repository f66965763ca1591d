"""The quarantine: logged records DuckDB refused, kept aside so they cannot stop the store.

A record in the write-ahead log was acknowledged, so it is never dropped. If applying it
fails because of what it holds (a name or a value DuckDB refuses: a bug, since the parsers
check names), retrying cannot help, and before the quarantine every later write queued
behind it and the next start failed. Now the writer moves such a record here, with the
reason, and applies everything else. ``heron wal inspect`` lists what is here and
``heron wal requeue`` puts it back into the log after a fix.

Layout: ``<dir>/<seq>.rec`` holds one record as a write-ahead-log frame (its sequence number,
CRC and Arrow payload), ``<dir>/<seq>.json`` what happened to it. A record's sequence number
is unique for the life of the data directory, so quarantining the same record twice (after a
crash between writing it here and committing the rest) writes the same two files again.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from heron.tsdb.wal import HEADER, WalRecord, decode_record, encode_record, fsync_dir


@dataclass(frozen=True, slots=True)
class Entry:
    """One quarantined record: its sequence number, where it was headed and why it is here."""

    seq: int
    schema: str
    table: str
    rows: int
    reason: str
    quarantined_at: float  # Unix seconds
    path: Path

    def as_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "schema": self.schema,
            "table": self.table,
            "rows": self.rows,
            "reason": self.reason,
            "quarantined_at": self.quarantined_at,
            "file": str(self.path),
        }


class Quarantine:
    """The quarantine directory of one data directory."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def put(self, records: list[tuple[int, WalRecord]], reason: str) -> None:
        """Keep ``records`` (sequence number, record) with ``reason``; durable on return."""
        if not records:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        now = time.time()
        for seq, record in records:
            payload = encode_record(record)
            frame = HEADER.pack(len(payload), zlib.crc32(payload), seq) + payload
            meta = {
                "seq": seq,
                "schema": record.schema,
                "table": record.table,
                "rows": record.data.num_rows,
                "reason": reason,
                "quarantined_at": now,
            }
            _write_atomically(self.dir / f"{seq:020d}.rec", frame)
            _write_atomically(self.dir / f"{seq:020d}.json", orjson.dumps(meta, option=orjson.OPT_INDENT_2))
        fsync_dir(self.dir)

    def entries(self) -> list[Entry]:
        """What the quarantine holds, oldest record first."""
        out = []
        for meta_path in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []:
            try:
                meta = orjson.loads(meta_path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue  # a file cut short by a crash: its record is still in the log
            rec = meta_path.with_suffix(".rec")
            if not rec.exists():
                continue
            out.append(
                Entry(
                    seq=int(meta["seq"]),
                    schema=str(meta["schema"]),
                    table=str(meta["table"]),
                    rows=int(meta["rows"]),
                    reason=str(meta["reason"]),
                    quarantined_at=float(meta["quarantined_at"]),
                    path=rec,
                )
            )
        return out

    def load(self, entry: Entry) -> WalRecord:
        """The record of ``entry``; raises ``ValueError`` if its file is damaged."""
        blob = entry.path.read_bytes()
        length, crc, _seq = HEADER.unpack_from(blob)
        payload = blob[HEADER.size : HEADER.size + length]
        if len(payload) != length or zlib.crc32(payload) != crc:
            raise ValueError(f"{entry.path} is damaged (length or checksum does not match)")
        return decode_record(payload)

    def records(self) -> Iterator[tuple[Entry, WalRecord]]:
        for entry in self.entries():
            yield entry, self.load(entry)

    def remove(self, entry: Entry) -> None:
        """Forget ``entry`` (after its record is back in the log)."""
        entry.path.with_suffix(".json").unlink(missing_ok=True)
        entry.path.unlink(missing_ok=True)
        fsync_dir(self.dir)

    def counts(self) -> tuple[int, int]:
        """Records and rows held."""
        entries = self.entries()
        return len(entries), sum(e.rows for e in entries)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
