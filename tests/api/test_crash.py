"""Kill -9 during ingest, restart, and find every acknowledged point."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer, start_server

#: Writes one request of ``ids`` for ``worker``; True when the server acknowledged it.
Post = Callable[[httpx.Client, int, range], bool]


def acknowledged_until_killed(
    srv: RunningServer,
    post: Post,
    *,
    workers: int,
    per_request: int,
    target: int,
    minimum: int,
    ready: Callable[[], bool] | None = None,
) -> list[set[int]]:
    """Run ``workers`` writers (each numbering its items from 0) until ``target`` items are
    acknowledged (and ``ready()`` says so, when given) or 30 s pass, SIGKILL the server
    meanwhile, and return what each had acknowledged; at least ``minimum`` must be, or the
    test proves little."""
    acked: list[set[int]] = [set() for _ in range(workers)]
    stop = threading.Event()

    def writer(worker: int) -> None:
        with httpx.Client(base_url=srv.url, auth=srv.auth, timeout=10) as c:
            seq = 0
            while not stop.is_set():
                ids = range(seq, seq + per_request)
                try:
                    if post(c, worker, ids):
                        acked[worker].update(ids)
                except httpx.TransportError:
                    return
                seq += per_request

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (sum(map(len, acked)) < target or (ready is not None and not ready())):
        time.sleep(0.05)
    srv.stop("kill")
    stop.set()
    for t in threads:
        t.join(timeout=15)
    assert sum(map(len, acked)) >= minimum, "too few writes were acknowledged before the kill"
    return acked


@pytest.mark.slow
@pytest.mark.parametrize("flush_interval", ["0.2", "3600"])
def test_every_acknowledged_point_survives_sigkill(tmp_path: Path, flush_interval: str) -> None:
    """With a short flush interval the kill lands mid-apply; with a long one every
    acknowledged row is only in Heron's write-ahead log and must be replayed at start."""
    env = {"HERON_TSDB_FLUSH_INTERVAL_SECONDS": flush_interval}
    srv = start_server(tmp_path / "data", password="crash-test-password", env=env)

    def post(c: httpx.Client, worker: int, ids: range) -> bool:
        body = "\n".join(f"acks,worker=w{worker} seq={i}i {worker * 10**12 + i}" for i in ids)
        return c.post("/api/v1/write", content=body).status_code == 200

    acked = acknowledged_until_killed(srv, post, workers=3, per_request=200, target=20_000, minimum=2_000)

    again = start_server(tmp_path / "data", password="crash-test-password", env=env)
    if flush_interval == "3600":
        assert any("replaying the write-ahead log" in line for line in again.log_lines)
    try:
        with again.client() as c:
            r = c.post("/api/v1/sql", content="SELECT worker, seq FROM acks", headers={"Accept": "application/nd-json"})
            assert r.status_code == 200
            import orjson

            stored: list[set[int]] = [set() for _ in range(3)]
            for line in r.text.splitlines():
                row = orjson.loads(line)
                stored[int(row["worker"][1:])].add(row["seq"])
        for w in range(3):
            missing = acked[w] - stored[w]
            assert not missing, f"worker {w}: {len(missing)} acknowledged points lost"
    finally:
        again.stop()


@pytest.mark.slow
def test_every_acknowledged_point_survives_sigkill_during_compaction(tmp_path: Path) -> None:
    """One-second windows compacted (and rolled up) as soon as they are written: each
    request rewrites points into the last minute's windows, so compaction steps run back to
    back with the writes and the kill lands among them. After the restart every
    acknowledged point is there exactly once, and once compaction has caught up the rollup
    tier agrees with the rows (the windows waiting at the kill were not forgotten)."""
    env = {
        "HERON_TSDB_FLUSH_INTERVAL_SECONDS": "0.2",
        "HERON_COMPACTION_WINDOW_SECONDS": "1",
        "HERON_COMPACTION_DELAY_SECONDS": "0",
    }
    srv = start_server(tmp_path / "data", password="crash-test-password", env=env)
    with srv.client() as c:
        assert c.post("/api/v1/sql", content="ALTER DATABASE public SET ROLLUPS '10s:INF'").status_code == 200
    base_ns = time.time_ns() - 120 * 10**9

    def post(c: httpx.Client, worker: int, ids: range) -> bool:
        body = "\n".join(f"acks,worker=w{worker},k=k{i % 5} seq={i}i {base_ns + (i % 60) * 10**9 + i}" for i in ids)
        return c.post("/api/v1/write", content=body).status_code == 200

    def compacting() -> bool:
        health = httpx.get(f"{srv.url}/api/v1/health", timeout=10).json()
        return int(health["store"]["compaction"]["steps"]) >= 20

    acked = acknowledged_until_killed(
        srv, post, workers=3, per_request=200, target=10_000, minimum=2_000, ready=compacting
    )
    assert any('"compaction step"' in line for line in srv.log_lines)

    again = start_server(tmp_path / "data", password="crash-test-password", env=env)
    try:
        with again.client() as c:
            r = c.post(
                "/api/v1/sql",
                content="SELECT worker, seq, count(*) AS n FROM acks GROUP BY ALL",
                headers={"Accept": "application/nd-json"},
            )
            assert r.status_code == 200
            import orjson

            stored: list[set[int]] = [set() for _ in range(3)]
            for line in r.text.splitlines():
                row = orjson.loads(line)
                assert row["n"] == 1, f"point {row} is stored {row['n']} times"
                stored[int(row["worker"][1:])].add(row["seq"])
            for w in range(3):
                missing = acked[w] - stored[w]
                assert not missing, f"worker {w}: {len(missing)} acknowledged points lost"

            def caught_up() -> bool:
                health = c.get("/api/v1/health").json()
                return int(health["store"]["compaction"]["windows_waiting"]) == 0

            deadline = time.monotonic() + 60
            while not caught_up():
                assert time.monotonic() < deadline, "compaction did not catch up after the restart"
                time.sleep(0.2)
            tier = "SELECT worker, k, sum(seq_count)::BIGINT AS n FROM _heron_rollup_10s_acks GROUP BY ALL ORDER BY ALL"
            raw = "SELECT worker, k, count(seq) AS n FROM acks GROUP BY ALL ORDER BY ALL"
            rows = [
                c.post("/api/v1/sql", content=q, headers={"Accept": "application/json"}).json() for q in (tier, raw)
            ]
            assert rows[0] == rows[1]
    finally:
        again.stop()
