"""``GET /api/v1/service/daily``: up and down checks per monitor and UTC day, for uptime bars."""

from __future__ import annotations

import time

from tests.conftest import RunningServer
from tests.probes.conftest import wait_for

DAY = 86_400


def test_a_push_monitors_calls_are_counted_on_today(probes_server: RunningServer) -> None:
    with probes_server.client() as c:
        body = {"name": "daily-push", "type": "push", "duration": 3600}
        monitor_id = c.post("/api/v1/service", json=body).json()["data"]
        push = c.get(f"/api/v1/service/{monitor_id}").json()["data"]["push_url"]
        for suffix in ("", "", "?status=down&msg=broken"):
            assert c.get(push + suffix).status_code == 200

        def counted() -> dict[str, list[int]] | None:
            r = c.get("/api/v1/service/daily", params={"days": 90})
            assert r.status_code == 200, r.text
            data = r.json()["data"]
            assert data["days"] == 90 and data["first_day"] == (int(time.time()) // DAY - 89) * DAY
            mine: dict[str, list[int]] = data["services"][str(monitor_id)]
            return mine if sum(mine["up"]) + sum(mine["down"]) >= 3 else None

        found = wait_for(counted, timeout_s=30, what="the push results in the daily counts")
        assert len(found["up"]) == len(found["down"]) == 90
        assert found["up"][-1] == 2 and found["down"][-1] == 1 and sum(found["up"][:-1]) == 0
        short = c.get("/api/v1/service/daily", params={"days": 7}).json()["data"]["services"][str(monitor_id)]
        assert short["up"][-1] == 2 and len(short["up"]) == 7
        c.post("/api/v1/batch-delete/service", json=[monitor_id])


def test_days_outside_1_to_90_are_refused(probes_server: RunningServer) -> None:
    with probes_server.client() as c:
        for days in (0, 91):
            r = c.get("/api/v1/service/daily", params={"days": days})
            assert r.status_code in (400, 422) and "days" in r.text, r.text


def test_a_monitors_state_changes_are_listed_newest_first(probes_server: RunningServer) -> None:
    with probes_server.client() as c:
        body = {"name": "events-push", "type": "push", "duration": 3600, "retries": 0}
        monitor_id = c.post("/api/v1/service", json=body).json()["data"]
        push = c.get(f"/api/v1/service/{monitor_id}").json()["data"]["push_url"]
        assert c.get(push).status_code == 200
        wait_for(
            lambda: c.get(f"/api/v1/service/{monitor_id}/event").json()["data"], timeout_s=30, what="the first change"
        )
        assert c.get(push + "?status=down&msg=disk%20full").status_code == 200

        def two() -> list[dict[str, object]] | None:
            found: list[dict[str, object]] = c.get(f"/api/v1/service/{monitor_id}/event").json()["data"]
            return found if len(found) >= 2 else None

        found = wait_for(two, timeout_s=30, what="the second change")
        assert [(e["previous"], e["state"]) for e in found] == [("up", "down"), ("pending", "up")], found
        assert "disk full" in str(found[0]["reason"]) and found[0]["server_id"] == 0
        assert int(str(found[0]["at"])) >= int(str(found[1]["at"]))
        assert len(c.get(f"/api/v1/service/{monitor_id}/event", params={"limit": 1}).json()["data"]) == 1
        assert c.get("/api/v1/service/999999/event").status_code == 404
        c.post("/api/v1/batch-delete/service", json=[monitor_id])
