"""Query latency: TSBS devops queries over one day of data, Heron SQL vs InfluxQL.

Each system gets the same day (100 hosts x 8,640 points), is restarted so it answers
from data at rest rather than from a write cache (Heron once its compaction has sorted the
day's windows by series, as it does by itself 30 s after writes stop), is warmed up, and then answers the
same seeded query instances one at a time over one keep-alive connection. The figure is
the median client-side latency (request sent to last byte received); decoding the JSON
answer is not timed. Row counts of every instance are compared between the systems, so a
fast wrong answer cannot pass for a fast answer.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench import results
from bench.procs import Sampler, Usage, wait_until
from bench.progress import say
from bench.queries import KINDS, QueryKind, QueryPair, draw_instances
from bench.systems import PHASE_ERRORS, Heron, InfluxDB, Server, describe_failure, running
from bench.systems.heron import sql_rows
from bench.timefmt import NS_PER_S
from bench.tsbs import DEFAULT_HOSTS, INTERVAL_NS, BodySet, write_bodies

SYSTEMS: tuple[type[Server], ...] = (Heron, InfluxDB)
DAY_NS = 86_400 * NS_PER_S
#: 48 timestamps x 100 hosts: one day is exactly 180 bodies.
LINES_PER_BODY = 4_800
WARMUP = 3
REPETITIONS = 21
SEED = 2024

PING = "ping"
METRICS = [
    results.Metric(PING, "ping (health check) median", "ms", "lower"),
    *(results.Metric(kind.name, f"{kind.name} median", "ms", "lower") for kind in KINDS),
]

Ask = Callable[[httpx.Client, QueryPair], httpx.Response]


def _influx_rows(response: httpx.Response) -> int:
    result = response.json()["results"][0]
    return sum(len(series.get("values", [])) for series in result.get("series", []))


def _heron_rows(response: httpx.Response) -> int:
    return len(sql_rows(response.json()))


def _asker(server: Server) -> tuple[Ask, Callable[[httpx.Response], int]]:
    """How to send a query to ``server`` and count the rows of its answer."""
    if isinstance(server, Heron):
        return (lambda client, pair: server.sql(client, pair.sql)), _heron_rows
    if isinstance(server, InfluxDB):
        return (lambda client, pair: server.influxql(client, pair.influxql)), _influx_rows
    raise TypeError(f"no query language for {server.label}")


#: Longest wait for Heron to compact the loaded day after its restart (its delay is 30 s).
COMPACTION_TIMEOUT_S = 300.0


def load_day(server: Server, bodies: BodySet) -> dict[str, Any]:
    """Write the day into ``server`` (running), then restart it so data is at rest."""
    started = time.monotonic()
    with server.client() as client:
        server.create_database(client)
        for index in range(bodies.count):
            client.post(server.write_path(), content=bodies.path(index).read_bytes()).raise_for_status()
        load_s = time.monotonic() - started
        _, count = server.count_settled(client, start_ns=bodies.start_ns, end_ns=bodies.end_ns)
    if count.points != bodies.points:
        raise RuntimeError(f"{server.label} holds {count.points} of {bodies.points} points after loading")
    server.stop()
    server.start()
    if isinstance(server, Heron):
        # At rest for Heron also means compacted: windows sorted by series (docs/storage.md).
        with server.client() as client:
            wait_until(lambda: server.compacted(client), timeout_s=COMPACTION_TIMEOUT_S, what="Heron's compaction")
    return {"load_s": round(load_s, 2), "points": count.points}


def time_ping(server: Server, client: httpx.Client) -> dict[str, Any]:
    """Latency of the health check on the same keep-alive connection: the floor under
    every query's figure (HTTP handling and TCP behaviour, no query work)."""
    for _ in range(WARMUP):
        server.ready(client)
    latencies = []
    for _ in range(REPETITIONS):
        started = time.perf_counter()
        server.ready(client)
        latencies.append((time.perf_counter() - started) * 1000)
    return _summary(latencies, [])


def time_queries(server: Server, day_start_ns: int) -> dict[str, dict[str, Any]]:
    """Warm up, then time every instance of every kind; latency in ms and row counts."""
    ask, rows_of = _asker(server)
    timings: dict[str, dict[str, Any]] = {}
    with server.client() as client:
        timings[PING] = time_ping(server, client)
        say(f"query: {server.label}: ping median {timings[PING]['median_ms']} ms")
        for kind in KINDS:
            instances = draw_instances(kind, count=WARMUP + REPETITIONS, day_start_ns=day_start_ns, seed=SEED)
            for pair in instances[:WARMUP]:
                ask(client, pair)
            latencies, rows = [], []
            for pair in instances[WARMUP:]:
                started = time.perf_counter()
                response = ask(client, pair)
                latencies.append((time.perf_counter() - started) * 1000)
                rows.append(rows_of(response))
            timings[kind.name] = _summary(latencies, rows)
            say(f"query: {server.label}: {kind.name} median {timings[kind.name]['median_ms']} ms")
    return timings


def _summary(latencies: list[float], rows: list[int]) -> dict[str, Any]:
    ordered = sorted(latencies)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "min_ms": round(ordered[0], 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "rows": rows,
    }


