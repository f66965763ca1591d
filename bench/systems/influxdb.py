"""InfluxDB 1.x (Debian's `influxdb` package) with a generated configuration file.

The packaged `/etc/influxdb/influxdb.conf` listens on all interfaces and writes to
/var/lib; ours binds both listeners (HTTP and the RPC used by backup/restore) to
127.0.0.1, keeps meta, data and WAL in the instance directory and leaves every other
input (graphite, collectd, opentsdb, udp, ifql) off, as they are by default.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from bench.procs import free_port
from bench.systems.base import PointCount, Server, debian_version
from bench.timefmt import rfc3339

BINARY = "influxd"
PACKAGE = "influxdb"


class InfluxDB(Server):
    """`influxd -config FILE`."""

    key = "influxdb"
    label = "InfluxDB"

    def __init__(self, workdir: Path, *, cold_s: int | None = None) -> None:
        """``cold_s`` shortens the idle time after which the cache is snapshotted to TSM
        files and fully compacted; the bytes-per-value run uses it to measure the data at
        rest instead of a write-ahead log (defaults: 10 minutes and 4 hours)."""
        super().__init__(workdir)
        self.config_path = workdir / "influxd.conf"
        self.cold_s = cold_s

    def config(self) -> str:
        """The configuration for the current ports and directories."""
        data = self.data_dir
        cold = ""
        if self.cold_s is not None:
            cold = (
                f'  cache-snapshot-write-cold-duration = "{self.cold_s}s"\n'
                f'  compact-full-write-cold-duration = "{self.cold_s}s"\n'
            )
        # Debian patches the phone-home switch to `reporting-enabled` (upstream:
        # `reporting-disabled`); `influxd config` prints the key the binary reads.
        return (
            "reporting-enabled = false\n"
            f'bind-address = "127.0.0.1:{free_port()}"\n'
            "[meta]\n"
            f'  dir = "{data}/meta"\n'
            "[data]\n"
            f'  dir = "{data}/data"\n'
            f'  wal-dir = "{data}/wal"\n'
            "  query-log-enabled = false\n"
            f"{cold}"
            # The _internal database would add its own writes and bytes to the figures.
            "[monitor]\n"
            "  store-enabled = false\n"
            "[http]\n"
            f'  bind-address = "127.0.0.1:{self.port}"\n'
            "  auth-enabled = false\n"
            "  log-enabled = false\n"
            "  unix-socket-enabled = false\n"
            "[ifql]\n"
            "  enabled = false\n"
            "[continuous_queries]\n"
            "  enabled = false\n"
        )

    def command(self) -> list[str]:
        self.config_path.write_text(self.config())
        return [BINARY, "-config", str(self.config_path)]

    def ready(self, client: httpx.Client) -> bool:
        return client.get("/ping").status_code == 204

    def create_database(self, client: httpx.Client) -> None:
        client.post("/query", params={"q": f"CREATE DATABASE {self.database}"}).raise_for_status()

    def write_path(self) -> str:
        return f"/write?db={self.database}&precision=ns"

    def influxql(self, client: httpx.Client, query: str) -> httpx.Response:
        """Run one InfluxQL query; raise on a non-2xx answer or an error in the body."""
        response = client.get("/query", params={"db": self.database, "q": query})
        if response.is_error:
            raise RuntimeError(f"InfluxDB answered {response.status_code} to {query!r}: {response.text[:300]}")
        for result in response.json().get("results", []):
            if "error" in result:
                raise RuntimeError(f"InfluxDB: {result['error']} in {query!r}")
        return response

    def count_points(self, client: httpx.Client, *, start_ns: int, end_ns: int) -> PointCount:
        query = f"SELECT count(usage_user) FROM cpu WHERE time >= '{rfc3339(start_ns)}' AND time < '{rfc3339(end_ns)}'"
        series = self.influxql(client, query).json()["results"][0].get("series", [])
        points = int(series[0]["values"][0][1]) if series else 0
        # A series key and timestamp identify a point; a rewrite replaces it.
        return PointCount(points=points, distinct_points=points)

    @classmethod
    def missing(cls) -> str | None:
        if shutil.which(BINARY) is None:
            return f"{BINARY} is not installed (bench/install-peers.sh installs it)"
        return None

    def version(self) -> str:
        return debian_version(PACKAGE)

    def at_rest(self) -> bool:
        """Whether the WAL is empty and each shard is one fully compacted TSM file.

        InfluxDB does not snapshot its cache on shutdown (it replays the WAL on start), so
        measuring bytes after a plain stop would count the WAL instead of TSM files.
        """
        wal = [p for p in (self.data_dir / "wal").rglob("*.wal") if p.stat().st_size > 0]
        shards = [p for p in (self.data_dir / "data").glob("*/*/*") if p.is_dir() and p.parent.name != "_series"]
        if wal or not shards:
            return False
        for shard in shards:
            names = [p.name for p in shard.iterdir()]
            tsm = [n for n in names if n.endswith(".tsm")]
            if len(tsm) != 1 or any(n.endswith(".tmp") for n in names):
                return False
        return True
