"""Real `heron serve` and a real `heron agent`: every kind of monitor seen from both vantage points.

A target that stops turns its monitor down after the retries, with a recorded event, and up
again when it is back; the history shows the gap. The same data then answers the Nezha v1
service routes and Nezha v0's monitor route in the seeds' shapes, as a guest where the seeds
send no credentials.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer
from tests.probes.conftest import wait_for
from tests.probes.targets import dns_target, http_target, listening_port

TIMEOUT_S = 60


@pytest.fixture
def agent(probes_server: RunningServer, tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A real agent reporting to the server; yields its server id and name."""
    with probes_server.client() as c:
        token = c.post("/api/v1/token", json={"note": "monitor agent"}).json()["data"]["token"]
    name = "probe-agent-" + secrets.token_hex(3)
    command = [sys.executable, "-m", "heron", "agent", "--server", probes_server.url, "--token", token]
    command += ["--interval", "1", "--agent-id", name, "--name", name, "--state-file", str(tmp_path / "id")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with probes_server.client() as c:

            def enrolled() -> int | None:
                found = [s["id"] for s in c.get("/api/v1/server").json()["data"] if s["name"] == name]
                return found[0] if found else None

            yield wait_for(enrolled, timeout_s=TIMEOUT_S, what="the agent's server"), name
    finally:
        process.terminate()
        process.wait(timeout=30)


def states(client: httpx.Client, monitor_id: int) -> dict[int, dict[str, Any]]:
    r = client.get(f"/api/v1/service/{monitor_id}/server")
    assert r.status_code == 200, r.text
    return {item["server_id"]: item for item in r.json()["data"]}


def all_in(client: httpx.Client, monitor_id: int, state: str, vantages: set[int]) -> dict[int, dict[str, Any]] | None:
    found = states(client, monitor_id)
    return found if vantages <= set(found) and all(found[v]["state"] == state for v in vantages) else None


def test_monitors_run_from_the_node_and_the_agent_and_follow_their_targets(
    probes_server: RunningServer, agent: tuple[int, str]
) -> None:
    agent_id, agent_name = agent
    both = {0, agent_id}
    only_this_agent = {"cover": 1, "skip_servers": {str(agent_id): True}}
    records = {("app.heron.test", "A"): ["10.0.0.7"]}
    with http_target() as web, listening_port() as port, dns_target(records) as resolver, probes_server.client() as c:
        bodies = {
            "http": {"type": 1, "target": f"{web.url}/", "options": {"keyword": "OK"}},
            "tcp": {"type": 3, "target": f"127.0.0.1:{port}"},
            "icmp": {"type": 2, "target": "127.0.0.1", "options": {"count": 1}},
            "dns": {
                "type": "dns",
                "target": "app.heron.test",
                "options": {"resolver": resolver, "expected": "10.0.0.7"},
            },
        }
        ids = {}
        for kind, body in bodies.items():
            r = c.post("/api/v1/service", json={"name": f"e2e {kind}", "duration": 1, "retries": 1, "timeout": 2,
                                                **only_this_agent, **body})  # fmt: skip
            assert r.status_code == 200, r.text
            ids[kind] = r.json()["data"]
        push = c.post("/api/v1/service", json={"name": "e2e push", "type": "push", "duration": 3600}).json()["data"]
        ids["push"] = push
        try:
            for kind in bodies:
                found = wait_for(lambda k=kind: all_in(c, ids[k], "up", both), timeout_s=TIMEOUT_S, what=f"{kind} up")
                assert found[0]["server_name"] == "heron-node" and found[agent_id]["server_name"] == agent_name
            assert states(c, ids["http"])[agent_id]["details"]["status_code"] == 200
            assert states(c, ids["dns"])[0]["details"]["answer"] == "10.0.0.7"
            push_url = c.get(f"/api/v1/service/{push}").json()["data"]["push_url"]
            assert httpx.get(probes_server.url + push_url, params={"msg": "ok"}).json()["data"]["state"] == "up"

            web.stop()
            down = wait_for(lambda: all_in(c, ids["http"], "down", both), timeout_s=TIMEOUT_S, what="http down")
            assert down[0]["reason"] == down[agent_id]["reason"] == "connection refused"
            web.start()  # the same port again
            wait_for(lambda: all_in(c, ids["http"], "up", both), timeout_s=TIMEOUT_S, what="http up again")

            def moves() -> list[tuple[str, str, str]] | None:
                rows = c.post(
                    "/api/v1/sql",
                    params={"db": "public"},
                    headers={"Accept": "application/json"},
                    content="SELECT server_id, previous, state FROM service_events "
                    f"WHERE service_id = '{ids['http']}' ORDER BY time",
                ).json()
                events = [(r["server_id"], r["previous"], r["state"]) for r in rows] if isinstance(rows, list) else []
                wanted = [(str(v), "up", "down") in events and (str(v), "down", "up") in events for v in both]
                return events if all(wanted) else None

            wait_for(moves, timeout_s=TIMEOUT_S, what="the down and up events in service_events")

            def gap() -> dict[str, Any] | None:
                body = c.get(f"/api/v1/service/{ids['http']}/history", params={"period": "1d"}).json()["data"]
                stats = {s["server_id"]: s["stats"] for s in body["servers"]}
                ok = both <= set(stats) and all(stats[v]["total_down"] >= 2 and stats[v]["total_up"] > 0 for v in both)
                return body if ok else None

            history = wait_for(gap, timeout_s=TIMEOUT_S, what="the down results in the history")
            for server in history["servers"]:
                assert 0 < server["stats"]["up_percent"] < 100
            check_seed_shapes(probes_server, ids, agent_id)
        finally:
            c.post("/api/v1/batch-delete/service", json=list(ids.values()))


def check_seed_shapes(server: RunningServer, ids: dict[str, int], agent_id: int) -> None:
    """The Nezha v1 service routes and Nezha v0's monitor route, as a guest, in the seeds' shapes."""
    with httpx.Client(base_url=server.url, timeout=30) as guest:
        overview = guest.get("/api/v1/service").json()
        assert overview["success"] is True
        item = overview["data"]["services"][str(ids["tcp"])]
        assert set(item) == {
            "service_name",
            "current_up",
            "current_down",
            "total_up",
            "total_down",
            "delay",
            "up",
            "down",
        }
        assert item["current_up"] == 2 and len(item["delay"]) == len(item["up"]) == len(item["down"]) == 30

        history = guest.get(f"/api/v1/service/{ids['tcp']}/history?period=1d").json()
        assert history["success"] is True and set(history["data"]) == {"service_id", "service_name", "servers"}
        assert history["data"]["service_id"] == ids["tcp"] and history["data"]["service_name"] == "e2e tcp"
        first = history["data"]["servers"][0]
        assert set(first) == {"server_id", "server_name", "stats"}
        assert set(first["stats"]) == {"avg_delay", "up_percent", "total_up", "total_down", "data_points"}
        assert set(first["stats"]["data_points"][0]) == {"ts", "delay", "status"}
        assert guest.get(f"/api/v1/service/{ids['tcp']}/history?period=7d").status_code == 401

        servers = guest.get(f"/api/v1/service/{ids['tcp']}/server").json()["data"]
        assert {s["server_id"] for s in servers} == {0, agent_id}
        per_server = guest.get(f"/api/v1/server/{agent_id}/service").json()["data"]
        assert {i["monitor_id"] for i in per_server} >= {ids["http"], ids["tcp"], ids["icmp"], ids["dns"]}
        assert guest.get("/api/v1/service/server").json()["data"] == [agent_id]

        v0 = guest.get(f"/api/v1/monitor/{agent_id}").json()
        assert (v0["code"], v0["message"]) == (0, "success")
        entry = next(e for e in v0["result"] if e["monitor_id"] == ids["tcp"])
        assert set(entry) == {"monitor_id", "server_id", "monitor_name", "server_name", "created_at", "avg_delay"}
        assert entry["server_id"] == agent_id and len(entry["created_at"]) == len(entry["avg_delay"]) >= 1
        assert all(ts % 60_000 == 0 for ts in entry["created_at"])

    with server.client() as admin:
        assert admin.patch(f"/api/v1/server/{agent_id}", json={"hide_for_guest": True}).status_code == 200
        try:
            with httpx.Client(base_url=server.url, timeout=30) as guest:
                hidden = guest.get(f"/api/v1/monitor/{agent_id}")
                assert hidden.status_code == 404 and hidden.json()["code"] == 404
                servers = guest.get(f"/api/v1/service/{ids['tcp']}/server").json()["data"]
                assert {s["server_id"] for s in servers} == {0}
        finally:
            admin.patch(f"/api/v1/server/{agent_id}", json={"hide_for_guest": False})
