"""Line-protocol ingest: throughput, resources, durability and bytes per value.

For each system in turn (never two at once on this 2-core machine): start a fresh
instance, let wrk POST distinct 5,000-line bodies over 4 connections for a fixed time,
sample the server's RSS and CPU, then count what it stores and compare that with what it
acknowledged. Afterwards a second fresh instance per system takes the same 2,000,000
values once and is measured on disk (bench/footprint.py).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import results
from bench.footprint import POINTS, footprint_server, measure_footprint
from bench.procs import Sampler, Usage
from bench.progress import say
from bench.systems import PHASE_ERRORS, Heron, InfluxDB, PointCount, Server, VictoriaMetrics, describe_failure, running
from bench.timefmt import NS_PER_S
from bench.tsbs import DEFAULT_HOSTS, FIELDS, INTERVAL_NS, BodySet, write_bodies
from bench.wrk_runner import CONNECTIONS, THREADS, WrkResult, bodies_needed, run_wrk

SYSTEMS: tuple[type[Server], ...] = (Heron, InfluxDB, VictoriaMetrics)
LINES_PER_BODY = 5_000
#: Enough distinct bodies for this rate, above VictoriaMetrics' ~370,000 points/s here.
MAX_POINTS_PER_S = 500_000

METRICS = [
    results.Metric("points_per_s", "Acknowledged (2xx) points per second", "points/s", "higher"),
    results.Metric("values_per_s", "Acknowledged (2xx) values per second", "values/s", "higher"),
    results.Metric("peak_rss_mib", "Server peak RSS (sampled)", "MiB", "lower"),
    results.Metric("cpu_s", "Server CPU time during the run", "s", "lower"),
    results.Metric("cpu_us_per_point", "Server CPU per acknowledged point", "µs", "lower"),
    results.Metric("bytes_per_value", "Disk per stored value, at rest", "bytes", "lower"),
]


def durability(wrk: WrkResult, stored: PointCount, bodies: BodySet) -> dict[str, Any]:
    """Compare what a system stores with what it acknowledged.

    Requests still in flight when wrk stops may or may not have been applied, so the
    stored count may lie anywhere between acknowledged and sent points. Once a thread has
    wrapped around its bodies, InfluxDB and VictoriaMetrics overwrite identical points
    while Heron appends them, so then only distinct (hostname, time) pairs are compared.
    """
    lines = bodies.lines_per_body
    acked, sent = wrk.ok * lines, wrk.sent * lines
    low, high = min(acked, bodies.points), min(sent, bodies.points)
    distinct = stored.distinct_points
    verdict = "ok"
    if distinct < low:
        verdict = f"LOST {low - distinct} acknowledged points"
    elif distinct > high:
        verdict = f"{distinct - high} more points than were sent"
    elif not wrk.wrapped and stored.points != distinct:
        verdict = f"{stored.points - distinct} duplicated points"
    return {
        "acknowledged_points": acked,
        "sent_points": sent,
        "stored_points": stored.points,
        "stored_distinct_points": distinct,
        "bodies_wrapped": wrk.wrapped,
        "verdict": verdict,
    }


def measure_throughput(
    kind: type[Server], workdir: Path, bodies: BodySet, duration_s: int, *, connections: int = CONNECTIONS
) -> dict[str, Any]:
    """One wrk run against a fresh instance; its figures, durability and wrk's own cost."""
    server = kind(workdir / f"{kind.key}-throughput-{connections}")
    try:
        with running(server):
            with server.client() as client:
                server.create_database(client)
            sampler = Sampler(server.pid)
            sampler.start()
            wrk = run_wrk(
                url=server.base_url,
                bodies=bodies,
                write_path=server.write_path(),
                authorization=server.headers().get("Authorization", ""),
                duration_s=duration_s,
                connections=connections,
            )
            usage: Usage = sampler.stop()
            server.assert_alive()
            with server.client() as client:
                first, stored = server.count_settled(client, start_ns=bodies.start_ns, end_ns=bodies.end_ns)
            stopping = time.monotonic()
            server.stop()
            stop_s = time.monotonic() - stopping
    finally:
        shutil.rmtree(server.workdir, ignore_errors=True)
    points = wrk.ok * bodies.lines_per_body
    points_per_s = points / wrk.duration_s
    return {
        "values": {
            "points_per_s": round(points_per_s),
            "values_per_s": round(points_per_s * len(FIELDS)),
            "peak_rss_mib": round(usage.peak_rss_bytes / 2**20, 1),
            "cpu_s": round(usage.cpu_s, 2),
            "cpu_us_per_point": round(1e6 * usage.cpu_s / points, 2) if points else None,
        },
        "server_cpu_percent": round(usage.cpu_percent, 1),
        # What neither the server nor wrk used of the 2 cores: other processes' noise.
        "other_cpu_percent": round(max(0.0, usage.machine_busy_s - usage.cpu_s - wrk.cpu_s) / usage.wall_s * 100, 1),
        "shutdown_s": round(stop_s, 2),
        "wrk": {
            "requests_sent": wrk.sent,
            "responses_2xx": wrk.ok,
            "responses_other": wrk.other_status,
            "socket_errors": wrk.errors,
            "latency_ms": {k: round(v / 1000, 1) for k, v in wrk.latency_us.items()},
            "duration_s": round(wrk.duration_s, 2),
            "cpu_percent": round(wrk.cpu_percent, 1),
        },
        "durability": durability(wrk, stored, bodies) | {"stored_points_at_first_count": first.points},
    }


