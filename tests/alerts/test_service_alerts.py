"""Alerts over service monitors, end to end: real ``heron serve``, real targets, a real receiver.

A service rule fires when the monitored HTTP server stops and resolves when it is back; the
webhook receiver gets each message once. A monitor saved with Nezha's ``notify`` and a
``notification_group_id`` tells its group by itself, naming the monitor, once per transition,
across a SIGKILL of Heron. Certificate and latency conditions fire on a real HTTPS target.
Bad rules are refused when saved, naming the field.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alerts.receivers import HttpReceiver, http_receiver, wait_for
from tests.cast import Cast, make_cast
from tests.conftest import RunningServer, start_server
from tests.probes.targets import http_target
from tests.probes.test_tls import NOW, ca, server_context  # noqa: F401 - ca is a fixture used here

pytestmark = pytest.mark.slow

FAST = {
    "HERON_ALERT_EVAL_INTERVAL_SECONDS": "1",
    "HERON_ALERT_DELIVERY_POLL_SECONDS": "0.2",
    "HERON_ALERT_RETRY_BASE_SECONDS": "0.5",
    "HERON_ALERT_RETRY_MAX_SECONDS": "2",
    "HERON_PROBE_NODE_NAME": "heron-node",
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-service-alerts"), env=FAST)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cast(live: RunningServer) -> Cast:
    return make_cast(live)


def _ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True, body
    return body["data"]


def _group(c: httpx.Client, hook: HttpReceiver, path: str, **method: Any) -> int:
    notification = _ok(
        c.post("/api/v1/notification", json={"name": path, "url": hook.url + path, "skip_check": True, **method})
    )
    group: int = _ok(c.post("/api/v1/notification-group", json={"name": path, "notifications": [notification]}))
    return group


def _monitor(c: httpx.Client, url: str, **extra: Any) -> int:
    body = {"name": "site-" + secrets.token_hex(3), "type": 1, "target": url, "duration": 1, "retries": 0, **extra}
    monitor: int = _ok(c.post("/api/v1/service", json=body))
    return monitor


def _state(c: httpx.Client, monitor_id: int) -> str:
    found = _ok(c.get(f"/api/v1/service/{monitor_id}/server"))
    return str(found[0]["state"]) if found else "pending"


def _alerts(hook: HttpReceiver, path: str, status: str, alertname: str) -> list[dict[str, Any]]:
    found = []
    for body in hook.bodies(path):
        found += [a for a in body.get("alerts", []) if a["status"] == status and a["labels"]["alertname"] == alertname]
    return found


def test_a_service_rule_fires_when_the_site_stops_and_resolves_when_it_is_back(live: RunningServer, cast: Cast) -> None:
    with live.client() as c, http_receiver() as hook, http_target() as web:
        bobs = {"kind": "service", "name": "bobs-sites", "rules": [{"type": "down"}]}
        with httpx.Client(base_url=live.url, headers=cast.bob.bearer, timeout=30) as bob:
            bobs_rule = _ok(bob.post("/api/v1/alert-rule", json=bobs))
        group = _group(c, hook, "/svc")
        monitor = _monitor(c, web.url + "/")
        other = _monitor(c, web.url + "/")
        rule = {
            "kind": "service",
            "name": "site-down",
            "rules": [{"type": "down", "duration": 1, "cover": 1, "ignore": {str(monitor): True}}],
            "notification_group_id": group,
            "trigger_mode": 1,
        }
        rule_id = _ok(c.post("/api/v1/alert-rule", json=rule))
        shown = _ok(c.get("/api/v1/alert-rule", params={"id": rule_id}))[0]
        assert shown["kind"] == "service" and shown["rules"][0]["type"] == "down"
        assert shown["rules"][0]["ignore"] == {str(monitor): True}
        wait_for(lambda: _state(c, monitor) == "up", timeout_s=30, what="the monitor to be up")

        web.stop()
        fired = wait_for(lambda: _alerts(hook, "/svc", "firing", "site-down"), timeout_s=60, what="the firing")
        labels = fired[0]["labels"]
        assert labels["service_id"] == str(monitor) and labels["vantage_id"] == "0"
        assert labels["vantage_name"] == "heron-node"
        web.start()
        resolved = wait_for(lambda: _alerts(hook, "/svc", "resolved", "site-down"), timeout_s=60, what="resolved")
        assert resolved[0]["labels"] == labels

        events = _ok(c.get("/api/v1/alert-event", params={"rule_id": rule_id}))
        assert events["pagination"]["total"] == 1, "the rule covers one monitor only, not the other one"
        event = events["value"][0]
        assert event["state"] == "resolved" and event["rule_kind"] == "service"
        assert event["values"][0]["values"] == {"down": 1.0}
        tries = _ok(c.get(f"/api/v1/alert-event/{event['id']}/delivery"))
        assert sorted((d["state"], d["status"]) for d in tries) == [("firing", "sent"), ("resolved", "sent")]
        assert len(_alerts(hook, "/svc", "firing", "site-down")) == 1
        assert len(_alerts(hook, "/svc", "resolved", "site-down")) == 1
        assert all(str(other) != a["labels"]["service_id"] for a in _alerts(hook, "/svc", "firing", "site-down"))
        bobs_events = _ok(c.get("/api/v1/alert-event", params={"rule_id": bobs_rule}))
        assert bobs_events["pagination"]["total"] == 0, "a member's rule watches the member's monitors only"


@pytest.mark.parametrize("days_left", [3])
def test_certificate_and_latency_conditions_fire_on_a_real_https_target(
    live: RunningServer,
    ca: Any,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    days_left: int,
) -> None:
    context = server_context(
        ca, tmp_path, not_before=NOW - dt.timedelta(days=30), not_after=NOW + dt.timedelta(days=days_left)
    )
    with live.client() as c, http_receiver() as hook, http_target(context=context) as web:
        group = _group(c, hook, "/tls")
        monitor = _monitor(c, web.url + "/", options={"tls_ca": ca.pem})
        only = {"cover": 1, "ignore": {str(monitor): True}}
        cert = {"kind": "service", "name": "cert-soon", "rules": [{"type": "cert_expiry", "min": 14, **only}]}
        slow = {"kind": "service", "name": "too-fast", "rules": [{"type": "latency", "min": 600_000, **only}]}
        for rule in (cert, slow):
            _ok(c.post("/api/v1/alert-rule", json={**rule, "notification_group_id": group, "trigger_mode": 1}))
        fired = wait_for(
            lambda: (
                (a := _alerts(hook, "/tls", "firing", "cert-soon"))
                and _alerts(hook, "/tls", "firing", "too-fast")
                and a
            ),
            timeout_s=60,
            what="both alerts",
        )
        assert fired[0]["labels"]["service_id"] == str(monitor)
        events = _ok(c.get("/api/v1/alert-event", params={"state": "firing", "query": "cert-soon"}))["value"]
        days = events[0]["values"][0]["values"]["cert_expiry"]
        assert days_left - 1 < days <= days_left


def test_bad_service_rules_and_trigger_lists_are_refused_naming_the_field(live: RunningServer, cast: Cast) -> None:
    cases = [
        ({"rules": [{"type": "gone"}]}, "rules[0].type"),
        ({"rules": [{"type": "latency"}]}, "rules[0]"),
        ({"rules": [{"type": "latency", "min": 50, "max": 10}]}, "min (50) is greater than max (10)"),
        ({"rules": [{"type": "cert_expiry"}]}, "rules[0].min"),
        ({"rules": [{"type": "down", "duration": -1}]}, "rules[0].duration"),
        ({"rules": [{"type": "down", "ignore": {"x": True}}]}, "rules[0].ignore"),
        ({"rules": []}, "rules"),
        ({"rules": [{"type": "down"}], "fail_trigger_tasks": [987654]}, "fail_trigger_tasks: cron task 987654"),
    ]
    with live.client() as c:
        for extra, named in cases:
            r = c.post("/api/v1/alert-rule", json={"kind": "service", "name": "bad", **extra})
            assert 400 <= r.status_code < 500, (extra, r.text)
            assert named in r.json()["error"], (named, r.text)
        scheduled = _ok(
            c.post(
                "/api/v1/cron",
                json={"name": "nightly", "task_type": 0, "scheduler": "0 0 3 * * *", "command": "true", "servers": []},
            )
        )
        r = c.post(
            "/api/v1/alert-rule",
            json={"kind": "service", "name": "bad", "rules": [{"type": "down"}], "recover_trigger_tasks": [scheduled]},
        )
        assert r.status_code == 400 and "recover_trigger_tasks" in r.json()["error"], r.text
        assert "task_type 1" in r.json()["error"]
        admins_task = _ok(
            c.post("/api/v1/cron", json={"name": "restart", "task_type": 1, "command": "true", "cover": 2})
        )
        ok_rule = {"kind": "service", "name": "ok", "rules": [{"type": "down"}], "fail_trigger_tasks": [admins_task]}
        assert c.post("/api/v1/alert-rule", json=ok_rule).status_code == 200
        with httpx.Client(base_url=live.url, headers=cast.bob.bearer, timeout=30) as bob:
            r = bob.post("/api/v1/alert-rule", json=ok_rule)
            assert r.status_code in (403, 404), "a member cannot make an admin's task run: " + r.text
        r = c.post("/api/v1/service", json={"name": "x", "type": 1, "target": "http://127.0.0.1:9/", "notify": True,
                                            "notification_group_id": 987654})  # fmt: skip
        assert r.status_code == 404 and "notification_group_id" in r.json()["error"], r.text
        r = c.post("/api/v1/cron", json={"name": "x", "task_type": 1, "command": "true", "cover": 2,
                                         "notification_group_id": 987654})  # fmt: skip
        assert r.status_code == 404 and "notification_group_id" in r.json()["error"], r.text


def test_a_monitor_with_notify_tells_its_group_once_per_transition_across_a_kill(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data = tmp_path_factory.mktemp("heron-monitor-notify")
    srv = start_server(data, env=FAST)
    try:
        with http_receiver() as hook, http_target() as web:
            with srv.client() as c:
                group = _group(c, hook, "/nezha", request_body='{"text": "#NEZHA#"}')
                name = "shop-" + secrets.token_hex(3)
                monitor = _monitor(c, web.url + "/", name=name, notify=True, notification_group_id=group)
                wait_for(lambda: _state(c, monitor) == "up", timeout_s=30, what="the monitor to be up")
                web.stop()
                down = wait_for(lambda: hook.bodies("/nezha"), timeout_s=60, what="the down message")
                assert down[0]["text"].startswith("[Incident]") and name in down[0]["text"], down
                events = _ok(c.get("/api/v1/alert-event", params={"state": "firing", "query": name}))["value"]
                assert events and events[0]["rule_id"] is None and events[0]["rule_kind"] == "service"
                tries = wait_for(
                    lambda: [
                        d
                        for d in _ok(c.get(f"/api/v1/alert-event/{events[0]['id']}/delivery"))
                        if d["status"] == "sent"
                    ],
                    timeout_s=30,
                    what="the delivery to be recorded as sent",
                )
                assert len(tries) == 1
            srv.stop("kill")
            srv = start_server(data, password=srv.password, env=FAST)
            with srv.client() as c:
                # Down again after the restart: the open event is found, nothing is sent twice.
                wait_for(lambda: _state(c, monitor) == "down", timeout_s=60, what="the monitor down after restart")
                web.start()
                both = wait_for(
                    lambda: len(hook.bodies("/nezha")) >= 2 and hook.bodies("/nezha"), timeout_s=60, what="recovery"
                )
                assert both[1]["text"].startswith("[Resolved]") and name in both[1]["text"], both
                wait_for(lambda: _state(c, monitor) == "up", timeout_s=30, what="the monitor up")
                event = _ok(c.get(f"/api/v1/alert-event/{events[0]['id']}"))
                assert event["state"] == "resolved"
                assert len(hook.bodies("/nezha")) == 2, hook.bodies("/nezha")

                # Down again, then deleted: the open incident is closed without a message.
                web.stop()
                wait_for(lambda: len(hook.bodies("/nezha")) >= 3, timeout_s=60, what="the second down message")
                again = _ok(c.get("/api/v1/alert-event", params={"state": "firing", "query": name}))["value"]
                assert len(again) == 1 and again[0]["id"] != events[0]["id"]
                _ok(c.post("/api/v1/batch-delete/service", json=[monitor]))
                closed = wait_for(
                    lambda: (e := _ok(c.get(f"/api/v1/alert-event/{again[0]['id']}")))["state"] == "resolved" and e,
                    timeout_s=30,
                    what="the deleted monitor's incident to close",
                )
                assert closed["annotations"]["heron_resolved_by"] == "monitor deleted"
            assert len(hook.bodies("/nezha")) == 3, hook.bodies("/nezha")
    finally:
        srv.stop()


def test_latency_notify_tells_the_group_once_per_excursion_above_max_or_below_min(live: RunningServer) -> None:
    with live.client() as c, http_receiver() as hook, http_target() as web:
        group = _group(c, hook, "/latency", request_body='{"text": "#NEZHA#"}')
        name = "api-" + secrets.token_hex(3)
        monitor = _monitor(
            c, web.url + "/", name=name, latency_notify=True, max_latency=0.001, notification_group_id=group
        )

        def texts() -> list[str]:
            return [b["text"] for b in hook.bodies("/latency")]

        above = wait_for(texts, timeout_s=60, what="the latency message")
        assert above[0].startswith(f"[Latency] {name} ") and "ms > 0.001 ms, from heron-node" in above[0], above
        checks: set[str] = set()

        def more_checks() -> bool:
            checks.add(_ok(c.get(f"/api/v1/service/{monitor}/server"))[0]["last_check_at"])
            return len(checks) >= 4

        wait_for(more_checks, timeout_s=60, what="more slow checks")
        assert len(texts()) == 1, "one message per excursion, not one per check"
        open_now = _ok(c.get("/api/v1/alert-event", params={"state": "firing", "query": name}))["value"]
        assert len(open_now) == 1 and open_now[0]["labels"]["check"] == "latency"

        _ok(c.patch(f"/api/v1/service/{monitor}", json={"max_latency": 600_000}))
        wait_for(
            lambda: _ok(c.get(f"/api/v1/alert-event/{open_now[0]['id']}"))["state"] == "resolved",
            timeout_s=60,
            what="back in range: the incident resolves",
        )
        assert len(texts()) == 1, "back in range is not a message (Nezha's unmuting)"
        _ok(c.patch(f"/api/v1/service/{monitor}", json={"max_latency": 0, "min_latency": 600_000}))
        below = wait_for(lambda: len(texts()) >= 2 and texts(), timeout_s=60, what="the below-min message")
        assert "ms < 600000 ms, from heron-node" in below[1], below
