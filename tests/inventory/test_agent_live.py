"""``heron serve`` and ``heron agent`` as real processes: the machine appears, goes offline, comes back.

The server runs with a two-second offline timeout so the gap shows quickly; the agent reports
every second. Nothing of Heron is mocked: the agent reaches the server over its WebSocket, and
the checks read the same APIs and SQL a user would.
"""

from __future__ import annotations

import itertools
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningServer, start_server

OFFLINE_SECONDS = 2.0

NEZHA_V0_DETAILS_EXAMPLE = """
import requests

server_id = SERVER_ID  # Replace with your server ID
url = f"BASE_URL/api/v1/server/details?id={server_id}"
headers = {
"Authorization": "your_token"
}
response = requests.get(url, headers=headers)
data = response.json()
server = data['result'][0]
print(f"Server Name: {server['name']}")
print(f"CPU Usage: {server['status']['CPU']}%")
print(f"Memory Used: {server['status']['MemUsed']} bytes")
print(f"Disk Used: {server['status']['DiskUsed']} bytes")
print(f"Network In Speed: {server['status']['NetInSpeed']} bytes/s")
print(f"Network Out Speed: {server['status']['NetOutSpeed']} bytes/s")
"""

NEZHA_V0_LIST_EXAMPLE = """
import requests
url = "BASE_URL/api/v1/server/list"
headers = {
"Authorization": "your_token"
}
response = requests.get(url, headers=headers)
data = response.json()
for server in data['result']:
    print(f"Server Name: {server['name']}, Last Active: {server['last_active']}, IP: {server['valid_ip']}")
"""


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-live"), env={"HERON_HOST_OFFLINE_SECONDS": str(OFFLINE_SECONDS)})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def token(live_server: RunningServer) -> str:
    with live_server.client() as c:
        r = c.post("/api/v1/token", json={"note": "agent"})
    assert r.status_code == 201, r.text
    value: str = r.json()["data"]["token"]
    return value


