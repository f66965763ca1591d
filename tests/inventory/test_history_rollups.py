"""Server history reads the rollups where compaction has finished, with the same numbers.

A real ``heron serve`` (compaction without delay, 10-minute windows) and a real agent; two
hours of a server's status three days ago are written by line protocol, then the default
database gets a 5-minute rollup kept forever. ``GET /api/v1/server/{id}/metrics`` answers
the same buckets (means for gauges, largest values for counters) before and after, and still
after the raw rows have expired under a 2-day TTL: then only the rollup can have answered.
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cast import make_cast
from tests.conftest import RunningServer, start_server
from tests.inventory.test_agent_live import server_of, sql, start_agent, stop, wait_for

ENV = {"HERON_COMPACTION_DELAY_SECONDS": "0", "HERON_COMPACTION_WINDOW_SECONDS": "600"}
NS = 1_000_000_000
SUFFIX = {"DOUBLE": "", "BIGINT": "i", "UBIGINT": "u"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(tmp_path_factory.mktemp("heron-history-rollups"), env=ENV)
    yield server
    server.stop()


def _history(c: httpx.Client, server_id: int, metric: str, period: str, lo_s: int, hi_s: int) -> dict[int, float]:
    r = c.get(f"/api/v1/server/{server_id}/metrics", params={"metric": metric, "period": period})
    assert r.status_code == 200, r.text
    points = r.json()["data"]["data_points"]
    return {p["ts"]: p["value"] for p in points if lo_s * 1000 <= p["ts"] < hi_s * 1000}


def _tables(c: httpx.Client) -> set[str]:
    return {next(iter(t.values())) for t in sql(c, "SHOW TABLES")}


def _rolled_up(c: httpx.Client, sid: int, until_s: int) -> int:
    """Rollup rows of the server before ``until_s`` (0 while the rollup table is not there)."""
    r = c.post(
        "/api/v1/sql",
        params={"db": "public"},
        content="SELECT count(*) AS n FROM _heron_rollup_300s_server_status"
        f" WHERE time < make_timestamp({until_s * 1_000_000}) AND server_id = '{sid}'",
        headers={"Accept": "application/json"},
    )
    if r.status_code == 422 and "does not exist" in r.text:
        return 0
    assert r.status_code == 200, r.text
    return int(r.json()[0]["n"])


def _expected(samples: list[tuple[int, float]], bucket_s: int, how: str) -> dict[int, float]:
    groups: dict[int, list[float]] = defaultdict(list)
    for t, v in samples:
        groups[t // bucket_s * bucket_s * 1000].append(v)
    summary = (lambda vs: sum(vs) / len(vs)) if how == "avg" else max
    return {ts: round(float(summary(vs)), 4) for ts, vs in groups.items()}


def test_history_is_the_same_from_rollups_and_reaches_past_the_raw_ttl(srv: RunningServer, tmp_path: Path) -> None:
    cast = make_cast(srv)
    agent_id = "agent-" + secrets.token_hex(4)
    agent = start_agent(srv, cast.alice.token, agent_id, tmp_path)
    try:
        with srv.client() as c:
            server = wait_for(lambda: server_of(c, agent_id), timeout_s=30, what="the agent's first report")
            sid = server["id"]
            wait_for(lambda: "server_status" in _tables(c), timeout_s=30, what="the server_status table")
            types = {r["column_name"]: r["column_type"] for r in sql(c, "DESCRIBE server_status")}
            base = (int(time.time()) - 3 * 86_400) // 1800 * 1800
            samples = [(base + 60 * i, (i % 17) * 1.5, 1000 + 60 * i) for i in range(120)]  # two hours
            lines = "\n".join(
                f"server_status,server_id={sid},server_name={agent_id} "
                f"cpu={cpu}{SUFFIX[types['cpu']]},uptime={up}{SUFFIX[types['uptime']]} {t * NS}"
                for t, cpu, up in samples
            )
            assert c.post("/api/v1/write", params={"db": "public"}, content=lines).status_code == 200
            lo, hi = base, base + 7200
            cpu = [(t, v) for t, v, _ in samples]
            uptime = [(t, float(u)) for t, _, u in samples]
            want = {
                ("cpu", "7d"): _expected(cpu, 300, "avg"),
                ("cpu", "30d"): _expected(cpu, 1800, "avg"),
                ("uptime", "30d"): _expected(uptime, 1800, "max"),
            }
            for (metric, period), expected in want.items():  # from raw rows
                assert _history(c, sid, metric, period, lo, hi) == expected, (metric, period)

            r = c.post("/api/v1/sql", content="ALTER DATABASE public SET ROLLUPS '5m:INF'")
            assert r.status_code == 200, r.text
            wait_for(lambda: _rolled_up(c, sid, hi) == 24, timeout_s=60, what="the 5-minute rollup of the two hours")
            for (metric, period), expected in want.items():  # rollup before the cut, raw after
                assert _history(c, sid, metric, period, lo, hi) == expected, (metric, period)

            assert c.post("/api/v1/sql", content="ALTER DATABASE public SET TTL '2d'").status_code == 200
            wait_for(
                lambda: (
                    sql(c, f"SELECT count(*) AS n FROM server_status WHERE time < make_timestamp({hi * 1_000_000})")[0][
                        "n"
                    ]
                    == 0
                ),
                timeout_s=60,
                what="the raw rows to expire",
            )
            for (metric, period), expected in want.items():  # only the rollup holds them now
                assert _history(c, sid, metric, period, lo, hi) == expected, (metric, period)
    finally:
        stop(agent)
