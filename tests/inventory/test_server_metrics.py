"""Server history and the browsers' live stream, with a real ``heron serve`` and a real ``heron agent``.

One agent reports every second for the whole module; the checks read
``GET /api/v1/server/{id}/metrics`` (Nezha v1's shape, every metric of the document) and
``GET /api/v1/ws/server`` as a browser would, as the admin, a member and a guest.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from heron.api.inventory.server_metrics import METRICS
from heron.api.inventory.server_ws import STREAM_KEYS
from tests.cast import Cast, make_cast
from tests.conftest import RunningServer, start_server
from tests.inventory.test_agent_live import server_of, start_agent, stop, wait_for

NEZHA_V1_METRICS_EXAMPLE = """
import requests

base_url = "BASE_URL"
server_id = SERVER_ID

response = requests.get(
    f"{base_url}/api/v1/server/{server_id}/metrics",
    params={"metric": "cpu", "period": "1d"},
    timeout=10,
)
response.raise_for_status()

payload = response.json()
if not payload.get("success"):
    raise RuntimeError(payload.get("error", "unknown error"))

for point in payload["data"]["data_points"]:
    print(point["ts"], point["value"])
"""


@pytest.fixture(scope="module")
def metrics_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-metrics"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cast(metrics_server: RunningServer) -> Cast:
    return make_cast(metrics_server)


@pytest.fixture(scope="module")
def reporting(
    metrics_server: RunningServer, cast: Cast, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A real agent of the admin's, online, with a few seconds of history; yields its server."""
    agent_id = "agent-" + secrets.token_hex(4)
    agent = start_agent(metrics_server, cast.alice.token, agent_id, tmp_path_factory.mktemp("agent"))
    try:
        with metrics_server.client() as c:
            srv = wait_for(
                lambda: (s := server_of(c, agent_id)) and s["online"] and s["state"]["process_count"] > 0 and s,
                timeout_s=30,
                what="the agent's first report",
            )
            wait_for(
                lambda: (
                    len(
                        c.get(f"/api/v1/server/{srv['id']}/metrics", params={"metric": "memory"}).json()["data"][
                            "data_points"
                        ]
                    )
                    > 0
                ),
                timeout_s=30,
                what="history in the TSDB",
            )
        yield srv
    finally:
        stop(agent)


def metrics(url: str, server_id: int, headers: dict[str, str] | None = None, **params: str) -> httpx.Response:
    return httpx.get(f"{url}/api/v1/server/{server_id}/metrics", params=params, headers=headers or {}, timeout=30)


def test_every_metric_of_the_document_answers_in_nezha_v1s_shape(
    metrics_server: RunningServer, cast: Cast, reporting: dict[str, Any]
) -> None:
    sid = reporting["id"]
    for metric in METRICS:
        r = metrics(metrics_server.url, sid, cast.alice.bearer, metric=metric)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["success"] is True
        data = body["data"]
        assert {k: data[k] for k in ("server_id", "server_name", "metric")} == {
            "server_id": sid,
            "server_name": reporting["name"],
            "metric": metric,
        }
        for point in data["data_points"]:
            assert set(point) == {"ts", "value"} and point["ts"] % 30_000 == 0
        if metric not in ("temperature", "gpu"):  # no sensors or GPUs in a container
            assert data["data_points"], f"{metric}: no points"
    memory = metrics(metrics_server.url, sid, cast.alice.bearer, metric="memory").json()["data"]["data_points"]
    assert all(p["value"] > 0 for p in memory)
    week = metrics(metrics_server.url, sid, cast.alice.bearer, metric="cpu", period="7d").json()["data"]
    assert week["data_points"] and all(p["ts"] % 300_000 == 0 for p in week["data_points"])
    month = metrics(metrics_server.url, sid, cast.alice.bearer, metric="cpu", period="30d").json()["data"]
    assert month["data_points"] and all(p["ts"] % 1_800_000 == 0 for p in month["data_points"])


def test_bad_metric_or_period_and_unknown_servers_are_refused(
    metrics_server: RunningServer, cast: Cast, reporting: dict[str, Any]
) -> None:
    sid, url, admin = reporting["id"], metrics_server.url, cast.alice.bearer
    r = metrics(url, sid, admin, metric="bogus")
    assert r.status_code == 400 and "cpu" in r.json()["error"] and r.json()["success"] is False
    assert metrics(url, sid, admin, metric="cpu", period="2d").status_code == 400
    assert metrics(url, sid, admin).status_code == 400, "metric is required"
    assert metrics(url, 999_999, admin, metric="cpu").status_code == 404


