"""Log documents per second through ``POST /api/v1/es/_bulk`` (ES bulk and NDJSON forms).

Run with ``python -m bench.logs_ingest``. Starts ``heron serve`` in a temporary directory; for
each format, one untimed body creates the table, then several threads POST pre-built bodies
(1,000 documents each, shaped like what Filebeat or Vector ship: ``@timestamp``, a message,
nested ``host``/``http``/``log`` objects, an array) for a fixed time, and it prints one JSON
object to stdout: documents acknowledged per second per format, and the rows counted back
through SQL. Heron only, no peers; not a test (nothing is asserted). Don't run it while another
benchmark is using the machine.
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

START_NS = 1_700_000_000_000_000_000
PATHS = ("/", "/cart", "/api/items", "/login", "/static/app.js")
LEVELS = ("info", "info", "info", "warn", "error")


def documents(count: int, *, first: int, hosts: int, rng: random.Random) -> list[dict[str, object]]:
    """``count`` access-log documents, one millisecond apart from document number ``first``."""
    docs = []
    for i in range(first, first + count):
        status = rng.choice((200, 200, 200, 201, 304, 404, 500))
        nanos = START_NS + i * 1_000_000
        docs.append(
            {
                "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(nanos // 10**9))
                + f".{(nanos // 10**6) % 1000:03d}Z",
                "message": f'10.0.{i % 256}.{i % 100} - - "GET {PATHS[i % len(PATHS)]} HTTP/1.1" {status} {i % 5000}',
                "host": {"name": f"web-{i % hosts:03d}", "ip": [f"10.1.{i % hosts}.1"]},
                "http": {"request": {"method": "GET"}, "response": {"status_code": status, "bytes": i % 5000}},
                "log": {"level": LEVELS[i % len(LEVELS)], "file": {"path": "/var/log/nginx/access.log"}},
                "event": {"duration": rng.randint(1_000, 5_000_000)},
            }
        )
    return docs


def build_bodies(kind: str, count: int, *, docs_per_body: int, hosts: int) -> list[bytes]:
    """``count`` bodies of ``docs_per_body`` documents, as ES bulk pairs or NDJSON lines."""
    rng = random.Random(11)
    action = orjson.dumps({"create": {"_index": "logs-nginx"}})
    bodies = []
    for n in range(count):
        lines = []
        for doc in documents(docs_per_body, first=n * docs_per_body, hosts=hosts, rng=rng):
            if kind == "bulk":
                lines.append(action)
            lines.append(orjson.dumps(doc))
        bodies.append(b"\n".join(lines) + b"\n")
    return bodies


def push(
    base_url: str, headers: dict[str, str], params: dict[str, str], bodies: list[bytes], *, seconds: float, threads: int
) -> dict[str, int]:
    """POST bodies round-robin from ``threads`` threads until ``seconds`` pass; count what was taken."""
    bulk = params["log_type"] == "bulk"
    per_body = [body.count(b"\n") // (2 if bulk else 1) for body in bodies]

    def tally(body: int, r: httpx.Response) -> dict[str, int]:
        if r.status_code != 200:
            return {"http_errors": 1}
        if not bulk:
            return {"accepted": per_body[body]}
        answer = orjson.loads(r.content)
        items = answer["items"]
        if answer["errors"]:
            items = [i for i in items if next(iter(i.values()))["status"] == 201]
        return {"accepted": len(items)}

    return post_round_robin(
        base_url, headers, "/api/v1/es/_bulk", bodies, seconds=seconds, threads=threads,
        counts=("accepted", "http_errors"), tally=tally, params=params, timeout_s=120,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to push each format")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--docs", type=int, default=1000, help="documents per body")
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--bodies", type=int, default=50, help="distinct bodies, sent round-robin until time is up")
    parser.add_argument("--formats", default="bulk,ndjson", help="comma-separated: bulk, ndjson")
    args = parser.parse_args()

    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="heron-bench-logs-") as tmp, running(Heron(Path(tmp))) as server:
        for kind in [k.strip() for k in args.formats.split(",") if k.strip()]:
            table = f"bench_{kind}"
            params = {"table": table, "log_type": kind, "tag_columns": "host.name,log.level"}
            bodies = build_bodies(kind, args.bodies, docs_per_body=args.docs, hosts=args.hosts)
            with server.client() as client:  # untimed: creates the table and its columns
                client.post("/api/v1/es/_bulk", params=params, content=bodies[0]).raise_for_status()
            started = time.monotonic()
            totals = push(server.base_url, server.headers(), params, bodies, seconds=args.seconds, threads=args.threads)
            elapsed = time.monotonic() - started
            with server.client() as client:
                r = client.post(
                    "/api/v1/sql", content=f"SELECT count(*) AS n FROM {table}", headers={"Accept": "application/json"}
                )
                stored = int(sql_rows(r.json())[0]["n"]) - args.docs if r.status_code == 200 else 0
            results[kind] = {
                "bodies_sent": totals["bodies"],
                "bytes_per_body": sum(map(len, bodies)) // len(bodies),
                "seconds": round(elapsed, 2),
                "docs_acknowledged": totals["accepted"],
                "http_errors": totals["http_errors"],
                "rows_stored": stored,
                "rows_per_s": round(totals["accepted"] / elapsed),
            }
    json.dump(
        {
            "benchmark": "logs_ingest",
            "route": "POST /api/v1/es/_bulk",
            "threads": args.threads,
            "docs_per_body": args.docs,
            "formats": results,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
