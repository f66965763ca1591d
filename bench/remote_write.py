"""Prometheus remote write: Heron beside Prometheus's own receiver and VictoriaMetrics.

Two phases, each system alone on the machine in turn:

1. **Recorded payloads.** The same snappy-compressed WriteRequests (bench/rw_payloads.py:
   2,000 series × 10 labels per request, 200 metric families of 10 series) go to each
   system's remote-write endpoint from wrk (bench/wrk/remote_write.lua) over 4 connections,
   after a warm-up that sends each connection's first body (so every system already knows
   the series when the clock starts). Each connection owns its series and sends them in
   time order, because Prometheus rejects a sample older than the last one of its series.
   Afterwards the stored samples are counted and compared with those acknowledged.
2. **The real client.** Prometheus scrapes synthetic targets (the same series shape) every
   second and remote-writes to Heron. Its own counters give the samples offered, sent,
   failed and retried; then scraping stops, the queue drains, and Heron's stored samples
   must equal the samples Prometheus saw acknowledged.

Run alone with ``python -m bench.remote_write [--duration SECONDS]``.
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import results
from bench.procs import Sampler, wait_until
from bench.progress import say
from bench.rw_payloads import JOB, METRIC_PREFIX, SERIES_PER_REQUEST, RecordedBodies, exposition_page, write_bodies
from bench.systems import PHASE_ERRORS, Heron, Server, VictoriaMetrics, running
from bench.systems.heron import sql_rows
from bench.systems.prometheus import Prometheus

SCRIPT = Path(__file__).with_name("wrk") / "remote_write.lua"
CONNECTIONS = 4
#: Enough distinct bodies for this rate (VictoriaMetrics took about 2,000,000 samples/s here).
MAX_SAMPLES_PER_S = 2_500_000
#: Prometheus refuses samples more than an hour older than its newest: keep the data within.
MAX_SPAN_MS = 50 * 60 * 1000
DEFAULT_DURATION_S = 10
#: Longer runs would need more distinct bodies than is reasonable to keep on disk (~100 KB each).
MAX_DURATION_S = 15
CLIENT_TARGETS = 10
CLIENT_WARMUP_S = 8.0
DRAIN_TIMEOUT_S = 90.0
REQUEST_TIMEOUT_S = 60
SELECTOR = f'{{__name__=~"{METRIC_PREFIX}.+"}}'

METRICS = [
    results.Metric("samples_per_s", "Acknowledged (2xx) samples per second", "samples/s", "higher"),
    results.Metric("peak_rss_mib", "Server peak RSS (sampled)", "MiB", "lower"),
    results.Metric("cpu_s", "Server CPU time during the run", "s", "lower"),
    results.Metric("cpu_us_per_sample", "Server CPU per acknowledged sample", "µs", "lower"),
]


@dataclass(frozen=True, slots=True)
class Target:
    """How the load generator reaches one system's remote-write endpoint."""

    path: str
    count: Callable[[Server, httpx.Client, RecordedBodies], int]


# --- counting what each system stored -------------------------------------------------------


def heron_table_counts(server: Heron, client: httpx.Client, *, prefix: str = "") -> int:
    """Rows in every table of the bench database whose name starts with ``prefix``."""
    tables = [next(iter(row.values())) for row in sql_rows(server.sql(client, "SHOW TABLES").json())]
    tables = [t for t in tables if str(t).startswith(prefix)]
    if not tables:
        return 0
    union = " UNION ALL ".join(f'SELECT count(*) AS n FROM "{t}"' for t in tables)
    rows = sql_rows(server.sql(client, f"SELECT sum(n) AS n FROM ({union})").json())
    value = next(iter(rows[0].values())) if isinstance(rows[0], dict) else rows[0][0]
    return int(value or 0)


def _count_heron(server: Server, client: httpx.Client, bodies: RecordedBodies) -> int:
    assert isinstance(server, Heron)
    return heron_table_counts(server, client, prefix=METRIC_PREFIX)


def _count_prometheus(server: Server, client: httpx.Client, bodies: RecordedBodies) -> int:
    assert isinstance(server, Prometheus)
    return server.count_samples(client, selector=SELECTOR, start_ms=bodies.start_ms, end_ms=bodies.end_ms)


