"""History of a busy monitor: ``GET /api/v1/service/{id}/history?period=30d`` seen from 10 places.

One Heron server holds 30 days of one monitor checked every 30 s from 10 vantage points
(10 servers created through the API): 864,000 rows of ``service_results`` and the
5- and 30-minute rollup rows (86,400 and 14,400) the server would have written for them, written with line
protocol to ``public``, all dated before the server started (so they are history, as after a
month of running). Then the three periods are asked for, sequentially, over HTTP with the
admin's Basic credentials; the figures are the latency percentiles of the whole request.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from bench import results
from bench.progress import say
from bench.results import Metric
from bench.systems.base import PHASE_ERRORS, describe_failure, running
from bench.systems.heron import Heron

VANTAGES = 10
DAYS = 30
INTERVAL_S = 30
ROLLUP_TABLES = {300: "service_rollup_5m", 1800: "service_rollup_30m"}
REQUESTS = 50
LINES_PER_BODY = 200_000
TARGET_P50_MS = 50.0

METRICS = [
    Metric("p50_ms_30d", "period=30d, p50", "ms", "lower"),
    Metric("p95_ms_30d", "period=30d, p95", "ms", "lower"),
    Metric("p50_ms_7d", "period=7d, p50", "ms", "lower"),
    Metric("p50_ms_1d", "period=1d, p50", "ms", "lower"),
]


def _bodies(service_id: int, server_ids: list[int], end_s: int) -> tuple[list[bytes], list[bytes]]:
    """Raw result bodies and rollup bodies for 30 days ending at ``end_s``; about 1 % of checks fail."""
    rng = random.Random(7)
    start_s = end_s - DAYS * 86_400
    raw: list[bytes] = []
    lines: list[str] = []
    rollups: dict[tuple[int, int, int], list[float]] = {}
    for t in range(start_s, end_s, INTERVAL_S):
        for server_id in server_ids:
            tags = f"service_results,kind=tcp,server_id={server_id},server_name=hist-{server_id},"
            tags += f"service_id={service_id}"
            cells = [rollups.setdefault((size, t - t % size, server_id), [0, 0, 0.0, 0]) for size in ROLLUP_TABLES]
            if rng.random() < 0.01:
                lines.append(f'{tags} up=0i,state="down",reason="connection refused" {t}000000000')
                for cell in cells:
                    cell[1] += 1
            else:
                delay = round(5 + rng.random() * 20, 3)
                lines.append(f'{tags} up=1i,state="up",delay_ms={delay},reason="" {t}000000000')
                for cell in cells:
                    cell[0] += 1
                    cell[2] += delay
                    cell[3] += 1
            if len(lines) >= LINES_PER_BODY:
                raw.append("\n".join(lines).encode())
                lines = []
    if lines:
        raw.append("\n".join(lines).encode())
    rollup_lines = [
        f"{ROLLUP_TABLES[size]},server_id={server_id},service_id={service_id} "
        f"ups={int(c[0])}i,downs={int(c[1])}i,delay_sum={c[2]},delay_count={int(c[3])}i {bucket}000000000"
        for (size, bucket, server_id), c in rollups.items()
    ]
    chunks = [rollup_lines[i : i + LINES_PER_BODY] for i in range(0, len(rollup_lines), LINES_PER_BODY)]
    return raw, ["\n".join(chunk).encode() for chunk in chunks]


def _latencies(client: httpx.Client, path: str, count: int) -> list[float]:
    for _ in range(3):
        client.get(path).raise_for_status()
    out = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path)
        out.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return out


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)


def run_probe_history(*, workdir: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {"label": "Heron", "values": {}}
    checks: dict[str, Any] = {}
    try:
        server = Heron(workdir / "heron-probe-history")
        entry["version"] = server.version()
        with running(server) as started, started.client(timeout_s=120) as client:
            end_s = int(time.time()) - 600
            server_ids = []
            for i in range(VANTAGES):
                created = client.post("/api/v1/server", json={"name": f"hist-{i + 1}"})
                created.raise_for_status()
                server_ids.append(int(created.json()["data"]["id"]))
            monitor = client.post(
                "/api/v1/service",
                json={
                    "name": "busy",
                    "type": "tcp",
                    "target": "127.0.0.1:9",
                    "enabled": False,
                    "heron_vantage": "never",
                },
            )
            monitor.raise_for_status()
            service_id = int(monitor.json()["data"])
            say(f"probe history: generating {VANTAGES * DAYS * 86_400 // INTERVAL_S:,} results and their rollups")
            raw, rollups = _bodies(service_id, server_ids, end_s)
            written = time.monotonic()
            for body in [*raw, *rollups]:
                client.post(
                    "/api/v1/write", params={"db": "public", "precision": "ns"}, content=body
                ).raise_for_status()
            checks["write_seconds"] = round(time.monotonic() - written, 1)
            counted = client.post(
                "/api/v1/sql",
                params={"db": "public"},
                content="SELECT count(*) AS n FROM service_results",
                headers={"Accept": "application/json"},
            ).json()
            checks["rows_in_service_results"] = int(counted[0]["n"])
            say(f"probe history: {REQUESTS} requests per period")
            path = f"/api/v1/service/{service_id}/history"
            month = _latencies(client, f"{path}?period=30d", REQUESTS)
            week = _latencies(client, f"{path}?period=7d", REQUESTS)
            day = _latencies(client, f"{path}?period=1d", REQUESTS)
            body = client.get(f"{path}?period=30d").json()["data"]
            checks["vantage_points"] = len(body["servers"])
            checks["points_per_vantage_30d"] = len(body["servers"][0]["stats"]["data_points"]) if body["servers"] else 0
            checks["total_up_plus_down_30d"] = sum(
                s["stats"]["total_up"] + s["stats"]["total_down"] for s in body["servers"]
            )
            entry["values"] = {
                "p50_ms_30d": _pct(month, 0.5),
                "p95_ms_30d": _pct(month, 0.95),
                "p50_ms_7d": _pct(week, 0.5),
                "p50_ms_1d": _pct(day, 0.5),
            }
            checks["mean_ms_30d"] = round(statistics.fmean(month), 2)
    except PHASE_ERRORS as exc:
        entry["error"] = describe_failure(exc)
    if "p50_ms_30d" in entry["values"]:
        checks["target_p50_ms_30d"] = TARGET_P50_MS
        checks["within_target"] = entry["values"]["p50_ms_30d"] <= TARGET_P50_MS
    return results.build(
        benchmark="probe_history",
        title="Service monitors: history of a monitor seen from 10 places for 30 days",
        description=(
            f"`GET /api/v1/service/{{id}}/history` for one monitor checked every {INTERVAL_S} s for {DAYS} days from "
            f"{VANTAGES} vantage points ({VANTAGES * DAYS * 86_400 // INTERVAL_S:,} results and their 5-minute "
            f"rollups), {REQUESTS} sequential requests per period after 3 warm-up requests, over HTTP."
        ),
        parameters={"vantages": VANTAGES, "days": DAYS, "interval_s": INTERVAL_S, "requests": REQUESTS},
        metrics=METRICS,
        systems={"heron": entry},
        checks=checks,
        notes=[
            f"Target: period=30d p50 <= {TARGET_P50_MS:.0f} ms.",
            "7d reads the 5-minute rollups, 30d the 30-minute ones (and raw results newer than the last rollup); "
            "1d reads raw results.",
            "No peer: Nezha answers this route from its own TSDB, which is not packaged for Debian.",
        ],
    )
