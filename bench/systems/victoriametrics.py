"""VictoriaMetrics single-node (Debian's `victoria-metrics` package).

Only the HTTP listener is enabled (graphite, influx UDP/TCP and OpenTSDB listeners are off
unless given an address). The retention is widened because the default of one month
would silently drop points older than that, and the benchmarks choose their own dates.
VictoriaMetrics turns the line-protocol fields into series named `cpu_<field>`.
"""

from __future__ import annotations

import shutil

import httpx

from bench.systems.base import PointCount, Server, debian_version

BINARY = "victoria-metrics"
PACKAGE = "victoria-metrics"
NS_PER_MS = 1_000_000


class VictoriaMetrics(Server):
    """`victoria-metrics -storageDataPath DIR -httpListenAddr 127.0.0.1:PORT`."""

    key = "victoriametrics"
    label = "VictoriaMetrics"

    def command(self) -> list[str]:
        return [
            BINARY,
            "-storageDataPath", str(self.data_dir),
            "-httpListenAddr", f"127.0.0.1:{self.port}",
            "-retentionPeriod", "100y",
        ]  # fmt: skip

    def ready(self, client: httpx.Client) -> bool:
        return client.get("/health").status_code == 200

    def create_database(self, client: httpx.Client) -> None:
        """VictoriaMetrics has no databases; `?db=` would only add a label."""

    def write_path(self) -> str:
        return "/write?precision=ns"

    def flush(self, client: httpx.Client) -> None:
        """Persist the in-memory buffers, which also makes them searchable at once."""
        client.get("/internal/force_flush").raise_for_status()

    def count_points(self, client: httpx.Client, *, start_ns: int, end_ns: int) -> PointCount:
        self.flush(client)
        window_ms = -(-(end_ns - start_ns) // NS_PER_MS)
        # VictoriaMetrics keeps milliseconds; the window (at - window, at] must exclude
        # end_ns and include start_ns, so it ends one millisecond before end_ns.
        at_ms = -(-end_ns // NS_PER_MS) - 1
        response = client.get(
            "/api/v1/query",
            params={
                "query": f"sum(count_over_time(cpu_usage_user[{window_ms}ms]))",
                "time": f"{at_ms / 1000:.3f}",
                "nocache": "1",
            },
        )
        response.raise_for_status()
        result = response.json()["data"]["result"]
        points = int(float(result[0]["value"][1])) if result else 0
        return PointCount(points=points, distinct_points=points)

    @classmethod
    def missing(cls) -> str | None:
        if shutil.which(BINARY) is None:
            return f"{BINARY} is not installed (bench/install-peers.sh installs it)"
        return None

    def version(self) -> str:
        return debian_version(PACKAGE)
