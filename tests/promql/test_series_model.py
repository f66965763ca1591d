"""PromQL sees everything Heron stores: line-protocol fields, agents' server status, its own metrics."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.promql.test_clients import wait_for


def _query(client: httpx.Client, query: str, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/query", params={"query": query, **params})
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()["data"]["result"]
    return result


def test_line_protocol_fields_are_measurement_field_series(client: httpx.Client, fresh_db: str) -> None:
    now = time.time_ns()
    body = (
        f'cpu,host=a,region=eu usage_user=1.5,usage_system=2i,up=true,msg="x" {now}\n'
        f"cpu,host=b,region=eu usage_user=3.5,usage_system=4i,up=false {now}\n"
        f"weather value=21.5 {now}\n"
    )
    assert client.post("/api/v1/write", params={"db": fresh_db}, content=body).status_code == 200
    found = _query(client, 'cpu_usage_user{region="eu"}', db=fresh_db)
    assert {(r["metric"]["host"], r["value"][1]) for r in found} == {("a", "1.5"), ("b", "3.5")}
    assert found[0]["metric"]["__name__"] == "cpu_usage_user"
    assert _query(client, "sum(cpu_usage_system)", db=fresh_db)[0]["value"][1] == "6"
    assert {r["value"][1] for r in _query(client, "cpu_up", db=fresh_db)} == {"1", "0"}
    assert _query(client, "cpu_msg", db=fresh_db) == []
    assert _query(client, "weather", db=fresh_db)[0]["value"][1] == "21.5"
    names = client.get("/api/v1/label/__name__/values", params={"db": fresh_db}).json()["data"]
    assert names == ["cpu_up", "cpu_usage_system", "cpu_usage_user", "weather"]


def test_an_agents_server_status_is_heron_server_series(
    server: RunningServer, client: httpx.Client, tmp_path: Path
) -> None:
    token = client.post("/api/v1/token", json={"note": "promql agent"}).json()["data"]["token"]
    name = "promql-" + secrets.token_hex(3)
    agent = subprocess.Popen(
        [
            *(sys.executable, "-m", "heron", "agent", "--server", server.url, "--token", token, "--interval", "1"),
            *("--agent-id", name, "--name", name, "--state-file", str(tmp_path / "agent-id")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        found = wait_for(
            lambda: _query(client, f'heron_server_mem_used{{server="{name}"}}'), timeout_s=60, what="the agent's status"
        )
        assert float(found[0]["value"][1]) > 0 and found[0]["metric"]["server_id"]
        assert _query(client, f'count(heron_server_cpu{{server="{name}"}} >= 0)')[0]["value"][1] == "1"
        metrics = httpx.get(f"{server.url}/metrics", auth=server.auth).text
        assert "heron_agents_connected 1.0" in metrics or "heron_agents_connected 2.0" in metrics
    finally:
        agent.kill()
        agent.wait(timeout=10)


@pytest.fixture(scope="module")
def self_storing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-self"), env={"HERON_SELF_METRICS_INTERVAL_SECONDS": "0.5"})
    yield srv
    srv.stop()


def test_heron_stores_its_own_metrics_for_promql_when_asked(self_storing: RunningServer) -> None:
    with self_storing.client() as c:
        assert c.get("/api/v1/ping").status_code in (200, 204)
        found = wait_for(
            lambda: _query(c, 'heron_http_requests_total{route="/api/v1/ping"}'), timeout_s=60, what="stored metrics"
        )
        assert float(found[0]["value"][1]) >= 1
        assert _query(c, "heron_write_queue_rows") and _query(c, "process_resident_memory_bytes")
