"""Prometheus 2.x (Debian's `prometheus` package), as a remote-write receiver or as a client.

As a receiver it runs with ``--web.enable-remote-write-receiver`` and takes
``POST /api/v1/write``; its TSDB rejects a sample older than the newest one of its series
and one more than an hour older than the newest of all, so the benchmark's bodies go in
time order per series and span less than an hour. As a client it scrapes and
remote-writes as configured by ``config`` (see bench/remote_write.py).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx

from bench.systems.base import PointCount, Server, debian_version

BINARY = "prometheus"
PACKAGE = "prometheus"
NS_PER_MS = 1_000_000
#: A configuration that scrapes nothing: the receiver only stores what is pushed.
EMPTY_CONFIG = "global:\n  scrape_interval: 1m\n"
_SAMPLE_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)", re.M)


class Prometheus(Server):
    """`prometheus --config.file ... --storage.tsdb.path DIR --web.listen-address 127.0.0.1:PORT`."""

    key = "prometheus"
    label = "Prometheus"

    def __init__(self, workdir: Path, *, config: str = EMPTY_CONFIG, receiver: bool = True) -> None:
        super().__init__(workdir)
        self.config = config
        self.receiver = receiver

    def command(self) -> list[str]:
        path = self.workdir / "prometheus.yml"
        path.write_text(self.config)
        argv = [
            BINARY,
            f"--config.file={path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=100y",
            "--web.enable-lifecycle",  # POST /-/reload, to stop scraping before counting
        ]
        if self.receiver:
            argv.append("--web.enable-remote-write-receiver")
        return argv

    def ready(self, client: httpx.Client) -> bool:
        return client.get("/-/ready").status_code == 200

    def create_database(self, client: httpx.Client) -> None:
        """Prometheus has no databases."""

    def write_path(self) -> str:
        """The remote-write receiver (Prometheus takes no line protocol)."""
        return "/api/v1/write"

    def count_samples(self, client: httpx.Client, *, selector: str, start_ms: int, end_ms: int) -> int:
        """Samples stored for ``selector`` with ``start_ms <= t < end_ms``."""
        window_ms = end_ms - start_ms
        response = client.get(
            "/api/v1/query",
            params={
                "query": f"sum(count_over_time({selector}[{window_ms}ms]))",
                "time": f"{(end_ms - 1) / 1000:.3f}",
            },
        )
        response.raise_for_status()
        result = response.json()["data"]["result"]
        return int(float(result[0]["value"][1])) if result else 0

    def count_points(self, client: httpx.Client, *, start_ns: int, end_ns: int) -> PointCount:
        count = self.count_samples(
            client, selector='{__name__=~".+"}', start_ms=start_ns // NS_PER_MS, end_ms=-(-end_ns // NS_PER_MS)
        )
        return PointCount(points=count, distinct_points=count)

    def own_metrics(self, client: httpx.Client) -> dict[str, float]:
        """Prometheus's own counters from ``/metrics``, summed over their label sets."""
        response = client.get("/metrics")
        response.raise_for_status()
        totals: dict[str, float] = {}
        for name, _, value in _SAMPLE_LINE.findall(response.text):
            try:
                totals[name] = totals.get(name, 0.0) + float(value)
            except ValueError:
                continue
        return totals

    @classmethod
    def missing(cls) -> str | None:
        if shutil.which(BINARY) is None:
            return f"{BINARY} is not installed (bench/install-peers.sh installs it)"
        return None

    def version(self) -> str:
        return debian_version(PACKAGE)
