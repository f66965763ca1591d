"""``POST /api/v1/alert-rule/preview``: a rule evaluated once, unsaved, against a real agent's
server and real SQL; nothing is stored and no alert is raised."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.inventory.test_agent_live import start_agent, stop, wait_for


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-preview"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def reporting(live: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The id of a server whose real agent has reported its memory use."""
    with live.client() as c:
        token = c.post("/api/v1/token", json={"note": "agent"}).json()["data"]["token"]
        agent = start_agent(live, token, "preview-box", tmp_path_factory.mktemp("agent"))
        try:

            def reported() -> int | None:
                for s in c.get("/api/v1/server").json()["data"]:
                    if s["name"] == "preview-box" and (s.get("state") or {}).get("mem_used"):
                        return int(s["id"])
                return None

            yield wait_for(reported, timeout_s=60, what="the agent's first report")
        finally:
            stop(agent)


def _preview(c: httpx.Client, rule: dict[str, Any]) -> dict[str, Any]:
    r = c.post("/api/v1/alert-rule/preview", json=rule)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def test_a_server_rule_names_the_servers_out_of_range_now(live: RunningServer, reporting: int) -> None:
    with live.client() as c:
        low = {"name": "mem", "rules": [{"type": "memory", "max": 0.001, "duration": 600}]}
        found = _preview(c, low)
        assert found["kind"] == "server" and found["checked"] >= 1
        assert [m["server_id"] for m in found["matches"]] == [reporting] and found["count"] == 1
        assert found["matches"][0]["labels"]["server_name"] == "preview-box"
        assert found["matches"][0]["values"]["memory"] > 0.001
        high = {"name": "mem", "rules": [{"type": "memory", "min": 0.0001, "max": 100, "duration": 0}]}
        assert _preview(c, high) == {"kind": "server", "checked": found["checked"], "count": 0, "matches": []}
        ignored = {"name": "mem", "rules": [{"type": "memory", "max": 0.001, "ignore": {str(reporting): True}}]}
        assert _preview(c, ignored)["count"] == 0
        assert c.get("/api/v1/alert-rule").json()["data"] == []  # nothing was saved
        assert c.get("/api/v1/alert-event", params={"state": "active"}).json()["data"]["value"] == []


def test_a_sql_rule_lists_the_rows_past_its_threshold(live: RunningServer) -> None:
    with live.client() as c:
        query = "SELECT 'a' AS host, 1.5::DOUBLE AS value UNION ALL SELECT 'b', 0.5"
        rule = {"name": "q", "kind": "sql", "query": query}
        found = _preview(c, {**rule, "threshold": "value > 1"})
        assert found["kind"] == "sql" and found["count"] == 1
        assert found["matches"][0]["labels"] == {"host": "a"} and found["matches"][0]["value"] == 1.5
        assert _preview(c, {**rule, "threshold": "value > 2"})["count"] == 0
        assert _preview(c, rule)["count"] == 2


def test_a_decimal_value_counts_as_a_number(live: RunningServer) -> None:
    """DuckDB types ``1.5`` and sums of decimals as DECIMAL: a rule's value must still be read."""
    with live.client() as c:
        rule = {"name": "d", "kind": "sql", "query": "SELECT 'a' AS host, 1.5 AS value, sum(2.25) AS total"}
        found = _preview(c, {**rule, "threshold": "value > 1"})
        assert found["count"] == 1 and found["matches"][0]["value"] == 1.5
        assert found["matches"][0]["values"] == {"value": 1.5}


@pytest.mark.parametrize(
    ("rule", "status", "names"),
    [
        ({"rules": [{"type": "cpu", "max": 90}]}, 400, "name:"),
        ({"name": "x", "rules": [{"type": "cpu_hot", "max": 90}]}, 400, "rules[0].type: unknown type 'cpu_hot'"),
        ({"name": "x", "kind": "sql", "query": "SELEC 1"}, 422, "query: "),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(
    live: RunningServer, rule: dict[str, Any], status: int, names: str
) -> None:
    with live.client() as c:
        r = c.post("/api/v1/alert-rule/preview", json=rule)
    assert r.status_code == status, r.text
    assert names in r.json()["error"]


def test_the_preview_is_documented(live: RunningServer) -> None:
    doc = httpx.get(f"{live.url}/openapi.json").json()
    assert "post" in doc["paths"]["/api/v1/alert-rule/preview"]


