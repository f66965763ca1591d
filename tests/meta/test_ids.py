"""Ids are never reused: a new object must not inherit the history of a deleted one."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cast import Person, make_cast
from tests.conftest import RunningServer, start_server
from tests.inventory.test_agent_live import start_agent, stop
from tests.inventory.test_server_admin import enrol
from tests.probes.conftest import wait_for


@pytest.fixture
def ids_server(meta_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    srv = start_server(tmp_path / "data", env={"HERON_META_URL": meta_url, "HERON_PROBE_NODE_NAME": "heron-node"})
    yield srv
    srv.stop()


def _push_monitor(url: str, auth: Any, name: str) -> tuple[int, str]:
    with httpx.Client(base_url=url, auth=auth, timeout=30) as c:
        r = c.post("/api/v1/service", json={"name": name, "type": "push", "duration": 3600, "enabled": True})
        assert r.status_code == 200, r.text
        ident: int = r.json()["data"]
        path: str = c.get(f"/api/v1/service/{ident}").json()["data"]["push_url"]
    return ident, path


def _recorded_points(url: str, auth: Any, ident: int) -> int:
    with httpx.Client(base_url=url, auth=auth, timeout=30) as c:
        r = c.get(f"/api/v1/service/{ident}/history", params={"period": "1d"})
        assert r.status_code == 200, r.text
        return sum(len(s["stats"]["data_points"]) for s in r.json()["data"]["servers"])


def test_a_new_monitor_of_another_member_does_not_show_a_deleted_ones_history(ids_server: RunningServer) -> None:
    cast = make_cast(ids_server)
    bob: Person = cast.bob
    old, path = _push_monitor(ids_server.url, ids_server.auth, "admin's backup")
    with httpx.Client(base_url=ids_server.url, timeout=30) as anyone:
        assert anyone.post(path, params={"msg": "secret host list"}).status_code == 200
    wait_for(lambda: _recorded_points(ids_server.url, ids_server.auth, old), timeout_s=30, what="the push result")
    with ids_server.client() as admin:
        assert admin.post("/api/v1/batch-delete/service", json=[old]).status_code == 200

    new, _ = _push_monitor(ids_server.url, (bob.username, bob.password), "bob's backup")
    assert _recorded_points(ids_server.url, (bob.username, bob.password), new) == 0
    assert new > old


def _cpu_points(url: str, headers: dict[str, str], server_id: int) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/api/v1/server/{server_id}/metrics", params={"metric": "cpu"}, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    points: list[dict[str, Any]] = r.json()["data"]["data_points"]
    return points


def test_a_new_server_of_another_member_does_not_show_a_deleted_ones_history(
    ids_server: RunningServer, tmp_path: Path
) -> None:
    cast = make_cast(ids_server)
    agent_id = "agent-" + secrets.token_hex(4)
    agent = start_agent(ids_server, cast.alice.token, agent_id, tmp_path)
    try:
        with ids_server.client() as admin:

            def reporting() -> int | None:
                found = [s["id"] for s in admin.get("/api/v1/server").json()["data"] if s["uuid"] == agent_id]
                return found[0] if found and _cpu_points(ids_server.url, cast.alice.bearer, found[0]) else None

            old = wait_for(reporting, timeout_s=60, what="the agent's status history")
    finally:
        stop(agent)
    with ids_server.client() as admin:
        assert admin.post("/api/v1/batch-delete/server", json=[old]).status_code == 200

    new = enrol(ids_server, cast.bob.bearer)
    assert _cpu_points(ids_server.url, cast.bob.bearer, new) == []
    assert new > old
