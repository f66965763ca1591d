"""Data points per second through ``POST /opentsdb/put`` (OpenTSDB JSON, Nightingale's route).

Run with ``python -m bench.opentsdb_json``. Starts ``heron serve`` in a temporary directory,
then several threads POST pre-built bodies of OpenTSDB JSON (1,000 data points each: hosts ×
metrics, like an agent's flush) for a fixed time, and prints one JSON object to stdout: points
acknowledged per second, and the points counted back through SQL. Heron only, no peers; not a
test (nothing is asserted). Don't run it while another benchmark is using the machine.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from bench.procs import post_round_robin
from bench.systems.base import running
from bench.systems.heron import Heron, sql_rows

START_S = 1_700_000_000
METRICS = ("cpu_usage_idle", "cpu_usage_user", "cpu_usage_system", "mem_used_percent", "disk_used_percent")


def build_bodies(count: int, *, items: int, hosts: int) -> list[bytes]:
    """``count`` JSON arrays of ``items`` data points; each body is one later instant."""
    rng = random.Random(7)
    bodies = []
    for n in range(count):
        points = [
            {
                "metric": METRICS[i % len(METRICS)],
                "timestamp": START_S + n,
                "value": round(rng.uniform(0, 100), 2),
                "tags": {"ident": f"host-{(i // len(METRICS)) % hosts}", "cpu": f"cpu{i % 8}", "region": "eu-west"},
            }
            for i in range(items)
        ]
        bodies.append(orjson.dumps(points))
    return bodies


def push(
    base_url: str, headers: dict[str, str], bodies: list[bytes], *, seconds: float, threads: int
) -> dict[str, int]:
    """POST bodies round-robin from ``threads`` threads until ``seconds`` pass; sum the replies."""

    def tally(_body: int, r: httpx.Response) -> dict[str, int]:
        if r.status_code != 200:
            return {"errors": 1}
        reply = r.json()
        return {"succ": reply["succ"], "fail": reply["fail"]}

    return post_round_robin(
        base_url, headers, "/opentsdb/put", bodies, seconds=seconds, threads=threads,
        counts=("succ", "fail", "errors"), tally=tally,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to push")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--items", type=int, default=1000, help="data points per body")
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--bodies", type=int, default=200, help="distinct bodies, sent round-robin until time is up")
    args = parser.parse_args()

    bodies = build_bodies(args.bodies, items=args.items, hosts=args.hosts)
    with tempfile.TemporaryDirectory(prefix="heron-bench-otsdb-") as tmp, running(Heron(Path(tmp))) as server:
        started = time.monotonic()
        totals = push(server.base_url, server.headers(), bodies, seconds=args.seconds, threads=args.threads)
        elapsed = time.monotonic() - started
        with server.client() as client:
            stored = 0
            for metric in METRICS:
                query = f"SELECT count(*) AS n FROM {metric}"
                r = client.post("/api/v1/sql", content=query, headers={"Accept": "application/json"})
                stored += int(sql_rows(r.json())[0]["n"]) if r.status_code == 200 else 0
    result = {
        "benchmark": "opentsdb_json",
        "route": "POST /opentsdb/put",
        "threads": args.threads,
        "items_per_body": args.items,
        "bodies_sent": totals["bodies"],
        "seconds": round(elapsed, 2),
        "points_acknowledged": totals["succ"],
        "points_failed": totals["fail"],
        "http_errors": totals["errors"],
        "points_stored": stored,
        "points_per_s": round(totals["succ"] / elapsed),
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
