"""Changing servers and server groups through Nezha v1's routes, against a real ``heron serve``.

Servers are enrolled the way agents enrol them (the agent WebSocket, with the owner's token),
then changed by their owner, refused to another member, moved by the admin, and deleted.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.cast import Cast, make_cast
from tests.conftest import RunningServer, start_server


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-server-admin"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cast(admin_server: RunningServer) -> Cast:
    return make_cast(admin_server)


def enrol(server: RunningServer, headers: dict[str, str], name: str | None = None) -> int:
    """Create a server as an agent would (its first message), owned by the token's user."""
    from websockets.sync.client import connect

    agent_id = "agent-" + secrets.token_hex(4)
    url = server.url.replace("http://", "ws://") + "/api/v1/agent/ws"
    with connect(url, additional_headers=headers) as ws:
        ws.send(json.dumps({"type": "host", "agent_id": agent_id, "name": name or agent_id, "host": {}}))
        welcome = json.loads(ws.recv(timeout=10))
    server_id: int = welcome["server_id"]
    return server_id


def listed(url: str, headers: dict[str, str] | None = None) -> dict[int, dict[str, Any]]:
    r = httpx.get(f"{url}/api/v1/server", headers=headers or {}, timeout=30)
    assert r.status_code == 200, r.text
    return {s["id"]: s for s in r.json()["data"]}


def test_an_owner_changes_their_server_and_guests_follow_hide_for_guest(
    admin_server: RunningServer, cast: Cast
) -> None:
    sid = enrol(admin_server, cast.bob.bearer)
    body = {"name": "web-renamed-" + secrets.token_hex(2), "note": "rack 4", "public_note": "Frankfurt"}
    with httpx.Client(base_url=cast.url, headers=cast.bob.bearer, timeout=30) as bob:
        r = bob.patch(f"/api/v1/server/{sid}", json={**body, "display_index": 7, "hide_for_guest": True})
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert r.json()["success"] is True
        assert {k: data[k] for k in body} == body and data["display_index"] == 7 and data["hide_for_guest"] is True
        mine = listed(cast.url, cast.bob.bearer)[sid]
        assert mine["name"] == body["name"] and mine["note"] == "rack 4"
        assert sid not in listed(cast.url), "hidden from guests"
        assert bob.patch(f"/api/v1/server/{sid}", json={"hide_for_guest": False}).status_code == 200
        guest = listed(cast.url)[sid]
        assert guest["public_note"] == "Frankfurt" and guest["note"] == "", "the private note stays private"
        assert guest["name"] == body["name"], "absent fields keep their values"
        r = bob.patch(f"/api/v1/server/{sid}", json={"name": "  "})
        assert r.status_code == 400 and r.json()["success"] is False


def test_another_member_may_not_change_or_delete_a_server(admin_server: RunningServer, cast: Cast) -> None:
    sid = enrol(admin_server, cast.bob.bearer)
    with httpx.Client(base_url=cast.url, headers=cast.charlie.bearer, timeout=30) as charlie:
        r = charlie.patch(f"/api/v1/server/{sid}", json={"note": "mine"})
        assert r.status_code == 403 and r.json() == {"success": False, "error": r.json()["error"]}
        assert charlie.post("/api/v1/batch-delete/server", json=[sid]).status_code == 403
        assert (
            charlie.post("/api/v1/batch-move/server", json={"ids": [sid], "to_user": cast.charlie.id}).status_code
            == 403
        )
        assert charlie.patch("/api/v1/server/999999", json={"note": "x"}).status_code == 404
    assert httpx.patch(f"{cast.url}/api/v1/server/{sid}", json={"note": "x"}).status_code == 401
    r = httpx.patch(f"{cast.url}/api/v1/server/{sid}", json={"note": "by the admin"}, headers=cast.alice.bearer)
    assert r.status_code == 200 and r.json()["data"]["note"] == "by the admin"
    assert sid in listed(cast.url, cast.bob.bearer)


def test_batch_delete_is_all_or_nothing_and_removes_servers(admin_server: RunningServer, cast: Cast) -> None:
    mine, theirs = enrol(admin_server, cast.bob.bearer), enrol(admin_server, cast.charlie.bearer)
    with httpx.Client(base_url=cast.url, headers=cast.bob.bearer, timeout=30) as bob:
        assert bob.post("/api/v1/batch-delete/server", json=[mine, theirs]).status_code == 403
        assert mine in listed(cast.url, cast.bob.bearer), "nothing deleted when one id is refused"
        assert bob.post("/api/v1/batch-delete/server", json=[mine, 999999]).status_code == 404
        r = bob.post("/api/v1/batch-delete/server", json=[mine])
        assert r.status_code == 200 and r.json() == {"success": True, "data": [mine]}
        assert mine not in listed(cast.url, cast.alice.bearer)
        assert bob.post("/api/v1/batch-delete/server", json="not a list").status_code == 400