def start_agent(server: RunningServer, token: str, agent_id: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "heron", "agent", "--server", server.url, "--token", token, "--interval", "1"),
            *("--agent-id", agent_id, "--name", agent_id, "--state-file", str(tmp_path / "agent-id")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def wait_for(check: Callable[[], Any], *, timeout_s: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def server_of(client: httpx.Client, agent_id: str) -> dict[str, Any] | None:
    r = client.get("/api/v1/server")
    assert r.status_code == 200, r.text
    found = [s for s in r.json()["data"] if s["uuid"] == agent_id]
    return found[0] if found else None


def sql(client: httpx.Client, query: str) -> list[dict[str, Any]]:
    r = client.post("/api/v1/sql", params={"db": "public"}, content=query, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


def run_example(code: str, server: RunningServer, token: str, server_id: int = 0) -> str:
    script = code.replace("BASE_URL", server.url).replace("your_token", token).replace("SERVER_ID", str(server_id))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60).stdout


def test_the_agent_makes_its_machine_appear_online_with_live_status(
    live_server: RunningServer, token: str, tmp_path: Path
) -> None:
    agent_id = "agent-" + secrets.token_hex(4)
    agent = start_agent(live_server, token, agent_id, tmp_path)
    try:
        with live_server.client() as c:

            def reporting() -> dict[str, Any] | None:
                srv = server_of(c, agent_id)
                return srv if srv and srv["online"] and srv["state"]["process_count"] > 0 else None

            srv = wait_for(reporting, timeout_s=30, what="the agent's first report")
            assert srv["name"] == agent_id and srv["source"] == "agent"
            assert srv["host"]["mem_total"] > 0 and srv["host"]["platform"] and srv["host"]["cpu"]
            assert srv["state"]["mem_used"] > 0 and srv["state"]["uptime"] > 0
            assert srv["last_active"] != "0001-01-01T00:00:00Z"
            first_uptime = srv["state"]["uptime"]
            wait_for(
                lambda: (server_of(c, agent_id) or {}).get("state", {}).get("uptime", 0) > first_uptime,
                timeout_s=10,
                what="a later report (live status moves on)",
            )

            listed = c.get("/api/v1/server/list").json()
            assert listed["code"] == 0 and listed["message"] == "success"
            mine = [s for s in listed["result"] if s["id"] == srv["id"]]
            assert mine and mine[0]["last_active"] > 1_600_000_000
            assert set(mine[0]) == {"id", "name", "tag", "last_active", "ipv4", "ipv6", "valid_ip"}
            details = c.get("/api/v1/server/details", params={"id": str(srv["id"])}).json()["result"]
            assert len(details) == 1 and details[0]["host"]["MemTotal"] > 0 and details[0]["status"]["MemUsed"] > 0
            assert details[0]["host"]["CPU"] and set(details[0]["status"]) >= {"NetInSpeed", "TcpConnCount"}

        out = run_example(NEZHA_V0_DETAILS_EXAMPLE, live_server, token, srv["id"])
        assert f"Server Name: {agent_id}" in out
        memory = next(line for line in out.splitlines() if line.startswith("Memory Used:"))
        assert int(memory.split()[2]) > 0
        assert f"Server Name: {agent_id}, Last Active: " in run_example(NEZHA_V0_LIST_EXAMPLE, live_server, token)

        guest = httpx.get(f"{live_server.url}/api/v1/server").json()["data"]
        assert [s for s in guest if s["id"] == srv["id"]], "not hidden from guests, so guests see it"
        assert all(s["note"] == "" for s in guest)
    finally:
        stop(agent)


def test_killing_the_agent_turns_the_server_offline_and_history_shows_the_gap(
    live_server: RunningServer, token: str, tmp_path: Path
) -> None:
    agent_id = "agent-" + secrets.token_hex(4)
    with live_server.client() as c:
        agent = start_agent(live_server, token, agent_id, tmp_path)
        try:
            srv = wait_for(lambda: (s := server_of(c, agent_id)) and s["online"] and s, timeout_s=30, what="online")
            time.sleep(2.5)  # a few reports of history before the outage
        finally:
            stop(agent)
        killed = time.time()
        wait_for(lambda: server_of(c, agent_id)["online"] is False, timeout_s=15, what="offline after the timeout")
        assert time.time() - killed >= OFFLINE_SECONDS - 1.0
        time.sleep(1.5)  # the gap stays visible in history after the restart

        agent = start_agent(live_server, token, agent_id, tmp_path)
        try:
            wait_for(lambda: server_of(c, agent_id)["online"], timeout_s=30, what="back online")
            assert server_of(c, agent_id)["id"] == srv["id"], "the same machine keeps its record"
            time.sleep(2.5)
        finally:
            stop(agent)

        sid = srv["id"]
        rows = wait_for(
            lambda: sql(c, f"SELECT time, cpu, mem_used FROM server_status WHERE server_id = '{sid}' ORDER BY time"),
            timeout_s=10,
            what="history rows",
        )
        times = [datetime.fromisoformat(r["time"][:26]).timestamp() for r in rows]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(times) >= 4 and max(gaps) >= OFFLINE_SECONDS, f"no gap in {times}"
        assert sorted(gaps)[len(gaps) // 2] < 2.0, "reports otherwise arrive every interval"
        assert all(r["mem_used"] > 0 for r in rows)
        events = wait_for(
            lambda: sql(c, f"SELECT event FROM server_events WHERE server_id = '{sid}' ORDER BY time"),
            timeout_s=10,
            what="state changes",
        )
        assert [e["event"] for e in events][:3] == ["online", "offline", "online"]


def test_a_member_sees_only_their_own_servers(live_server: RunningServer) -> None:
    from tests.cast import make_cast

    cast = make_cast(live_server)
    mine = httpx.get(f"{live_server.url}/api/v1/server", headers=cast.bob.bearer).json()["data"]
    assert mine == []
    v0 = httpx.get(f"{live_server.url}/api/v1/server/list", headers={"Authorization": cast.bob.token}).json()
    assert v0 == {"code": 0, "message": "success", "result": []}


def _agent_socket(server: RunningServer, headers: dict[str, str]) -> Any:
    from websockets.sync.client import connect

    return connect(server.url.replace("http://", "ws://") + "/api/v1/agent/ws", additional_headers=headers)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer heron_not-a-real-token"}])
def test_the_agent_endpoint_refuses_callers_without_a_users_credential(
    live_server: RunningServer, headers: dict[str, str]
) -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as exc:
        _agent_socket(live_server, headers)
    assert exc.value.response.status_code == 403


def test_a_token_cannot_take_over_another_users_machine_or_send_garbage(live_server: RunningServer, token: str) -> None:
    import json

    from websockets.exceptions import ConnectionClosed

    from tests.cast import make_cast

    agent_id = "agent-" + secrets.token_hex(4)
    hello = json.dumps({"type": "host", "agent_id": agent_id, "name": agent_id, "host": {"Platform": "x"}})
    with _agent_socket(live_server, {"Authorization": f"Bearer {token}"}) as ws:
        ws.send(hello)
        welcome = json.loads(ws.recv(timeout=10))
        assert welcome["type"] == "welcome" and welcome["name"] == agent_id
        ws.send(b"\x00binary")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003

    bob = make_cast(live_server).bob
    with _agent_socket(live_server, bob.bearer) as ws:
        ws.send(hello)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert "another user" in closed.value.rcvd.reason


def test_a_server_created_first_is_reported_by_an_agent_with_its_secret(
    live_server: RunningServer, token: str, tmp_path: Path
) -> None:
    """``POST /api/v1/server`` answers the agent secret once; ``heron agent --secret`` then
    reports as that server (same id, no new record), and the secret binds to that agent."""
    import json

    from websockets.exceptions import ConnectionClosed, InvalidStatus

    name = "precreated-" + secrets.token_hex(4)
    with live_server.client() as c:
        r = c.post("/api/v1/server", json={"name": name, "note": "rack 3", "public_note": "db"})
        assert r.status_code == 200, r.text
        created = r.json()["data"]
        assert created["name"] == name and created["note"] == "rack 3" and created["secret"].startswith("hsrv_")
        assert c.post("/api/v1/server", json={"name": name}).status_code == 400  # names are unique
        assert httpx.post(f"{live_server.url}/api/v1/server", json={"name": "x"}).status_code == 401
        agent_id = "agent-" + secrets.token_hex(4)
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "heron", "agent", "--server", live_server.url, "--secret", created["secret"]),
                *("--interval", "1", "--agent-id", agent_id, "--state-file", str(tmp_path / "agent-id")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            shown = wait_for(
                lambda: (s := server_of(c, agent_id)) and s["online"] and s["state"]["uptime"] > 0 and s,
                timeout_s=20,
                what="the pre-created server to report",
            )
            assert shown["id"] == created["id"] and shown["name"] == name and shown["host"]["arch"]
        finally:
            stop(proc)

        # The secret is bound to that agent now; another machine cannot use it.
        hello = json.dumps({"type": "host", "agent_id": "someone-else", "host": {}})
        with _agent_socket(live_server, {"Authorization": f"Bearer {created['secret']}"}) as ws:
            ws.send(hello)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            assert "another agent" in closed.value.rcvd.reason

        # A replaced secret stops working at once.
        r = c.post(f"/api/v1/server/{created['id']}/secret")
        assert r.status_code == 200 and r.json()["data"]["secret"] != created["secret"]
        with pytest.raises(InvalidStatus) as refused:
            _agent_socket(live_server, {"Authorization": f"Bearer {created['secret']}"})
        assert refused.value.response.status_code == 403
