"""Throughput of the JSON push routes: OpenTSDB JSON (``/opentsdb/put``) and logs
(``/api/v1/es/_bulk`` in its bulk and NDJSON forms), Heron alone.

These routes have no peer in Debian to run beside them, so the figures stand alone (no
ratio). The load comes from Python threads on the same machine (the bodies are JSON, so
wrk's fixed-body replay would measure the same thing); their CPU competes with Heron's.
Reuses the drivers of ``bench.opentsdb_json`` and ``bench.logs_ingest``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench import logs_ingest, opentsdb_json, results
from bench.progress import say
from bench.results import Metric
from bench.systems.base import running
from bench.systems.heron import Heron

THREADS = 4
METRICS = [
    Metric("opentsdb_points_per_s", "OpenTSDB JSON data points per second (/opentsdb/put)", "points/s", "higher"),
    Metric("es_bulk_docs_per_s", "ES bulk documents per second (/api/v1/es/_bulk)", "docs/s", "higher"),
    Metric("ndjson_docs_per_s", "NDJSON documents per second (/api/v1/es/_bulk?log_type=ndjson)", "docs/s", "higher"),
]


def run_push_routes(*, duration_s: int, workdir: Path) -> dict[str, Any]:
    """Push each format for ``duration_s`` seconds into one Heron; return the results document."""
    values: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    otsdb_bodies = opentsdb_json.build_bodies(200, items=1000, hosts=100)
    with running(Heron(workdir / "heron-push")) as server:
        say(f"push_routes: OpenTSDB JSON for {duration_s} s")
        started = time.monotonic()
        totals = opentsdb_json.push(
            server.base_url, server.headers(), otsdb_bodies, seconds=duration_s, threads=THREADS
        )
        values["opentsdb_points_per_s"] = round(totals["succ"] / (time.monotonic() - started))
        checks["opentsdb_failed_points"] = totals["fail"]
        checks["opentsdb_http_errors"] = totals["errors"]
        for kind, key in (("bulk", "es_bulk_docs_per_s"), ("ndjson", "ndjson_docs_per_s")):
            say(f"push_routes: logs ({kind}) for {duration_s} s")
            params = {"table": f"bench_{kind}", "log_type": kind, "tag_columns": "host.name,log.level"}
            bodies = logs_ingest.build_bodies(kind, 50, docs_per_body=1000, hosts=50)
            with server.client() as client:  # untimed: creates the table and its columns
                client.post("/api/v1/es/_bulk", params=params, content=bodies[0]).raise_for_status()
            started = time.monotonic()
            pushed = logs_ingest.push(
                server.base_url, server.headers(), params, bodies, seconds=duration_s, threads=THREADS
            )
            values[key] = round(pushed["accepted"] / (time.monotonic() - started))
            checks[f"{kind}_http_errors"] = pushed["http_errors"]
    return results.build(
        benchmark="push_routes",
        title="JSON push routes",
        description=(
            "Heron alone: 1,000 OpenTSDB data points per body to /opentsdb/put, and 1,000 log "
            "documents per body (nested objects, an array) to /api/v1/es/_bulk as ES bulk pairs and "
            f"as NDJSON, each from {THREADS} Python threads for a fixed time."
        ),
        parameters={"duration_s": duration_s, "threads": THREADS, "items_per_body": 1000},
        metrics=METRICS,
        systems={"heron": {"label": "Heron", "values": values}},
        checks=checks,
        notes=[
            "No peer: Debian has no OpenTSDB or Elasticsearch to run beside Heron here.",
            "The load generator runs in Python on the same 2 cores, so these are lower bounds.",
        ],
    )