def _data_start_ns(bodies: int) -> int:
    """Start times so the data ends an hour ago: recent, but never in the future."""
    span_ns = bodies * (LINES_PER_BODY // DEFAULT_HOSTS) * INTERVAL_NS
    now_ns = time.time_ns() // INTERVAL_NS * INTERVAL_NS
    return now_ns - span_ns - 3600 * NS_PER_S


def _measure(kind: type[Server], workdir: Path, bodies: BodySet, duration_s: int, entry: dict[str, Any]) -> None:
    """Throughput, then footprint, of one system, filled into its results ``entry`` as they come."""
    say(f"ingest: {kind.label}: wrk for {duration_s} s")
    figures = measure_throughput(kind, workdir, bodies, duration_s)
    entry["values"].update(figures.pop("values"))
    entry.update(figures)
    say(
        f"ingest: {kind.label}: {entry['values']['points_per_s']:,} points/s, "
        f"durability {entry['durability']['verdict']}"
    )
    say(f"ingest: {kind.label}: bytes per value ({POINTS:,} points once)")
    footprint = measure_footprint(
        footprint_server(kind, workdir / f"{kind.key}-footprint"),
        bodies.head(POINTS // LINES_PER_BODY),
    )
    entry["values"]["bytes_per_value"] = round(footprint.bytes_per_value, 3)
    entry["footprint"] = asdict(footprint)
    if footprint.checkpointed_bytes is not None:
        entry["footprint"]["bytes_per_value_if_checkpointed"] = round(
            footprint.checkpointed_bytes / footprint.values, 3
        )
    say(f"ingest: {kind.label}: {footprint.bytes_per_value:.2f} bytes/value")


def run_ingest(*, duration_s: int, workdir: Path) -> dict[str, Any]:
    """Run the ingest benchmark for every available system; return the results document."""
    count = bodies_needed(duration_s=duration_s, max_points_per_s=MAX_POINTS_PER_S, lines_per_body=LINES_PER_BODY)
    say(f"ingest: generating {count} bodies of {LINES_PER_BODY} lines")
    generated = time.monotonic()
    bodies = write_bodies(
        workdir / "bodies", count=count, start_ns=_data_start_ns(count), lines_per_body=LINES_PER_BODY
    )
    generate_s = time.monotonic() - generated
    body_bytes = bodies.path(0).stat().st_size
    systems: dict[str, dict[str, Any]] = {}
    for kind in SYSTEMS:
        entry: dict[str, Any] = {"label": kind.label, "values": {m.key: None for m in METRICS}}
        systems[kind.key] = entry
        reason = kind.missing()
        if reason:
            say(f"ingest: skipping {kind.label}: {reason}")
            entry["error"] = reason
            continue
        entry["version"] = kind(workdir).version()
        try:
            _measure(kind, workdir, bodies, duration_s, entry)
        except PHASE_ERRORS as exc:  # one system's failure must not lose the others' figures
            say(f"ingest: {kind.label} FAILED: {describe_failure(exc)}")
            entry["error"] = describe_failure(exc)
    shutil.rmtree(bodies.directory, ignore_errors=True)
    return _document(systems, bodies, duration_s, generate_s=generate_s, body_bytes=body_bytes)


def _load_generator_check(systems: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Evidence that wrk was not the limit: its own CPU share, and the best rate it drove."""
    ran = {k: s for k, s in systems.items() if "wrk" in s}
    if not ran:
        return {}
    wrk_cpu = {k: s["wrk"]["cpu_percent"] for k, s in ran.items()}
    fastest = max(ran, key=lambda k: ran[k]["values"]["points_per_s"] or 0)
    top_rate = ran[fastest]["values"]["points_per_s"]
    return {
        "wrk_cpu_percent_of_one_core": wrk_cpu,
        "fastest_system": fastest,
        "fastest_points_per_s": top_rate,
        "verdict": (
            f"wrk used at most {max(wrk_cpu.values()):.0f}% of one core (2 threads, 200% possible) "
            f"and drove {ran[fastest]['label']} to {top_rate:,} points/s with the same settings"
        ),
    }


def _document(
    systems: dict[str, dict[str, Any]],
    bodies: BodySet,
    duration_s: int,
    *,
    generate_s: float,
    body_bytes: int,
) -> dict[str, Any]:
    return results.build(
        benchmark="ingest",
        title="Line-protocol ingest",
        description=(
            "TSBS cpu-only data (measurement cpu, 100 hosts, 10 tags, 10 float fields, 10 s "
            "interval, ns timestamps) in 5,000-line bodies POSTed by wrk to each system's "
            "InfluxDB 1.x /write endpoint; then 200,000 points (2,000,000 values) written "
            "once to a fresh instance and measured on disk at rest."
        ),
        parameters={
            "duration_s": duration_s,
            "wrk_threads": THREADS,
            "wrk_connections": CONNECTIONS,
            "lines_per_body": bodies.lines_per_body,
            "hosts": bodies.hosts,
            "distinct_bodies": bodies.count,
            "body_bytes": body_bytes,
            "body_generation_s": round(generate_s, 1),
            "footprint_points": POINTS,
            "footprint_values": POINTS * len(FIELDS),
        },
        metrics=METRICS,
        systems=systems,
        checks={
            "durability": {k: s["durability"]["verdict"] for k, s in systems.items() if "durability" in s},
            "load_generator": _load_generator_check(systems),
            "footprint_wal_bytes_left_after_stop": {
                k: s["footprint"]["wal_bytes"] for k, s in systems.items() if "footprint" in s
            },
            "footprint_bytes_per_value_after_a_manual_duckdb_checkpoint": {
                k: s["footprint"]["bytes_per_value_if_checkpointed"]
                for k, s in systems.items()
                if "bytes_per_value_if_checkpointed" in s.get("footprint", {})
            },
            "other_processes_cpu_percent": {
                k: s["other_cpu_percent"] for k, s in systems.items() if "other_cpu_percent" in s
            },
        },
        notes=[
            "All systems ran one at a time on the same machine, wrk included; compare figures only within one run.",
            "other_processes_cpu_percent is CPU (percent of one core, 200 = both) used during each "
            "wrk run by processes other than the server and wrk: the noise of a shared machine.",
            "For orientation only (other runs are not comparable): the product issue measured "
            "InfluxDB at about 175,000 points/s and VictoriaMetrics at about 370,000 on a quiet machine "
            "of this kind, and 8.3 and 3.2 bytes per value; the target is Heron >= 1.0x InfluxDB.",
            "Values are a per-host random walk with two decimals (10.00-99.99), which "
            "affects compression and so bytes per value.",
            "InfluxDB ran with its monitor store, query log and HTTP access log off; "
            "VictoriaMetrics with -retentionPeriod=100y; Heron with its defaults.",
            "Bytes per value count allocated blocks of the whole data directory "
            "(metadata, indexes and WAL included) after a clean stop; InfluxDB was first "
            "left idle until its WAL was empty and each shard was one compacted TSM file.",
        ],
    )