def _count_victoriametrics(server: Server, client: httpx.Client, bodies: RecordedBodies) -> int:
    server.flush(client)
    window_ms = bodies.end_ms - bodies.start_ms
    response = client.get(
        "/api/v1/query",
        params={
            "query": f"sum(count_over_time({SELECTOR}[{window_ms}ms]))",
            "time": f"{(bodies.end_ms - 1) / 1000:.3f}",
            "nocache": "1",
        },
    )
    response.raise_for_status()
    result = response.json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def _make(kind: type[Server], workdir: Path) -> Server:
    return kind(workdir)


SYSTEMS: dict[type[Server], Target] = {
    Heron: Target(f"/prometheus/v1/write?db={Heron.database}", _count_heron),
    Prometheus: Target("/api/v1/write", _count_prometheus),
    VictoriaMetrics: Target("/api/v1/write", _count_victoriametrics),
}


def settled(count: Callable[[], int], *, timeout_s: float = 60.0) -> tuple[int, int]:
    """Count until two counts a second apart agree (VictoriaMetrics makes data searchable late)."""
    first = last = count()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(1.0)
        current = count()
        if current == last:
            break
        last = current
    return first, last


# --- phase 1: recorded payloads through wrk -------------------------------------------------


def warm_up(server: Server, bodies: RecordedBodies, path: str) -> int:
    """Send each connection's first body, so tables and series exist before the timed run.

    Every system pays for a series the first time it sees it (Heron creates a table per
    metric); the timed run then measures ingestion into known series, as in steady state.
    Returns the samples acknowledged.
    """
    acknowledged = 0
    with server.client() as client:
        for connection in range(bodies.connections):
            body = (bodies.directory / str(connection) / f"{0:05d}.bin").read_bytes()
            headers = {
                "Content-Encoding": "snappy",
                "Content-Type": "application/x-protobuf",
                "X-Prometheus-Remote-Write-Version": "0.1.0",
            }
            response = client.post(path, content=body, headers=headers)
            response.raise_for_status()
            acknowledged += SERIES_PER_REQUEST
    return acknowledged


def run_wrk(url: str, bodies: RecordedBodies, path: str, authorization: str, duration_s: int) -> dict[str, Any]:
    """wrk with one thread per connection from step 1 on; its WRK_RESULT plus its own CPU seconds."""
    argv = [
        "wrk", f"-t{bodies.connections}", f"-c{bodies.connections}", f"-d{duration_s}s",
        f"--timeout={REQUEST_TIMEOUT_S}s", "-s", str(SCRIPT), url,
        "--", str(bodies.directory), str(bodies.steps), path, authorization, "1",
    ]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"wrk failed:\n{output}")
    for line in output.splitlines():
        if line.startswith("WRK_RESULT "):
            data: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
            break
    else:
        raise RuntimeError(f"wrk printed no WRK_RESULT line:\n{output}")
    data["duration_s"] = data.pop("duration_us") / 1e6 or time.monotonic() - started
    data["cpu_s"] = usage.ru_utime + usage.ru_stime
    return data


def durability(wrk: dict[str, Any], stored: int, warmed: int) -> dict[str, Any]:
    """Stored samples lie between the acknowledged and the sent ones (in flight at the end)."""
    acked, sent = warmed + wrk["ok"] * SERIES_PER_REQUEST, warmed + wrk["sent"] * SERIES_PER_REQUEST
    verdict = "ok"
    if stored < acked:
        verdict = f"LOST {acked - stored} acknowledged samples"
    elif stored > sent:
        verdict = f"{stored - sent} more samples than were sent"
    return {"acknowledged_samples": acked, "sent_samples": sent, "stored_samples": stored, "verdict": verdict}


