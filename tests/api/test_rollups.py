"""Rollup rules through SQL on the real server: set, described, maintained, kept across a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_metric_store import push
from tests.api.test_remote_write import sql
from tests.conftest import RunningServer, start_server
from tests.protocols.test_remote_write import Series

ENV = {"HERON_COMPACTION_DELAY_SECONDS": "0", "HERON_COMPACTION_WINDOW_SECONDS": "600"}
DB = "rolled"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rollups") / "data"


@pytest.fixture
def srv(data_dir: Path) -> Iterator[RunningServer]:
    server = start_server(data_dir, password="rollup-password", env=ENV)
    yield server
    server.stop()


def _until(check: object, what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def _tier(client: httpx.Client) -> list[dict[str, object]]:
    """The 1-minute tier, or nothing while its table is not there yet."""
    r = client.post(
        "/api/v1/sql",
        params={"db": DB},
        content="SELECT epoch_ms(CAST(r.time AS TIMESTAMP)) AS t, s.host, r.min, r.max, r.sum, r.count, r.last"
        " FROM _heron_rollup_60s r JOIN _heron_series s USING (__series) ORDER BY t, host",
        headers={"Accept": "application/json"},
    )
    if r.status_code == 422 and "does not exist" in r.text:
        return []
    assert r.status_code == 200, r.text
    rows: list[dict[str, object]] = r.json()
    return rows


def _raw(client: httpx.Client) -> list[dict[str, object]]:
    return sql(
        client,
        "SELECT epoch_ms(time_bucket(INTERVAL 1 MINUTE, CAST(time AS TIMESTAMP))) AS t, host,"
        " min(value) AS min, max(value) AS max, sum(value) AS sum, count(*) AS count,"
        " arg_max(value, time) AS last FROM rt_load GROUP BY ALL ORDER BY t, host",
        DB,
    )


def test_rules_are_set_described_and_maintained(srv: RunningServer) -> None:
    with srv.client() as client:
        assert client.post("/api/v1/sql", content=f"CREATE DATABASE {DB}").status_code == 200
        base = (time.time_ns() // 10**6) // 600_000 * 600_000 - 3_600_000  # an hour ago, on a window edge
        series = [
            Series([("__name__", "rt_load"), ("host", h)], [(float(i * (k + 1)), base + i * 20_000) for i in range(12)])
            for k, h in enumerate(("a", "b"))
        ]
        assert push(client, series, DB).status_code == 204
        r = client.post("/api/v1/sql", params={"db": DB}, content=f"ALTER DATABASE {DB} SET ROLLUPS '1m:INF, 5m:30d'")
        assert r.status_code == 200, r.text
        described = sql(client, f"DESCRIBE DATABASE {DB}", DB)
        assert described[0]["rollups"] == "1m:INF,5m:30d"
        _until(lambda: _tier(client) == _raw(client) != [], "the 1-minute tier never matched the raw samples")
        assert sql(client, "SELECT count(*) AS n FROM _heron_rollup_300s", DB) == [{"n": 2}]

        r = client.post("/api/v1/sql", params={"db": DB}, content=f"ALTER DATABASE {DB} SET ROLLUPS '5m:1d,7m:1d'")
        assert r.status_code == 400, r.text
        assert "multiple of the one before" in r.text


def test_rules_survive_a_restart_and_late_samples_are_rolled_up(srv: RunningServer) -> None:
    with srv.client() as client:
        assert sql(client, f"DESCRIBE DATABASE {DB}", DB)[0]["rollups"] == "1m:INF,5m:30d"
        before = _tier(client)
        first = min(int(str(row["t"])) for row in before)
        late = Series([("__name__", "rt_load"), ("host", "a")], [(1000.0, first + 5)])
        assert push(client, [late], DB).status_code == 204
        _until(lambda: _tier(client) == _raw(client) != before, "a late sample never reached its tier")
        client.post("/api/v1/sql", content=f"DROP DATABASE {DB}")
