"""Heron's write-ahead log: what a 2xx promised, on disk before DuckDB has it.

A write is acknowledged once its rows are framed here and fsynced; the writer applies the
log to DuckDB later in large transactions (appending to DuckDB costs about a millisecond
per table and statement, whatever the row count, so a request that touches 200 metric
tables cannot pay that on its own acknowledgement path). After DuckDB commits a batch of
records together with their last sequence number, the log is emptied.

Layout: ``<dir>/<first-seq>.wal`` segments of frames::

    u32 payload length | u32 CRC-32 of payload | u64 sequence | payload

The payload is one Arrow IPC stream: a table's rows, with the target schema, table name
and each column's kind and SQL type in the schema metadata. A frame cut short by a crash
(the only kind of damage a crash makes) ends the log; the tail is truncated on replay.
"""

from __future__ import annotations

import logging
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson
import pyarrow as pa

from heron.core import telemetry

log = logging.getLogger(__name__)

#: A frame's header: payload length, CRC-32 of the payload, sequence number.
HEADER = struct.Struct("<IIQ")

#: Start a new segment after this many bytes, so a long stretch without a flush does not
#: make one huge file (replay reads segments one at a time).
SEGMENT_MAX_BYTES = 64 * 1024 * 1024


class WalCorrupt(Exception):
    """A damaged frame that is not a torn tail: the log cannot be trusted past it."""


@dataclass(frozen=True, slots=True)
class WalRecord:
    """Rows for one table: ``columns`` maps each column but ``time`` to (kind, SQL type)."""

    schema: str
    table: str
    columns: dict[str, tuple[str, str]]
    data: pa.Table


def encode_record(record: WalRecord) -> bytes:
    """A record as a frame's payload (an Arrow IPC stream with the target in its metadata)."""
    meta = {
        b"heron.schema": record.schema.encode(),
        b"heron.table": record.table.encode(),
        b"heron.columns": orjson.dumps(record.columns),
    }
    data = record.data.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
    return bytes(sink.getvalue())


def decode_record(payload: bytes) -> WalRecord:
    data = pa.ipc.open_stream(payload).read_all()
    meta = data.schema.metadata or {}
    columns = {k: (v[0], v[1]) for k, v in orjson.loads(meta[b"heron.columns"]).items()}
    return WalRecord(
        schema=meta[b"heron.schema"].decode(),
        table=meta[b"heron.table"].decode(),
        columns=columns,
        data=data.replace_schema_metadata(None),
    )


class WriteAheadLog:
    """Append, fsync, replay and reset; used by the writer thread only."""

    def __init__(self, directory: Path, *, damaged_dir: Path | None = None) -> None:
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)
        self._damaged_dir = damaged_dir
        self._file: BinaryIO | None = None
        self._size = 0
        self.last_seq = 0
        for seq, _payload in self._frames(repair=True):
            self.last_seq = seq

    def _segments(self) -> list[Path]:
        return sorted(self._dir.glob("*.wal"), key=lambda p: int(p.stem))

    def append(self, records: list[WalRecord]) -> int:
        """Write ``records`` and fsync once; return the sequence number of the last one."""
        if not records:
            return self.last_seq
        if self._file is None:
            path = self._dir / f"{self.last_seq + 1:020d}.wal"
            self._file = open(path, "ab")  # noqa: SIM115 - kept open across calls
            self._size = path.stat().st_size
        frames = []
        seq = self.last_seq
        for record in records:
            seq += 1
            payload = encode_record(record)
            frames.append(HEADER.pack(len(payload), zlib.crc32(payload), seq))
            frames.append(payload)
        blob = b"".join(frames)
        try:
            self._file.write(blob)
            self._file.flush()
            started = time.perf_counter()
            os.fsync(self._file.fileno())
            telemetry.WAL_FSYNC_SECONDS.observe(time.perf_counter() - started)
        except OSError:
            self._abandon_tail()
            raise
        self._size += len(blob)
        self.last_seq = seq
        if self._size >= SEGMENT_MAX_BYTES:
            self._close_file()
        return seq

    def replay(self, after_seq: int) -> Iterator[tuple[int, WalRecord]]:
        """Records with a sequence number above ``after_seq``, in order."""
        for seq, payload in self._frames(repair=False):
            if seq > after_seq:
                yield seq, decode_record(payload)

    def rotate(self) -> None:
        """Start a new segment at the next append, so the records so far can be dropped
        as a whole once they are applied (:meth:`drop_through`)."""
        self._close_file()

    def drop_through(self, seq: int) -> None:
        """Delete the segments holding only records up to ``seq`` (applied to DuckDB).

        Segments are named by their first record; the caller rotated right after ``seq``,
        so a segment whose first record is at most ``seq`` ends at ``seq`` or before.
        """
        current = self._file.name if self._file is not None else None
        removed = False
        for path in self._segments():
            if int(path.stem) <= seq and str(path) != current:
                path.unlink()
                removed = True
        if removed:
            fsync_dir(self._dir)

    def reset(self) -> None:
        """Forget every record (all of them are in DuckDB now); numbering continues."""
        self._close_file()
        for path in self._segments():
            path.unlink()
        fsync_dir(self._dir)

    def close(self) -> None:
        self._close_file()

    def _abandon_tail(self) -> None:
        """After a failed append: cut what it may have written, so no torn frame sits
        before later ones, and start the next append in a new segment."""
        f = self._file
        if f is None:
            return
        try:
            f.truncate(self._size)
            os.fsync(f.fileno())
        except OSError:
            pass  # the torn frame ends this segment; replay stops there and carries on
        self._close_file()

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._size = 0

    def _frames(self, *, repair: bool) -> Iterator[tuple[int, bytes]]:
        segments = self._segments()
        for index, path in enumerate(segments):
            last = index == len(segments) - 1
            with open(path, "rb") as f:
                blob = f.read()
            offset = 0
            while offset < len(blob):
                header = blob[offset : offset + HEADER.size]
                if len(header) < HEADER.size:
                    break
                length, crc, seq = HEADER.unpack(header)
                payload = blob[offset + HEADER.size : offset + HEADER.size + length]
                if len(payload) < length or zlib.crc32(payload) != crc:
                    break
                offset += HEADER.size + length
                yield seq, payload
            if offset < len(blob):
                if not last and self._damaged_dir is None:
                    raise WalCorrupt(f"{path} is damaged at byte {offset} and is not the newest segment")
                if repair:
                    if not last:
                        self._keep_damaged(path, blob[offset:])
                    with open(path, "r+b") as f:
                        f.truncate(offset)
                        os.fsync(f.fileno())

    def _keep_damaged(self, path: Path, tail: bytes) -> None:
        """Keep the damaged part of a segment that is not the newest beside the quarantine,
        so the log can go on past it and nothing is deleted."""
        assert self._damaged_dir is not None
        self._damaged_dir.mkdir(parents=True, exist_ok=True)
        target = self._damaged_dir / f"{path.stem}.damaged"
        with open(target, "wb") as f:
            f.write(tail)
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(self._damaged_dir)
        log.error(
            "a write-ahead log segment is damaged in its middle; the damaged part was kept aside",
            extra={"segment": str(path), "bytes": len(tail), "kept_as": str(target)},
        )


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