def measure_queries(kind: type[Server], workdir: Path, bodies: BodySet, day_start_ns: int) -> dict[str, Any]:
    """Load the day into a fresh instance of ``kind``, restart it, time the queries."""
    server = kind(workdir / f"{kind.key}-query")
    try:
        with running(server):
            say(f"query: {kind.label}: loading {bodies.points:,} points, then restarting")
            load = load_day(server, bodies)
            sampler = Sampler(server.pid)
            sampler.start()
            client_started_s = time.process_time()
            queries = time_queries(server, day_start_ns)
            client_cpu_s = time.process_time() - client_started_s
            usage = _usage_summary(sampler.stop(), client_cpu_s)
            server.stop()
    finally:
        shutil.rmtree(server.workdir, ignore_errors=True)
    return {"load": load, "queries": queries, "during_queries": usage}


def run_query(*, workdir: Path) -> dict[str, Any]:
    """Run the query benchmark for Heron and InfluxDB; return the results document."""
    day_start_ns = time.time_ns() // DAY_NS * DAY_NS - DAY_NS  # yesterday, UTC
    count = DAY_NS // INTERVAL_NS * DEFAULT_HOSTS // LINES_PER_BODY
    say(f"query: generating one day ({count} bodies of {LINES_PER_BODY} lines)")
    bodies = write_bodies(workdir / "day", count=count, start_ns=day_start_ns, lines_per_body=LINES_PER_BODY)
    systems: dict[str, dict[str, Any]] = {}
    for kind in SYSTEMS:
        entry: dict[str, Any] = {"label": kind.label, "values": {m.key: None for m in METRICS}}
        systems[kind.key] = entry
        reason = kind.missing()
        if reason:
            say(f"query: skipping {kind.label}: {reason}")
            entry["error"] = reason
            continue
        entry["version"] = kind(workdir).version()
        try:
            entry.update(measure_queries(kind, workdir, bodies, day_start_ns))
        except PHASE_ERRORS as exc:  # one system's failure must not lose the others' figures
            say(f"query: {kind.label} FAILED: {describe_failure(exc)}")
            entry["error"] = describe_failure(exc)
            continue
        entry["values"].update({name: q["median_ms"] for name, q in entry["queries"].items()})
    shutil.rmtree(bodies.directory, ignore_errors=True)
    return _document(systems, bodies)


def _usage_summary(usage: Usage, client_cpu_s: float) -> dict[str, Any]:
    """Server resources while queried, and the CPU other processes took meanwhile (the
    client is this process, so whatever neither it nor the server used is noise)."""
    other_s = max(0.0, usage.machine_busy_s - usage.cpu_s - client_cpu_s)
    return {
        "server_cpu_s": round(usage.cpu_s, 2),
        "server_peak_rss_mib": round(usage.peak_rss_bytes / 2**20, 1),
        "client_cpu_s": round(client_cpu_s, 2),
        "other_cpu_percent": round(100 * other_s / usage.wall_s, 1),
    }


def _row_check(systems: dict[str, dict[str, Any]], kind: QueryKind) -> dict[str, Any]:
    """Row counts of the first instance per system, and whether every instance agreed."""
    rows = {key: s["queries"][kind.name]["rows"] for key, s in systems.items() if kind.name in s.get("queries", {})}
    first = {key: r[0] for key, r in rows.items()}
    agree = len({tuple(r) for r in rows.values()}) == 1 if len(rows) > 1 else None
    return {"first_instance_rows": first, "all_instances_agree": agree}


def _document(systems: dict[str, dict[str, Any]], bodies: BodySet) -> dict[str, Any]:
    return results.build(
        benchmark="query",
        title="Query latency (TSBS devops)",
        description=(
            "One day of TSBS cpu-only data (100 hosts x 8,640 points, 10 fields) in each "
            "system; median client-side latency of seeded TSBS queries, SQL for Heron and "
            "InfluxQL for InfluxDB, after a restart and a warm-up."
        ),
        parameters={
            "points": bodies.points,
            "warmup_queries_per_kind": WARMUP,
            "timed_queries_per_kind": REPETITIONS,
            "seed": SEED,
            "queries": {kind.name: kind.description for kind in KINDS},
        },
        metrics=METRICS,
        systems=systems,
        checks={
            "rows": {kind.name: _row_check(systems, kind) for kind in KINDS},
            "other_processes_cpu_percent": {
                k: s["during_queries"]["other_cpu_percent"] for k, s in systems.items() if "during_queries" in s
            },
        },
        notes=[
            "Latency ratios are InfluxDB/Heron, so higher is better for Heron.",
            "Each query instance uses a seeded random host and time window; both systems "
            "answer the identical instances in the same order, one at a time.",
            "Timed from sending the request to receiving the last byte over a keep-alive "
            "connection on 127.0.0.1; JSON decoding is not included.",
            "ping is each system's health check (Heron GET /api/v1/ping, InfluxDB GET /ping) on the "
            "same connection: the per-request floor under every query figure.",
            "SQL lastpoint joins each host's max(time) (TSBS's column-store form); DISTINCT ON sorts "
            "the whole table in DuckDB.",
            "other_processes_cpu_percent is CPU (percent of one core, 200 = both) used while each system "
            "was queried by processes other than the server and the client: the noise of a shared machine.",
        ],
    )
