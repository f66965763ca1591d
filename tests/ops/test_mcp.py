"""The ``mcp`` SDK's own client against ``POST /mcp`` with personal tokens, scoped and not."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.ops.conftest import Fleet, wait_for


def _token(fleet: Fleet, scopes: list[str] | None) -> str:
    body: dict[str, Any] = {"note": "assistant"}
    if scopes is not None:
        body["scopes"] = scopes
    r = httpx.post(f"{fleet.server.url}/api/v1/token", json=body, headers=fleet.headers, timeout=30)
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["token"])


async def _session(url: str, token: str, calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[str], list[Any]]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        tools = await client.list_tools()
        results = [await client.call_tool(name, args) for name, args in calls]
    return [t.name for t in tools.tools], results


def _text(result: Any) -> str:
    return " ".join(getattr(part, "text", "") for part in result.content)


def test_an_assistant_lists_the_tools_and_gets_rows_from_sql(fleet: Fleet) -> None:
    token = _token(fleet, ["nezha:tsdb:read", "nezha:inventory:read", "nezha:server:read"])
    calls = [
        ("sql.query", {"sql": "SELECT 40 + 2 AS answer"}),
        ("server.list", {}),
        ("server.exec", {"server_id": fleet.allowed_id, "command": "echo no"}),
    ]
    names, (sql, servers, exec_refused) = asyncio.run(_session(fleet.server.url, token, calls))
    assert {"server.list", "server.get", "server.metrics", "sql.query", "server.exec"} <= set(names)
    assert not sql.is_error and sql.structured_content["rows"] == [{"answer": 42}]
    assert not servers.is_error and "allowed" in _text(servers)
    assert exec_refused.is_error and "nezha:server:exec" in _text(exec_refused)


def test_the_exec_scope_runs_a_command_on_an_agent_that_allows_it(fleet: Fleet) -> None:
    token = _token(fleet, ["nezha:server:exec"])
    calls = [
        ("server.exec", {"server_id": fleet.allowed_id, "command": "echo mcp-$((2*21))"}),
        ("server.exec", {"server_id": fleet.plain_id, "command": "echo never"}),
    ]
    _names, (ran, refused) = asyncio.run(_session(fleet.server.url, token, calls))
    assert not ran.is_error and "mcp-42" in _text(ran)
    assert refused.is_error and "--allow exec" in _text(refused)
    with fleet.client() as c:
        audit = c.get("/api/v1/audit", params={"action": "mcp.", "limit": 50}).json()["data"]["value"]
    assert {"mcp.server.exec"} <= {a["action"] for a in audit}
    assert all("mcp-42" not in str(a) for a in audit), "command output never reaches the audit log"


def test_mcp_needs_credentials(fleet: Fleet) -> None:
    r = httpx.post(f"{fleet.server.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=30)
    assert r.status_code == 401


def _service(fleet: Fleet) -> tuple[int, str]:
    """A TCP monitor of Heron's own port, checked from the Heron node every second; its id and name."""
    name = "mcp-tcp"
    port = fleet.server.url.rsplit(":", 1)[1]
    with fleet.client() as c:
        existing = [s for s in c.get("/api/v1/service/list").json()["data"] if s["name"] == name]
        if existing:
            return int(existing[0]["id"]), name
        body = {"name": name, "type": 3, "target": f"127.0.0.1:{port}", "duration": 1, "cover": 1, "skip_servers": {}}
        r = c.post("/api/v1/service", json=body)
        assert r.status_code == 200, r.text
        return int(r.json()["data"]), name


def _instant(fleet: Fleet, query: str) -> list[dict[str, Any]]:
    with fleet.client() as c:
        r = c.get("/api/v1/query", params={"query": query})
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()["data"]["result"]
    return result


