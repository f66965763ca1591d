"""Real Prometheus-speaking clients against Heron: promtool, prometheus-api-client, Grafana's
calls, a Prometheus reading Heron by remote read and scraping its ``/metrics``."""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_api_client import PrometheusConnect

from tests.conftest import RunningServer
from tests.promql.conftest import PROMTOOL, RunningPrometheus, start_prometheus
from tests.promql.feed import push


def wait_for(check: Callable[[], Any], *, timeout_s: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy (a deadline, never a timed assertion)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


@pytest.fixture(scope="module")
def node_data(server: RunningServer) -> int:
    """An hour of node_exporter-like CPU counters for two instances in the default database, ending now."""
    now_ms = int(time.time()) // 15 * 15_000
    series = []
    for instance in ("web-1:9100", "web-2:9100"):
        for mode, speed in (("idle", 14.0), ("user", 0.75), ("system", 0.25)):
            labels = {"__name__": "cl_node_cpu_seconds_total", "instance": instance, "job": "node", "mode": mode}
            series.append((labels, [(now_ms - 3_600_000 + i * 15_000, i * speed) for i in range(241)]))
    push(f"{server.url}/api/v1/prom/write", series, auth=server.auth)
    return now_ms


def _promtool(server: RunningServer, *args: str) -> str:
    url = server.url.replace("http://", f"http://admin:{server.password}@")
    done = subprocess.run([PROMTOOL, "query", *args[:-1], url, args[-1]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _promtool_no_expr(server: RunningServer, *args: str) -> str:
    url = server.url.replace("http://", f"http://admin:{server.password}@")
    done = subprocess.run([PROMTOOL, "query", *args, url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_promtool_queries_heron_like_a_prometheus(server: RunningServer, node_data: int) -> None:
    now = node_data / 1000
    instant = _promtool(
        server, "instant", "--time", str(now), 'sum by (instance) (rate(cl_node_cpu_seconds_total{mode!="idle"}[5m]))'
    )
    assert '{instance="web-1:9100"} => 0.0666666' in instant and '{instance="web-2:9100"}' in instant
    ranged = _promtool(
        server,
        "range",
        "--start",
        str(now - 600),
        "--end",
        str(now),
        "--step",
        "5m",
        'cl_node_cpu_seconds_total{mode="user", instance="web-1:9100"}',
    )
    assert "180 @[" in ranged and "165 @[" in ranged and "150 @[" in ranged
    series = _promtool_no_expr(server, "series", "--match", 'cl_node_cpu_seconds_total{mode="idle"}')
    assert series.count("cl_node_cpu_seconds_total") == 2
    labels = _promtool(server, "labels", "mode")
    assert labels.split() == ["idle", "system", "user"] or {"idle", "system", "user"} <= set(labels.split())


def test_prometheus_api_client_reads_heron(server: RunningServer, node_data: int) -> None:
    token = base64.b64encode(f"admin:{server.password}".encode()).decode()
    prom = PrometheusConnect(url=server.url + "/prometheus", headers={"Authorization": f"Basic {token}"})
    assert prom.check_prometheus_connection()
    assert "cl_node_cpu_seconds_total" in prom.all_metrics()
    current = prom.get_current_metric_value("cl_node_cpu_seconds_total", label_config={"mode": "user"})
    assert {m["metric"]["instance"] for m in current} == {"web-1:9100", "web-2:9100"}
    result = prom.custom_query("count by (job) (cl_node_cpu_seconds_total)")
    assert result == [{"metric": {"job": "node"}, "value": [pytest.approx(result[0]["value"][0]), "6"]}]
    from datetime import UTC, datetime

    end = datetime.fromtimestamp(node_data / 1000, UTC)
    start = datetime.fromtimestamp(node_data / 1000 - 900, UTC)
    ranged = prom.custom_query_range(
        "sum(rate(cl_node_cpu_seconds_total[5m]))", start_time=start, end_time=end, step="60"
    )
    assert len(ranged) == 1 and len(ranged[0]["values"]) == 16
    assert float(ranged[0]["values"][-1][1]) == pytest.approx(2.0)  # (14 + 0.75 + 0.25) / 15 s, twice


def test_grafanas_save_and_test_and_dashboard_calls_succeed(server: RunningServer, node_data: int) -> None:
    """The requests Grafana's Prometheus data source makes, with their real parameters, at ``…/prometheus``."""
    now = node_data / 1000
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with httpx.Client(base_url=server.url + "/prometheus/", auth=server.auth, timeout=30) as g:
        # "Save & test": the build info (to tell Prometheus from Mimir), then 1+1 as an instant query.
        info = g.get("api/v1/status/buildinfo")
        assert info.status_code == 200 and info.json()["data"]["version"].startswith("2.")
        assert "features" not in info.json()["data"]
        health = g.post("api/v1/query", content="query=1%2B1&time=4", headers=form)
        assert health.json() == {"status": "success", "data": {"resultType": "scalar", "result": [4, "2"]}}
        # A dashboard load: variables, the metric browser, then the panels' range queries.
        labels = g.post("api/v1/labels", content=f"start={now - 3600}&end={now}", headers=form)
        assert {"__name__", "instance", "mode"} <= set(labels.json()["data"])
        values = g.get(
            "api/v1/label/instance/values",
            params={"start": now - 3600, "end": now, "match[]": "cl_node_cpu_seconds_total"},
        )
        assert values.json()["data"] == ["web-1:9100", "web-2:9100"]
        series = g.post(
            "api/v1/series",
            content=f"match%5B%5D=cl_node_cpu_seconds_total%7Bmode%3D%22idle%22%7D&start={now - 3600}&end={now}",
            headers=form,
        )
        assert len(series.json()["data"]) == 2
        assert g.get("api/v1/metadata").json() == {"status": "success", "data": {}}
        panel = g.post(
            "api/v1/query_range",
            content=(
                "query=sum+by+%28instance%29+%28rate%28cl_node_cpu_seconds_total%7Bmode%21%3D%22idle%22%7D%5B%24__rate_interval%5D%29%29".replace(
                    "%24__rate_interval", "1m"
                )
                + f"&start={now - 3600}&end={now}&step=15&timeout=30s"
            ),
            headers=form,
        )
        body = panel.json()
        assert body["status"] == "success" and len(body["data"]["result"]) == 2
        assert len(body["data"]["result"][0]["values"]) == 240
        exemplars = g.post(
            "api/v1/query_exemplars",
            content=f"query=cl_node_cpu_seconds_total&start={now - 60}&end={now}",
            headers=form,
        )
        assert exemplars.json() == {"status": "success", "data": []}


def test_errors_come_in_prometheus_envelope_with_its_status_codes(client: httpx.Client, node_data: int) -> None:
    bad = client.get("/api/v1/query", params={"query": "sum(rate(x[5m])"})
    assert bad.status_code == 400
    assert bad.json()["status"] == "error" and bad.json()["errorType"] == "bad_data"
    too_many = client.get("/api/v1/query_range", params={"query": "1", "start": 0, "end": 20000, "step": 1})
    assert too_many.status_code == 422 and "11,000 points" in too_many.json()["error"]
    step = client.get("/api/v1/query_range", params={"query": "1", "start": 10, "end": 0, "step": 1})
    assert step.status_code == 400 and "end timestamp" in step.json()["error"]
    same = 'label_replace(cl_node_cpu_seconds_total, "mode", "", "", "")'
    many = client.get("/api/v1/query", params={"query": same, "time": node_data / 1000})
    assert many.status_code == 422 and many.json()["errorType"] == "execution"
    assert client.get("/api/v1/series").json()["error"] == "no match[] parameter provided"
    # Two and a half million subquery steps cannot finish within a millisecond.
    slow = client.get("/api/v1/query", params={"query": "count_over_time(vector(1)[30d:1s])", "timeout": "0.001"})
    assert slow.status_code == 503 and slow.json()["errorType"] == "timeout"
    assert httpx.get(str(client.base_url) + "/api/v1/query?query=1").status_code == 401


@pytest.fixture(scope="module")
def reader_prometheus(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPrometheus]:
    """A Prometheus that reads Heron by remote read and scrapes Heron's /metrics every second."""
    host = server.url.removeprefix("http://")
    config = f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: heron
    static_configs:
      - targets: ['{host}']
    basic_auth:
      username: admin
      password: '{server.password}'

remote_read:
  - url: {server.url}/api/v1/read
    read_recent: true
    basic_auth:
      username: admin
      password: '{server.password}'
"""
    prom = start_prometheus(tmp_path_factory.mktemp("prometheus-reader"), config, remote_write=False)
    yield prom
    prom.stop()


def test_a_prometheus_with_remote_read_answers_from_data_only_heron_holds(
    node_data: int, reader_prometheus: RunningPrometheus
) -> None:
    query = {"query": 'sum by (instance) (rate(cl_node_cpu_seconds_total{mode="user"}[5m]))', "time": node_data / 1000}
    answer = httpx.get(f"{reader_prometheus.url}/api/v1/query", params=query, timeout=30).json()
    assert answer["status"] == "success", answer
    values = {r["metric"]["instance"]: float(r["value"][1]) for r in answer["data"]["result"]}
    assert values == {"web-1:9100": pytest.approx(0.05), "web-2:9100": pytest.approx(0.05)}


def test_a_prometheus_scrapes_herons_own_metrics(server: RunningServer, reader_prometheus: RunningPrometheus) -> None:
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    text = httpx.get(f"{server.url}/metrics", auth=server.auth).text
    assert "heron_http_requests_total{" in text and "heron_write_queue_rows" in text and "heron_wal_bytes" in text

    def scraped() -> list[Any]:
        q = {"query": 'heron_http_requests_total{job="heron", route="/api/v1/prom/write", status="204"}'}
        answer = httpx.get(f"{reader_prometheus.url}/api/v1/query", params=q, timeout=30).json()
        return [r for r in answer["data"]["result"] if float(r["value"][1]) > 0]

    wait_for(scraped, timeout_s=60, what="Prometheus to scrape heron_http_requests_total")
    points = httpx.get(
        f"{reader_prometheus.url}/api/v1/query", params={"query": 'heron_ingest_points_total{protocol="remote_write"}'}
    ).json()
    assert float(points["data"]["result"][0]["value"][1]) >= 1446