def test_guests_read_1d_only_and_nothing_hidden_members_only_their_own(
    metrics_server: RunningServer, cast: Cast, reporting: dict[str, Any]
) -> None:
    sid, url = reporting["id"], metrics_server.url
    guest = metrics(url, sid, metric="cpu")
    assert guest.status_code == 200 and guest.json()["data"]["data_points"]
    r = metrics(url, sid, metric="cpu", period="7d")
    assert r.status_code == 401 and "1d" in r.json()["error"]
    assert metrics(url, sid, cast.bob.bearer, metric="cpu").status_code == 404, "not bob's server"
    hide = httpx.patch(f"{url}/api/v1/server/{sid}", json={"hide_for_guest": True}, headers=cast.alice.bearer)
    assert hide.status_code == 200
    try:
        assert metrics(url, sid, metric="cpu").status_code == 404
        assert metrics(url, sid, cast.alice.bearer, metric="cpu", period="30d").status_code == 200
    finally:
        httpx.patch(f"{url}/api/v1/server/{sid}", json={"hide_for_guest": False}, headers=cast.alice.bearer)


def test_the_documents_python_example_runs_unchanged(metrics_server: RunningServer, reporting: dict[str, Any]) -> None:
    script = NEZHA_V1_METRICS_EXAMPLE.replace("BASE_URL", metrics_server.url).replace("SERVER_ID", str(reporting["id"]))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60).stdout
    lines = out.split("\n")
    ts, value = lines[0].split()
    assert int(ts) > 1_600_000_000_000 and float(value) >= 0


def stream(server: RunningServer, headers: dict[str, str] | None = None) -> Any:
    from websockets.sync.client import connect

    return connect(server.url.replace("http://", "ws://") + "/api/v1/ws/server", additional_headers=headers or {})


def next_frame(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return message


def test_the_browser_stream_sends_live_status_in_nezha_v1s_shape(
    metrics_server: RunningServer, cast: Cast, reporting: dict[str, Any]
) -> None:
    sid = reporting["id"]
    with stream(metrics_server, cast.alice.bearer) as ws:
        first = next_frame(ws)
        assert set(first) == {"now", "online", "servers"} and first["online"] >= 1
        assert abs(first["now"] / 1000 - time.time()) < 10
        mine = next(s for s in first["servers"] if s["id"] == sid)
        assert set(mine) == {*STREAM_KEYS, "country_code"}
        assert mine["online"] is True and mine["state"]["mem_used"] > 0 and mine["host"]["mem_total"] > 0
        assert "note" not in mine
        started = time.monotonic()
        second = next_frame(ws)
        assert 1.0 <= time.monotonic() - started <= 5.0, "frames come every couple of seconds"
        assert second["now"] > first["now"]
        later = next(s for s in second["servers"] if s["id"] == sid)
        wait_for(
            lambda: (
                next(s for s in next_frame(ws)["servers"] if s["id"] == sid)["state"]["uptime"]
                > mine["state"]["uptime"]
            ),
            timeout_s=15,
            what="live status moving on in the stream",
        )
        assert later["name"] == reporting["name"]


def test_the_stream_shows_guests_and_members_only_what_they_may_see(
    metrics_server: RunningServer, cast: Cast, reporting: dict[str, Any]
) -> None:
    sid, url = reporting["id"], metrics_server.url
    with stream(metrics_server) as guest:
        assert sid in [s["id"] for s in next_frame(guest)["servers"]]
    with stream(metrics_server, cast.bob.bearer) as bob:
        assert next_frame(bob)["servers"] == [], "a member sees only their own servers"
    hide = httpx.patch(f"{url}/api/v1/server/{sid}", json={"hide_for_guest": True}, headers=cast.alice.bearer)
    assert hide.status_code == 200
    try:
        with stream(metrics_server) as guest:
            wait_for(
                lambda: sid not in [s["id"] for s in next_frame(guest)["servers"]],
                timeout_s=10,
                what="the hidden server leaving the guest's stream (stored servers are reread every second)",
            )
        with stream(metrics_server, cast.alice.bearer) as alice:
            assert sid in [s["id"] for s in next_frame(alice)["servers"]]
    finally:
        httpx.patch(f"{url}/api/v1/server/{sid}", json={"hide_for_guest": False}, headers=cast.alice.bearer)


def test_the_stream_refuses_bad_credentials_and_guests_under_force_auth(
    metrics_server: RunningServer, cast: Cast
) -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as exc:
        stream(metrics_server, {"Authorization": "Bearer heron_not-a-real-token"})
    assert exc.value.response.status_code == 403
    admin = cast.alice.bearer
    assert httpx.patch(f"{cast.url}/api/v1/setting", json={"force_auth": True}, headers=admin).status_code == 200
    try:
        with pytest.raises(InvalidStatus) as exc:
            stream(metrics_server)
        assert exc.value.response.status_code == 403
        with stream(metrics_server, cast.bob.bearer) as bob:
            assert next_frame(bob)["servers"] == []
    finally:
        assert httpx.patch(f"{cast.url}/api/v1/setting", json={"force_auth": False}, headers=admin).status_code == 200
