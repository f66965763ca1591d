"""PromQL dashboard queries: Heron beside Prometheus and VictoriaMetrics on the same data.

node_exporter-like series (per instance: CPU counters per cpu and mode, memory gauges,
network and disk counters, a request-duration histogram, ``up`` and ``node_load1``), one
sample every 15 s, go to each system's remote-write endpoint in time order. Each system
then answers five dashboard queries one at a time over one keep-alive connection, after a
warm-up; the figure is the median client-side latency (request sent to last byte). Every
answer's series count is compared across the systems, so a fast wrong answer cannot pass
for a fast one.

The issue's size is 100 instances of about 1,000 series over one day
(``--promql-series 1000 --promql-hours 24``); the default is smaller so the run fits a
shared two-core machine (see the ``parameters`` of the results).

Run alone with ``python -m bench --only promql``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cramjam
import httpx
import numpy as np

from bench import results
from bench.procs import Sampler
from bench.progress import say
from bench.systems import PHASE_ERRORS, Heron, Server, VictoriaMetrics, describe_failure, running
from bench.systems.prometheus import Prometheus

INTERVAL_MS = 15_000
#: Samples of every series per request: Prometheus refuses samples an hour older than its newest.
WINDOW_MS = 10 * 60_000
WARMUP = 2
REPETITIONS = 11
DEFAULT_INSTANCES = 100
DEFAULT_SERIES = 100
DEFAULT_HOURS = 24
CPUS = 8
MODES = ("idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice")
BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf")


@dataclass(frozen=True, slots=True)
class Dashboard:
    """One panel's query: instant (at the end) or over ``range_s`` at ``step_s``."""

    key: str
    label: str
    query: str
    range_s: int = 0
    step_s: int = 0


def dashboards(instance: str) -> list[Dashboard]:
    return [
        Dashboard(
            "cpu_rate_24h",
            "sum by (instance) (rate(cpu[5m])), 24 h at 60 s",
            'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))',
            86_400,
            60,
        ),
        Dashboard(
            "histogram_quantile_1h",
            "histogram_quantile(0.9, ...) over 1 h at 15 s",
            "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
            3_600,
            15,
        ),
        Dashboard(
            "topk_instant", "topk(5, rate(network[5m])), instant", "topk(5, rate(node_network_receive_bytes_total[5m]))"
        ),
        Dashboard("count_by_job", "count by (job) (up), instant", "count by (job) (up)"),
        Dashboard("one_series", "one series, instant", f'node_load1{{instance="{instance}"}}'),
    ]


# --- the data ---------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _labels_bytes(labels: dict[str, str]) -> bytes:
    return b"".join(_field(1, _field(1, k.encode()) + _field(2, v.encode())) for k, v in sorted(labels.items()))


def _samples_bytes(times: np.ndarray, values: np.ndarray) -> bytes:
    """``Sample`` messages (field 2 of a TimeSeries) for ms times between 2^35 and 2^42 (6-byte varints)."""
    n = len(times)
    out = np.zeros((n, 18), dtype=np.uint8)
    out[:, 0] = 0x12  # field 2, length-delimited
    out[:, 1] = 16
    out[:, 2] = 0x09  # value: field 1, fixed64
    out[:, 3:11] = values.astype("<f8").view(np.uint8).reshape(n, 8)
    out[:, 11] = 0x10  # timestamp: field 2, varint
    t = times.astype(np.uint64)
    for k in range(6):
        group = (t >> np.uint64(7 * k)) & np.uint64(0x7F)
        out[:, 12 + k] = group.astype(np.uint8) | (0x80 if k < 5 else 0)
    return out.tobytes()


