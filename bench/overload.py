"""Overload: line-protocol ingest at 4 and at 1,000 connections.

The same TSBS bodies as the ingest benchmark, POSTed by wrk, first over 4 connections and
then over 1,000 against a fresh instance each. What counts is that memory stays bounded
when clients pile up: the peak RSS at 1,000 connections over the peak at 4 (target for
Heron: at most 1.3x), how many requests were refused (429/503, which clients retry) rather
than reset, the throughput that remains, and that every acknowledged point is stored.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from bench import results
from bench.ingest import LINES_PER_BODY, measure_throughput
from bench.progress import say
from bench.systems import PHASE_ERRORS, Heron, InfluxDB, Server, VictoriaMetrics, describe_failure
from bench.timefmt import NS_PER_S
from bench.tsbs import DEFAULT_HOSTS, INTERVAL_NS, write_bodies
from bench.wrk_runner import bodies_needed

SYSTEMS: tuple[type[Server], ...] = (Heron, InfluxDB, VictoriaMetrics)
FEW, MANY = 4, 1_000
#: Distinct bodies for this rate over the whole run (both phases start from the first body).
MAX_POINTS_PER_S = 500_000
#: Heron's target for peak RSS at 1,000 connections over the peak at 4.
RSS_RATIO_TARGET = 1.3
#: Shortest run: at 1,000 connections the first answers take about the admission wait (10 s).
MIN_DURATION_S = 30

METRICS = [
    results.Metric("points_per_s_4", f"Acknowledged points per second, {FEW} connections", "points/s", "higher"),
    results.Metric("points_per_s_1000", f"Acknowledged points per second, {MANY:,} connections", "points/s", "higher"),
    results.Metric("peak_rss_4_mib", f"Server peak RSS, {FEW} connections", "MiB", "lower"),
    results.Metric("peak_rss_1000_mib", f"Server peak RSS, {MANY:,} connections", "MiB", "lower"),
    results.Metric("rss_growth", f"Peak RSS at {MANY:,} connections / at {FEW}", "x", "lower"),
    results.Metric("refused_1000", f"Requests refused with 429/503 at {MANY:,} connections", "requests", "lower"),
    results.Metric("socket_errors_1000", f"Connections reset or timed out at {MANY:,} connections", "errors", "lower"),
]


def run_overload(*, duration_s: int, workdir: Path) -> dict[str, Any]:
    """Both phases for every available system; return the results document."""
    duration_s = max(duration_s, MIN_DURATION_S)
    count = bodies_needed(duration_s=2 * duration_s, max_points_per_s=MAX_POINTS_PER_S, lines_per_body=LINES_PER_BODY)
    say(f"overload: generating {count} bodies of {LINES_PER_BODY} lines")
    span_ns = count * (LINES_PER_BODY // DEFAULT_HOSTS) * INTERVAL_NS
    start_ns = time.time_ns() // INTERVAL_NS * INTERVAL_NS - span_ns - 3600 * NS_PER_S
    bodies = write_bodies(workdir / "overload-bodies", count=count, start_ns=start_ns, lines_per_body=LINES_PER_BODY)
    systems: dict[str, dict[str, Any]] = {}
    for kind in SYSTEMS:
        entry: dict[str, Any] = {"label": kind.label, "values": {m.key: None for m in METRICS}}
        systems[kind.key] = entry
        reason = kind.missing()
        if reason:
            say(f"overload: skipping {kind.label}: {reason}")
            entry["error"] = reason
            continue
        entry["version"] = kind(workdir).version()
        try:
            for connections in (FEW, MANY):
                say(f"overload: {kind.label}: wrk with {connections:,} connections for {duration_s} s")
                figures = measure_throughput(kind, workdir, bodies, duration_s, connections=connections)
                _record(entry, connections, figures)
                values = figures["values"]
                say(
                    f"overload: {kind.label}, {connections:,} connections: {values['points_per_s']:,} points/s, "
                    f"peak RSS {values['peak_rss_mib']} MiB, {_refused(figures)} refused, "
                    f"durability {figures['durability']['verdict']}"
                )
        except PHASE_ERRORS as exc:
            say(f"overload: {kind.label} FAILED: {describe_failure(exc)}")
            entry["error"] = describe_failure(exc)
    shutil.rmtree(bodies.directory, ignore_errors=True)
    return _document(systems, duration_s, count)


def _refused(figures: dict[str, Any]) -> int:
    other: dict[str, int] = figures["wrk"]["responses_other"]
    return sum(n for status, n in other.items() if status in ("429", "503"))


def _record(entry: dict[str, Any], connections: int, figures: dict[str, Any]) -> None:
    values = entry["values"]
    suffix = "4" if connections == FEW else "1000"
    values[f"points_per_s_{suffix}"] = figures["values"]["points_per_s"]
    values[f"peak_rss_{suffix}_mib"] = figures["values"]["peak_rss_mib"]
    entry[f"run_{connections}"] = {k: v for k, v in figures.items() if k != "values"} | {"values": figures["values"]}
    if connections == MANY:
        values["refused_1000"] = _refused(figures)
        # wrk counts answers other than 2xx/3xx as "status" errors: those are the refusals above.
        values["socket_errors_1000"] = sum(n for kind, n in figures["wrk"]["socket_errors"].items() if kind != "status")
        few, many = values["peak_rss_4_mib"], values["peak_rss_1000_mib"]
        values["rss_growth"] = round(many / few, 3) if few and many else None


def _document(systems: dict[str, dict[str, Any]], duration_s: int, bodies: int) -> dict[str, Any]:
    heron = systems.get("heron", {}).get("values", {})
    growth = heron.get("rss_growth")
    return results.build(
        benchmark="overload",
        title="Overload: line-protocol ingest at 4 and 1,000 connections",
        description=(
            "TSBS cpu-only bodies of 5,000 lines POSTed by wrk to each system's InfluxDB 1.x /write, "
            f"for {duration_s} s over {FEW} connections and then {duration_s} s over {MANY:,} "
            "connections, each against a fresh instance; RSS sampled throughout."
        ),
        parameters={"duration_s": duration_s, "connections": [FEW, MANY], "distinct_bodies": bodies},
        metrics=METRICS,
        systems=systems,
        checks={
            "heron_rss_growth_target": (
                f"{growth}x against a target of at most {RSS_RATIO_TARGET}x: "
                + ("met" if growth is not None and growth <= RSS_RATIO_TARGET else "NOT met")
            ),
            "durability": {
                f"{key} {n}": system[f"run_{n}"]["durability"]["verdict"]
                for key, system in systems.items()
                for n in (FEW, MANY)
                if f"run_{n}" in system
            },
        },
        notes=[
            "Refused requests (429 or 503 with Retry-After) are what a client retries; socket errors "
            "(resets, timeouts after 60 s) are what it loses.",
            "Heron's admission control holds write bodies to max_inflight_write_bytes "
            "(default 8 MiB) and refuses after write_admission_wait_seconds (10 s).",
            "Durability compares the points each system stores with those it acknowledged, as in the ingest benchmark.",
        ],
    )