def measure_recorded(kind: type[Server], workdir: Path, bodies: RecordedBodies, duration_s: int) -> dict[str, Any]:
    """One wrk run against a fresh instance of ``kind``."""
    target = SYSTEMS[kind]
    server = _make(kind, workdir / f"{kind.key}-rw")
    with running(server):
        with server.client() as client:
            server.create_database(client)
        warmed = warm_up(server, bodies, target.path)
        sampler = Sampler(server.pid)
        sampler.start()
        wrk = run_wrk(server.base_url, bodies, target.path, server.headers().get("Authorization", ""), duration_s)
        usage = sampler.stop()
        server.assert_alive()
        with server.client() as client:
            first, stored = settled(lambda: target.count(server, client, bodies))
        server.stop()
    shutil.rmtree(server.workdir, ignore_errors=True)
    samples = wrk["ok"] * SERIES_PER_REQUEST
    return {
        "values": {
            "samples_per_s": round(samples / wrk["duration_s"]),
            "peak_rss_mib": round(usage.peak_rss_bytes / 2**20, 1),
            "cpu_s": round(usage.cpu_s, 2),
            "cpu_us_per_sample": round(1e6 * usage.cpu_s / samples, 3) if samples else None,
        },
        "server_cpu_percent": round(usage.cpu_percent, 1),
        "other_cpu_percent": round(max(0.0, usage.machine_busy_s - usage.cpu_s - wrk["cpu_s"]) / usage.wall_s * 100, 1),
        "wrk": {
            "requests_with_samples": wrk["sent"],
            "responses_2xx": wrk["ok"],
            "responses_other": wrk["other_status"],
            "bodies_exhausted": wrk["exhausted"],
            "socket_errors": wrk["errors"],
            "latency_ms": {k: round(v / 1000, 1) for k, v in wrk["latency_us"].items()},
            "duration_s": round(wrk["duration_s"], 2),
            "cpu_percent": round(100 * wrk["cpu_s"] / wrk["duration_s"], 1),
        },
        "warm_up_samples": warmed,
        "durability": durability(wrk, stored, warmed) | {"stored_samples_at_first_count": first},
    }


# --- phase 2: Prometheus itself as the client -----------------------------------------------


@contextmanager
def exporters(count: int) -> Iterator[list[str]]:
    """``count`` static scrape pages on 127.0.0.1; yields their host:port addresses."""
    servers = []
    for target in range(count):
        page = exposition_page(target)

        class Page(http.server.BaseHTTPRequestHandler):
            body = page

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(self.body)))
                self.end_headers()
                self.wfile.write(self.body)

            def log_message(self, *args: object) -> None:
                pass

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
    try:
        yield [f"127.0.0.1:{s.server_address[1]}" for s in servers]
    finally:
        for httpd in servers:
            httpd.shutdown()
            httpd.server_close()


def client_config(heron: Heron, targets: list[str]) -> str:
    """Prometheus scraping ``targets`` every second and remote-writing to ``heron``."""
    user, password = base64.b64decode(heron.headers()["Authorization"].split()[1]).decode().split(":", 1)
    scrape = "scrape_configs: []\n"
    if targets:
        listed = ", ".join(f'"{t}"' for t in targets)
        scrape = f"scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: [{listed}]\n"
    return f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
{scrape}remote_write:
  - url: "{heron.base_url}/prometheus/v1/write?db={heron.database}"
    basic_auth: {{username: "{user}", password: "{password}"}}
    queue_config:
      max_samples_per_send: {SERIES_PER_REQUEST}
      capacity: {SERIES_PER_REQUEST * 5}
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 5s
      retry_on_http_429: true