@dataclass
class Dataset:
    """Series labels (encoded) and their values on a regular grid of times."""

    labels: list[bytes]
    values: np.ndarray  # series x times
    times: np.ndarray
    first_instance: str

    @property
    def samples(self) -> int:
        return int(self.values.size)

    def bodies(self) -> Iterator[bytes]:
        """Snappy WriteRequests, each every series' samples of one window, in time order."""
        for start in range(0, len(self.times), WINDOW_MS // INTERVAL_MS):
            stop = start + WINDOW_MS // INTERVAL_MS
            times = self.times[start:stop]
            parts = [
                _field(1, labels + _samples_bytes(times, self.values[i, start:stop]))
                for i, labels in enumerate(self.labels)
            ]
            yield bytes(cramjam.snappy.compress_raw(b"".join(parts)))


def make_dataset(*, instances: int, series_per_instance: int, hours: float, seed: int = 15) -> Dataset:
    """node_exporter-like series ending now, ``series_per_instance`` per instance (at least 96)."""
    rng = np.random.default_rng(seed)
    end = int(time.time() * 1000) // INTERVAL_MS * INTERVAL_MS
    n = int(hours * 3_600_000 // INTERVAL_MS)
    times = np.arange(end - (n - 1) * INTERVAL_MS, end + 1, INTERVAL_MS, dtype=np.int64)
    # 8 CPUs x 8 modes, 22 other series, and the rest memory-like gauges (a node_exporter
    # shows hundreds of those), so the CPU query reads the same 5,600 series at every size.
    gauges = max(10, series_per_instance - CPUS * len(MODES) - 22)
    per_instance = CPUS * len(MODES) + 22 + gauges
    labels: list[bytes] = []
    # One preallocated matrix (the size is 4.6 GB of float64), filled row by row.
    rows = np.empty((instances * per_instance, n))

    def add(name: str, extra: dict[str, str], values: np.ndarray) -> None:
        rows[len(labels)] = values
        labels.append(_labels_bytes({"__name__": name, **extra}))

    for k in range(instances):
        base = {"instance": f"host-{k}:9100", "job": "node"}
        for cpu in range(CPUS):
            for mode, speed in zip(MODES, (12.0, 1.5, 0.8, 0.2, 0.05, 0.1, 0.01, 0.02), strict=True):
                add("node_cpu_seconds_total", {**base, "cpu": str(cpu), "mode": mode}, np.cumsum(rng.random(n) * speed))
        for i in range(gauges):
            add(f"node_memory_{i}_bytes", base, 1e9 + np.cumsum(rng.normal(0, 1e5, n)))
        for device in ("eth0", "eth1", "eth2", "eth3"):
            add("node_network_receive_bytes_total", {**base, "device": device}, np.cumsum(rng.random(n) * 1e6))
            add(
                "node_disk_io_time_seconds_total",
                {**base, "device": device.replace("eth", "sd")},
                np.cumsum(rng.random(n)),
            )
        counts = np.cumsum(rng.poisson(30, size=(n, len(BUCKETS))), axis=0).cumsum(axis=1).T.astype(np.float64)
        for le, row in zip(BUCKETS, counts, strict=True):
            add("http_request_duration_seconds_bucket", {**base, "le": le}, row)
        add("http_request_duration_seconds_count", base, counts[-1])
        add("http_request_duration_seconds_sum", base, np.cumsum(rng.random(n) * 3))
        add("up", base, np.ones(n))
        add("node_load1", base, np.abs(rng.normal(1, 0.5, n)))
    assert len(labels) == len(rows)
    return Dataset(labels, rows, times, "host-0:9100")


# --- the systems -------------------------------------------------------------------------------


def _write_path(server: Server) -> str:
    if isinstance(server, Heron):
        return f"/api/v1/prom/write?db={server.database}"
    return "/api/v1/write"


def _query_path(server: Server, instant: bool) -> str:
    return "/api/v1/query" if instant else "/api/v1/query_range"


def _params(server: Server, dash: Dashboard, end_s: float) -> dict[str, Any]:
    params: dict[str, Any] = {"query": dash.query}
    if dash.range_s:
        params.update(start=end_s - dash.range_s, end=end_s, step=dash.step_s)
    else:
        params["time"] = end_s
    if isinstance(server, Heron):
        params["db"] = server.database
    if isinstance(server, VictoriaMetrics):
        params["nocache"] = "1"
    return params


HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}


def _load(server: Server, client: httpx.Client, data: Dataset) -> float:
    """Send every body (encoded as it goes, so memory holds one at a time); seconds taken."""
    started = time.perf_counter()
    path = _write_path(server)
    for body in data.bodies():
        response = client.post(path, content=body, headers=HEADERS)
        if response.status_code >= 300:
            raise RuntimeError(f"{server.label} answered {response.status_code} to a write: {response.text[:300]}")
    server.flush(client)
    return time.perf_counter() - started


def _series_count(response: httpx.Response) -> int:
    body = response.json()
    if body.get("status") != "success":
        raise RuntimeError(f"query failed: {body.get('error')}")
    return len(body["data"]["result"])


def _measure(server: Server, client: httpx.Client, dash: Dashboard, end_s: float) -> tuple[float, int]:
    path = _query_path(server, dash.range_s == 0)
    params = _params(server, dash, end_s)
    count = 0
    for _ in range(WARMUP):
        count = _series_count(client.get(path, params=params))
    latencies = []
    for _ in range(REPETITIONS):
        started = time.perf_counter()
        response = client.get(path, params=params)
        response.read()
        latencies.append(time.perf_counter() - started)
        count = _series_count(response)
    return statistics.median(latencies) * 1000, count


def run_promql(
    *, workdir: Path, instances: int = DEFAULT_INSTANCES, series: int = DEFAULT_SERIES, hours: float = DEFAULT_HOURS
) -> dict[str, Any]:
    say(f"promql: generating {instances} instances x ~{series} series x {hours} h")
    data = make_dataset(instances=instances, series_per_instance=series, hours=hours)
    end_s = int(data.times[-1]) / 1000
    dashes = dashboards(data.first_instance)
    metrics = [
        *(results.Metric(d.key, f"{d.label} (median)", "ms", "lower") for d in dashes),
        results.Metric("load_s", "Remote-write load of the data set", "s", "lower"),
        results.Metric("peak_rss_mib", "Server peak RSS while querying (sampled)", "MiB", "lower"),
    ]
    systems: dict[str, dict[str, Any]] = {}
    counts: dict[str, dict[str, int]] = {}
    for cls in (Heron, Prometheus, VictoriaMetrics):
        problem = cls.missing()
        entry: dict[str, Any] = {"label": cls.label, "values": {}}
        systems[cls.key] = entry
        if problem:
            entry["error"] = problem
            continue
        server = cls(workdir / f"promql-{cls.key}")
        try:
            with running(server), server.client(timeout_s=600) as client:
                entry["version"] = server.version()
                server.create_database(client)
                say(f"promql: loading {data.samples:,} samples into {cls.label}")
                entry["values"]["load_s"] = round(_load(server, client, data), 2)
                sampler = Sampler(server.pid)
                sampler.start()
                counts[cls.key] = {}
                for dash in dashes:
                    latency, found = _measure(server, client, dash, end_s)
                    entry["values"][dash.key] = round(latency, 2)
                    counts[cls.key][dash.key] = found
                    say(f"promql: {cls.label} {dash.key}: {latency:.1f} ms, {found} series")
                usage = sampler.stop()
                entry["values"]["peak_rss_mib"] = round(usage.peak_rss_bytes / 2**20, 1)
                server.stop()
        except PHASE_ERRORS as exc:
            entry["error"] = describe_failure(exc)
            say(f"promql: {cls.label} failed: {entry['error']}")
    reference = counts.get("prometheus", {})
    mismatches = {
        key: {d: n for d, n in found.items() if reference.get(d) not in (None, n)}
        for key, found in counts.items()
        if key != "prometheus"
    }
    return results.build(
        benchmark="promql",
        title="PromQL dashboard queries",
        description=__doc__.splitlines()[0],
        parameters={
            "instances": instances,
            "series_per_instance": len(data.labels) // instances,
            "hours": hours,
            "interval_s": INTERVAL_MS // 1000,
            "samples": data.samples,
            "warmup": WARMUP,
            "repetitions": REPETITIONS,
            "queries": {d.key: d.query for d in dashes},
        },
        metrics=metrics,
        systems=systems,
        checks={"series_counts": counts, "differences_from_prometheus": mismatches},
        notes=[
            "Latency is client-side, one query at a time over one keep-alive connection, after a warm-up.",
            "Run on a two-core machine shared with other work unless the date says otherwise.",
        ],
    )
