"""Bytes on disk per stored value, after each system has settled its data.

The same 2,000,000 values (200,000 points x 10 fields) go once into a fresh instance of
each system, which is then brought to rest the way its operators would: InfluxDB until
its WAL is empty and every shard is one compacted TSM file, VictoriaMetrics by
`/internal/force_flush` and a clean stop, Heron by SIGTERM (it checkpoints). Allocated
blocks (``st_blocks * 512``) are counted, not file lengths, so sparse or preallocated
files count for what they really take.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.procs import wait_until
from bench.progress import say
from bench.systems import InfluxDB, Server, running
from bench.tsbs import FIELDS, BodySet

POINTS = 200_000
SETTLE_TIMEOUT_S = 300.0
#: InfluxDB snapshots and fully compacts a shard after it has been idle this long.
INFLUX_COLD_S = 5


@dataclass(frozen=True, slots=True)
class Footprint:
    """Disk use of one system holding ``values`` values."""

    values: int
    stored_points: int
    allocated_bytes: int
    apparent_bytes: int
    files: int
    largest_files: dict[str, int]  # relative path -> allocated bytes, the five largest
    wal_bytes: int  # allocated bytes in write-ahead logs still present after the stop
    checkpointed_bytes: int | None  # DuckDB only: after replaying its WAL into the file

    @property
    def bytes_per_value(self) -> float:
        return self.allocated_bytes / self.values


def allocated_by_file(directory: Path) -> dict[str, tuple[int, int]]:
    """Allocated and apparent bytes of every file under ``directory``, by relative path."""
    sizes = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = Path(root, name)
            stat = path.lstat()
            sizes[str(path.relative_to(directory))] = (stat.st_blocks * 512, stat.st_size)
    return sizes


def _is_wal(path: str) -> bool:
    return path.endswith((".wal", "-wal")) or "/wal/" in f"/{path}"


def duckdb_checkpointed_bytes(directory: Path) -> int | None:
    """Allocated bytes of ``directory`` once every DuckDB file in it has been checkpointed.

    Diagnostic only: if a server leaves its data in DuckDB's WAL at shutdown, this tells
    how much of its footprint is the storage format and how much the missing checkpoint.
    Works on a copy; returns None when there is no DuckDB WAL to replay.
    """
    if not any(directory.rglob("*.duckdb.wal")):
        return None
    import duckdb  # Heron's own dependency; needed only for this diagnostic

    with tempfile.TemporaryDirectory(prefix="footprint-") as temp:
        copy = Path(temp) / "data"
        shutil.copytree(directory, copy)
        for database in copy.rglob("*.duckdb"):
            connection = duckdb.connect(str(database))
            connection.execute("CHECKPOINT")
            connection.close()
        return sum(allocated for allocated, _ in allocated_by_file(copy).values())


def footprint_server(kind: type[Server], workdir: Path) -> Server:
    """An instance of ``kind`` configured to reach rest quickly once writes stop."""
    if kind is InfluxDB:
        return InfluxDB(workdir, cold_s=INFLUX_COLD_S)
    return kind(workdir)


def measure_footprint(server: Server, bodies: BodySet) -> Footprint:
    """Write ``bodies`` once into ``server`` (not yet started), settle, stop and measure."""
    try:
        with running(server):
            with server.client() as client:
                server.create_database(client)
                for index in range(bodies.count):
                    response = client.post(server.write_path(), content=bodies.path(index).read_bytes())
                    response.raise_for_status()
                _, count = server.count_settled(client, start_ns=bodies.start_ns, end_ns=bodies.end_ns)
            if count.points != bodies.points:
                raise RuntimeError(f"{server.label} holds {count.points} of the {bodies.points} points written")
            if isinstance(server, InfluxDB):
                say(f"bytes/value: waiting for {server.label} to compact (idle {INFLUX_COLD_S} s)")
                wait_until(server.at_rest, timeout_s=SETTLE_TIMEOUT_S, what="InfluxDB snapshot")
                # The snapshot comes first; give a full compaction its chance before stopping.
                time.sleep(3 * INFLUX_COLD_S)
                wait_until(server.at_rest, timeout_s=SETTLE_TIMEOUT_S, what="InfluxDB compaction")
            server.stop()
        sizes = allocated_by_file(server.data_dir)
        largest = sorted(sizes.items(), key=lambda item: item[1][0], reverse=True)[:5]
        footprint = Footprint(
            values=bodies.points * len(FIELDS),
            stored_points=count.points,
            allocated_bytes=sum(allocated for allocated, _ in sizes.values()),
            apparent_bytes=sum(apparent for _, apparent in sizes.values()),
            files=len(sizes),
            largest_files={path: allocated for path, (allocated, _) in largest},
            wal_bytes=sum(allocated for path, (allocated, _) in sizes.items() if _is_wal(path)),
            checkpointed_bytes=duckdb_checkpointed_bytes(server.data_dir),
        )
    finally:
        shutil.rmtree(server.workdir, ignore_errors=True)
    return footprint