def test_service_results_are_promql_series(fleet: Fleet) -> None:
    service_id, name = _service(fleet)
    up = wait_for(lambda: _instant(fleet, f'heron_service_up{{service="{name}"}}'), "heron_service_up of the monitor")
    metric = up[0]["metric"]
    assert metric["__name__"] == "heron_service_up" and metric["service_id"] == str(service_id)
    assert metric["server_id"] == "0" and metric["server"] and metric["kind"] == "tcp"
    assert up[0]["value"][1] == "1"
    # Latency in seconds: a stored sample's milliseconds over 1,000, read at that sample's time.
    sql = (
        "SELECT time, delay_ms FROM service_results"
        f" WHERE service_id = '{service_id}' AND delay_ms IS NOT NULL ORDER BY time LIMIT 1"
    )
    with fleet.client() as c:
        r = c.post("/api/v1/sql", headers={"Accept": "application/json"}, content=sql)
    assert r.status_code == 200, r.text
    row = r.json()[0]
    at = datetime.fromisoformat(row["time"].replace("Z", "+00:00")).replace(tzinfo=UTC).timestamp()
    latency = _instant(fleet, f'heron_service_latency_seconds{{service_id="{service_id}"}} @ {at}')
    assert len(latency) == 1 and float(latency[0]["value"][1]) == pytest.approx(row["delay_ms"] / 1000)
    rows = _instant(fleet, f'count by (service) (heron_service_up{{service_id="{service_id}"}})')
    assert rows == [{"metric": {"service": name}, "value": rows[0]["value"]}]
    with fleet.client() as c:
        names = c.get("/api/v1/label/__name__/values").json()["data"]
    assert {"heron_service_up", "heron_service_latency_seconds"} <= set(names)
    assert not [n for n in names if n.startswith("service_results_")]


def test_the_service_alert_and_promql_tools_answer_with_their_scopes(fleet: Fleet) -> None:
    service_id, name = _service(fleet)
    with fleet.client() as c:
        rule = {
            "name": "mcp-always",
            "kind": "promql",
            "expr": "vector(7)",
            "interval_seconds": 1,
        }
        r = c.post("/api/v1/alert-rule", json=rule)
        assert r.status_code == 200, r.text
        rule_id = r.json()["data"]

        def firing() -> bool:
            events = c.get("/api/v1/alert-event", params={"rule_id": rule_id, "state": "firing"}).json()["data"]
            return bool(events["value"])

        wait_for(firing, "the rule's alert to fire")
        wait_for(lambda: _instant(fleet, f'heron_service_up{{service="{name}"}}'), "a service result")

    token = _token(fleet, ["nezha:tsdb:read", "nezha:service:read", "nezha:alertrule:read"])
    now = time.time()
    calls = [
        ("promql.query", {"query": "vector(40) + 2"}),
        (
            "promql.query",
            {"query": f'heron_service_up{{service="{name}"}}', "start": str(now - 60), "end": str(now), "step": "15s"},
        ),
        ("promql.query", {"query": "sum(rate(x[5m]"}),
        ("service.status", {}),
        ("service.status", {"service_id": service_id}),
        ("alert.firing", {}),
    ]
    names, (instant, ranged, bad, services, one, alerts) = asyncio.run(_session(fleet.server.url, token, calls))
    assert {"promql.query", "service.status", "alert.firing"} <= set(names)
    assert not instant.is_error and instant.structured_content["resultType"] == "vector"
    assert instant.structured_content["result"][0]["value"][1] == "42"
    assert not ranged.is_error and ranged.structured_content["resultType"] == "matrix"
    assert ranged.structured_content["result"][0]["metric"]["service"] == name
    assert bad.is_error and "parse error" in _text(bad)
    assert not services.is_error and name in _text(services)
    shown = one.structured_content["result"]
    assert [s["id"] for s in shown] == [service_id] and shown[0]["vantage_points"][0]["state"] == "up"
    assert not alerts.is_error
    firing_now = alerts.structured_content["alerts"]
    assert any(a["rule_id"] == rule_id and a["labels"]["alertname"] == "mcp-always" for a in firing_now)

    narrow = _token(fleet, ["nezha:tsdb:read"])
    _names, (svc_refused, alerts_refused, allowed) = asyncio.run(
        _session(
            fleet.server.url,
            narrow,
            [("service.status", {}), ("alert.firing", {}), ("promql.query", {"query": "vector(1)"})],
        )
    )
    assert svc_refused.is_error and "nezha:service:read" in _text(svc_refused)
    assert alerts_refused.is_error and "nezha:alertrule:read" in _text(alerts_refused)
    assert not allowed.is_error
    with fleet.client() as c:
        audit = c.get("/api/v1/audit", params={"action": "mcp.", "limit": 100}).json()["data"]["value"]
        c.post("/api/v1/batch-delete/alert-rule", json=[rule_id])
    actions = {a["action"] for a in audit}
    assert {"mcp.promql.query", "mcp.service.status", "mcp.alert.firing"} <= actions