"""


_COUNTERS = {
    "offered": "prometheus_remote_storage_samples_in_total",
    "sent": "prometheus_remote_storage_samples_total",
    "failed": "prometheus_remote_storage_samples_failed_total",
    "retried": "prometheus_remote_storage_samples_retried_total",
    "dropped": "prometheus_remote_storage_samples_dropped_total",
    "pending": "prometheus_remote_storage_samples_pending",
    "newest_s": "prometheus_remote_storage_highest_timestamp_in_seconds",
    "newest_sent_s": "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
}


def counters(prom: Prometheus, client: httpx.Client) -> dict[str, float]:
    own = prom.own_metrics(client)
    return {key: own.get(name, 0.0) for key, name in _COUNTERS.items()}


def measure_client(workdir: Path, duration_s: int) -> dict[str, Any]:
    """Prometheus scrapes ``CLIENT_TARGETS`` pages every second and remote-writes to Heron."""
    heron = Heron(workdir / "heron-client")
    with running(heron), exporters(CLIENT_TARGETS) as targets:
        with heron.client() as client:
            heron.create_database(client)
        prom = Prometheus(workdir / "prometheus-client", config=client_config(heron, targets), receiver=False)
        with running(prom), prom.client() as pc:
            wait_until(lambda: counters(prom, pc)["sent"] > 0, timeout_s=60, what="Prometheus's first remote write")
            time.sleep(CLIENT_WARMUP_S)
            sampler = Sampler(heron.pid)
            before, started = counters(prom, pc), time.monotonic()
            sampler.start()
            time.sleep(duration_s)
            after, elapsed = counters(prom, pc), time.monotonic() - started
            usage = sampler.stop()
            # Stop scraping (a reload without targets), let the queue drain, then compare.
            (prom.workdir / "prometheus.yml").write_text(client_config(heron, []))
            pc.post("/-/reload").raise_for_status()
            final = drained(prom, pc)
            with heron.client() as client:
                stored = heron_table_counts(heron, client)
            heron.assert_alive()
    shutil.rmtree(workdir / "heron-client", ignore_errors=True)
    shutil.rmtree(workdir / "prometheus-client", ignore_errors=True)
    rate = {k: round((after[k] - before[k]) / elapsed) for k in ("offered", "sent", "failed", "retried", "dropped")}
    lost = int(final["sent"]) - stored
    verdict = "ok" if lost == 0 and not final["failed"] else f"LOST {lost} sent samples, {final['failed']:.0f} failed"
    return {
        "targets": CLIENT_TARGETS,
        "series": CLIENT_TARGETS * SERIES_PER_REQUEST,
        "samples_per_s": rate,
        "lag_s_at_end": round(after["newest_s"] - after["newest_sent_s"], 1),
        "heron_cpu_percent": round(usage.cpu_percent, 1),
        "sent_total": int(final["sent"]),
        "failed_total": int(final["failed"]),
        "stored_total": stored,
        "verdict": verdict,
    }


def drained(prom: Prometheus, client: httpx.Client) -> dict[str, float]:
    """Counters once nothing is pending and the sent count has stopped moving."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    last = counters(prom, client)
    while time.monotonic() < deadline:
        time.sleep(2.0)
        current = counters(prom, client)
        if current["pending"] == 0 and current["sent"] == last["sent"]:
            return current
        last = current
    raise TimeoutError(f"Prometheus's remote-write queue did not drain within {DRAIN_TIMEOUT_S:.0f} s")


# --- the document ---------------------------------------------------------------------------