def test_the_admin_moves_servers_to_another_user(admin_server: RunningServer, cast: Cast) -> None:
    sid = enrol(admin_server, cast.bob.bearer)
    with httpx.Client(base_url=cast.url, headers=cast.alice.bearer, timeout=30) as alice:
        r = alice.post("/api/v1/batch-move/server", json={"ids": [sid], "to_user": cast.charlie.id})
        assert r.status_code == 200 and r.json() == {"success": True, "data": [sid]}
        assert alice.post("/api/v1/batch-move/server", json={"ids": [sid], "to_user": 999999}).status_code == 404
    assert sid not in listed(cast.url, cast.bob.bearer)
    assert sid in listed(cast.url, cast.charlie.bearer)


def test_server_groups_are_created_changed_listed_and_deleted_by_their_owner(
    admin_server: RunningServer, cast: Cast
) -> None:
    a, b = enrol(admin_server, cast.bob.bearer), enrol(admin_server, cast.bob.bearer)
    other = enrol(admin_server, cast.charlie.bearer)
    with httpx.Client(base_url=cast.url, headers=cast.bob.bearer, timeout=30) as bob:
        r = bob.post("/api/v1/server-group", json={"name": "web", "servers": [a]})
        assert r.status_code == 200, r.text
        gid = r.json()["data"]
        assert isinstance(gid, int) and r.json()["success"] is True
        assert bob.post("/api/v1/server-group", json={"name": "x", "servers": [other]}).status_code == 403
        assert bob.post("/api/v1/server-group", json={"name": "", "servers": []}).status_code == 400

        r = bob.patch(f"/api/v1/server-group/{gid}", json={"name": "frontends", "servers": [a, b]})
        assert r.status_code == 200 and r.json()["data"]["servers"] == sorted([a, b])
        groups = {g["group"]["id"]: g for g in bob.get("/api/v1/server-group").json()["data"]}
        assert groups[gid]["group"]["name"] == "frontends" and groups[gid]["servers"] == sorted([a, b])
        assert set(groups[gid]["group"]) >= {"id", "created_at", "updated_at", "name"}

        r = bob.patch(f"/api/v1/server/{b}", json={"server_groups": []})
        assert r.status_code == 200
        assert bob.get("/api/v1/server-group").json()["data"][0]["servers"] == [a]
        assert bob.patch(f"/api/v1/server/{b}", json={"server_groups": [gid]}).status_code == 200

    with httpx.Client(base_url=cast.url, headers=cast.charlie.bearer, timeout=30) as charlie:
        assert gid not in [g["group"]["id"] for g in charlie.get("/api/v1/server-group").json()["data"]]
        assert charlie.patch(f"/api/v1/server-group/{gid}", json={"name": "mine"}).status_code == 403
        assert charlie.post("/api/v1/batch-delete/server-group", json=[gid]).status_code == 403
        assert charlie.patch(f"/api/v1/server/{other}", json={"server_groups": [gid]}).status_code == 403
    every = httpx.get(f"{cast.url}/api/v1/server-group", headers=cast.alice.bearer).json()["data"]
    assert gid in [g["group"]["id"] for g in every], "admins see every group"

    with httpx.Client(base_url=cast.url, headers=cast.bob.bearer, timeout=30) as bob:
        assert bob.post("/api/v1/batch-delete/server", json=[b]).status_code == 200
        assert bob.get("/api/v1/server-group").json()["data"][0]["servers"] == [a], "a deleted server leaves its groups"
        r = bob.post("/api/v1/batch-delete/server-group", json=[gid])
        assert r.status_code == 200 and r.json() == {"success": True, "data": [gid]}
        assert bob.get("/api/v1/server-group").json()["data"] == []
        assert bob.patch(f"/api/v1/server-group/{gid}", json={"name": "gone"}).status_code == 404


def test_an_agent_of_a_deleted_server_is_closed_and_a_renamed_one_is_not_duplicated(
    admin_server: RunningServer, cast: Cast
) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = admin_server.url.replace("http://", "ws://") + "/api/v1/agent/ws"
    status = json.dumps({"type": "status", "seq": 1, "status": {"CPU": 1.0}})
    for action in ("rename", "delete"):
        agent_id = "agent-" + secrets.token_hex(4)
        with connect(url, additional_headers=cast.bob.bearer) as ws:
            ws.send(json.dumps({"type": "host", "agent_id": agent_id, "name": agent_id, "host": {}}))
            sid = json.loads(ws.recv(timeout=10))["server_id"]
            ws.send(status)
            assert json.loads(ws.recv(timeout=10)) == {"type": "ack", "seq": 1}
            with httpx.Client(base_url=cast.url, headers=cast.bob.bearer, timeout=30) as bob:
                if action == "rename":
                    assert bob.patch(f"/api/v1/server/{sid}", json={"name": agent_id + "-new"}).status_code == 200
                    ws.send(status)
                    assert json.loads(ws.recv(timeout=10)) == {"type": "ack", "seq": 1}
                    time.sleep(1.5)  # sightings are flushed about once a second
                    names = [s["name"] for s in listed(cast.url, cast.alice.bearer).values()]
                    assert agent_id + "-new" in names and agent_id not in names
                else:
                    assert bob.post("/api/v1/batch-delete/server", json=[sid]).status_code == 200
                    ws.send(status)
                    with pytest.raises(ConnectionClosed) as closed:
                        ws.recv(timeout=10)
                    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
                    time.sleep(1.5)
                    assert agent_id not in [s["name"] for s in listed(cast.url, cast.alice.bearer).values()]