def run_remote_write(*, duration_s: int, workdir: Path) -> dict[str, Any]:
    """Both phases for every available system (at most ``MAX_DURATION_S`` each); the results document."""
    duration_s = min(duration_s, MAX_DURATION_S)
    steps = -(-MAX_SAMPLES_PER_S * duration_s // (SERIES_PER_REQUEST * CONNECTIONS)) + 2
    step_ms = min(1000, MAX_SPAN_MS // steps)
    say(f"remote_write: writing {steps * CONNECTIONS} bodies of {SERIES_PER_REQUEST} series")
    generated = time.monotonic()
    bodies = write_bodies(
        workdir / "rw-bodies", connections=CONNECTIONS, steps=steps, end_ms=time.time_ns() // 10**6, step_ms=step_ms
    )
    generate_s = time.monotonic() - generated
    systems: dict[str, dict[str, Any]] = {}
    for kind in SYSTEMS:
        entry: dict[str, Any] = {"label": kind.label, "values": {m.key: None for m in METRICS}}
        systems[kind.key] = entry
        reason = kind.missing() or (None if shutil.which("wrk") else "wrk is not installed")
        if reason:
            say(f"remote_write: skipping {kind.label}: {reason}")
            entry["error"] = reason
            continue
        entry["version"] = kind(workdir).version()
        try:
            say(f"remote_write: {kind.label}: wrk for {duration_s} s")
            figures = measure_recorded(kind, workdir, bodies, duration_s)
            entry["values"].update(figures.pop("values"))
            entry.update(figures)
            say(
                f"remote_write: {kind.label}: {entry['values']['samples_per_s']:,} samples/s, "
                f"durability {entry['durability']['verdict']}"
            )
        except PHASE_ERRORS as exc:  # one system's failure must not lose the others' figures
            say(f"remote_write: {kind.label} FAILED: {exc}")
            entry["error"] = f"{type(exc).__name__}: {exc}"
    shutil.rmtree(bodies.directory, ignore_errors=True)
    client: dict[str, Any] = {}
    if Prometheus.missing() is None and "error" not in systems["heron"]:
        try:
            say(f"remote_write: Prometheus scraping {CLIENT_TARGETS} targets into Heron for {duration_s} s")
            client = measure_client(workdir, duration_s)
            say(f"remote_write: real client: {client['samples_per_s']['sent']:,} samples/s, {client['verdict']}")
        except PHASE_ERRORS as exc:
            say(f"remote_write: real client FAILED: {exc}")
            client = {"error": f"{type(exc).__name__}: {exc}"}
    return _document(systems, bodies, client, duration_s=duration_s, generate_s=generate_s)


def _document(
    systems: dict[str, dict[str, Any]],
    bodies: RecordedBodies,
    client: dict[str, Any],
    *,
    duration_s: int,
    generate_s: float,
) -> dict[str, Any]:
    return results.build(
        benchmark="remote_write",
        title="Prometheus remote write",
        description=(
            "Recorded snappy-compressed remote-write 1.0 requests (2,000 series × 10 labels, 200 metric "
            "families of 10 series, one float sample per series) POSTed by wrk over 4 connections, each "
            "owning its series and sending them in time order (after one warm-up request per connection), "
            "to Heron's /prometheus/v1/write, "
            "Prometheus's receiver (--web.enable-remote-write-receiver) and VictoriaMetrics's "
            "/api/v1/write; then Prometheus itself scraping synthetic targets into Heron."
        ),
        parameters={
            "duration_s": duration_s,
            "wrk_threads": CONNECTIONS,
            "wrk_connections": CONNECTIONS,
            "series_per_request": SERIES_PER_REQUEST,
            "labels_per_series": 10,
            "metric_families_per_request": SERIES_PER_REQUEST // 10,
            "bodies_per_connection": bodies.steps,
            "body_bytes_snappy": bodies.body_bytes,
            "sample_spacing_ms": bodies.step_ms,
            "body_generation_s": round(generate_s, 1),
            "client_targets": CLIENT_TARGETS,
            "client_scrape_interval_s": 1,
        },
        metrics=METRICS,
        systems=systems,
        checks={
            "durability": {k: s["durability"]["verdict"] for k, s in systems.items() if "durability" in s},
            "wrk_cpu_percent_of_one_core": {k: s["wrk"]["cpu_percent"] for k, s in systems.items() if "wrk" in s},
            "other_processes_cpu_percent": {
                k: s["other_cpu_percent"] for k, s in systems.items() if "other_cpu_percent" in s
            },
            "prometheus_client_to_heron": client,
        },
        notes=[
            "All systems ran one at a time on the same machine, wrk included; compare figures only within one run.",
            "Heron stores each metric family as a table: a request of 200 families means 200 tables "
            "appended to per commit, which dominates its cost; fewer, wider families go faster.",
            "other_processes_cpu_percent is CPU (percent of one core, 200 = both) used during each "
            "run by processes other than the server and wrk: the noise of a shared machine.",
            "The real-client phase reports Prometheus's own counters: offered (scraped) and sent "
            "samples per second, and its lag between the newest scraped and newest sent sample.",
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.remote_write", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=DEFAULT_DURATION_S, metavar="SECONDS")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="heron-bench-rw-") as temp:
        document = run_remote_write(duration_s=args.duration, workdir=Path(temp))
    say(f"wrote {results.write(document)}")
    return 1 if any(s.get("error") for s in document["systems"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
