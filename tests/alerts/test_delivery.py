"""SQL rules, delivery that survives SIGKILL, and forwarding to a real Alertmanager.

The alerts come from a query rule over points the test writes, so they fire and resolve on
the test's schedule: a point above the threshold in the last few seconds is an alert, and it
resolves when no such point is left.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alerts.receivers import free_port, http_receiver, wait_for
from tests.conftest import start_server

pytestmark = pytest.mark.slow

FAST = {
    "HERON_ALERT_EVAL_INTERVAL_SECONDS": "1",
    "HERON_ALERT_DELIVERY_POLL_SECONDS": "0.2",
    "HERON_ALERT_RETRY_BASE_SECONDS": "0.5",
    "HERON_ALERT_RETRY_MAX_SECONDS": "1",
    "HERON_ALERTMANAGER_RESEND_SECONDS": "2",
}
RECENT_SECONDS = 6
QUERY = (
    "SELECT host, max(value) AS value FROM temperature "
    f"WHERE time > now() - INTERVAL '{RECENT_SECONDS}' SECOND GROUP BY host"
)


def _ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True, body
    return body["data"]


def _write(c: httpx.Client, lines: str) -> None:
    r = c.post("/api/v1/write", params={"db": "public"}, content=lines)
    assert r.status_code == 200, r.text


def _sql_rule(c: httpx.Client, group: int, name: str = "hot") -> int:
    rule = {
        "name": name,
        "kind": "sql",
        "query": QUERY,
        "threshold": "value > 50",
        "interval_seconds": 1,
        "labels": {"team": "{{ labels.host }}-ops"},
        "annotations": {"summary": "{{ labels.host }} is at {{ value }} degrees"},
        "notification_group_id": group,
        "trigger_mode": 1,
    }
    rule_id: int = _ok(c.post("/api/v1/alert-rule", json=rule))
    return rule_id


def test_every_notification_arrives_exactly_once_across_a_dead_receiver_and_a_sigkill(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    server = start_server(data, env=FAST)
    password = server.password
    try:
        with server.client() as c:
            method = _ok(
                c.post(
                    "/api/v1/notification",
                    json={
                        "name": "am-hook",
                        "url": f"http://127.0.0.1:{port}/am",
                        "preset": "alertmanager",
                        "skip_check": True,
                    },
                )
            )
            group = _ok(
                c.post(
                    "/api/v1/notification-group", json={"name": "all", "notifications": [method], "group_by": ["host"]}
                )
            )
            _write(c, "temperature,host=c value=20\n")
            rule_id = _sql_rule(c, group)
            _write(c, "temperature,host=a value=70\ntemperature,host=b value=80\ntemperature,host=c value=20\n")

            def failed_tries() -> bool:
                events = _ok(c.get("/api/v1/alert-event", params={"rule_id": rule_id, "state": "firing"}))["value"]
                if len(events) != 2:
                    return False
                tries = [_ok(c.get(f"/api/v1/alert-event/{e['id']}/delivery")) for e in events]
                return all(t and t[0]["attempts"] >= 2 and t[0]["status"] == "pending" for t in tries)

            wait_for(failed_tries, timeout_s=30, what="two alerts whose deliveries failed twice")
        server.stop("kill")

        server = start_server(data, password=password, env=FAST)
        with http_receiver(port) as hook, server.client() as c:
            wait_for(lambda: len(hook.requests) >= 2, timeout_s=30, what="the firing messages after the restart")
            # No new points: the alerts resolve once the last hot point is older than the window.
            wait_for(
                lambda: (
                    _ok(c.get("/api/v1/alert-event", params={"rule_id": rule_id, "state": "resolved"}))["pagination"][
                        "total"
                    ]
                    == 2
                ),
                timeout_s=60,
                what="both alerts to resolve",
            )
            wait_for(lambda: len(hook.requests) >= 4, timeout_s=30, what="the resolved messages")
            time.sleep(2)  # anything sent twice would arrive now
            seen = Counter((a["labels"]["host"], a["status"]) for body in hook.bodies("/am") for a in body["alerts"])
            assert seen == {("a", "firing"): 1, ("b", "firing"): 1, ("a", "resolved"): 1, ("b", "resolved"): 1}
            keys = [r.headers["idempotency-key"] for r in hook.requests]
            assert len(keys) == len(set(keys))
            firing = [a for body in hook.bodies("/am") for a in body["alerts"] if a["status"] == "firing"]
            assert {a["labels"]["team"] for a in firing} == {"a-ops", "b-ops"}
            assert {a["annotations"]["summary"] for a in firing} == {"a is at 70.0 degrees", "b is at 80.0 degrees"}
            first = hook.bodies("/am")[0]
            assert first["version"] == "4" and first["receiver"] == "am-hook" and "groupKey" in first
    finally:
        server.stop()


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail("prometheus-alertmanager is not installed; run make test-deps")
    work = tmp_path_factory.mktemp("alertmanager")
    config = work / "alertmanager.yml"
    config.write_text("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url), timeout_s=30, what="alertmanager to start")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_a_real_alertmanager_receives_the_alerts_and_shows_them(alertmanager: str, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", env={**FAST, "HERON_ALERTMANAGER_URLS": alertmanager})
    try:
        with server.client() as c:
            group = _ok(c.post("/api/v1/notification-group", json={"name": "none", "notifications": []}))
            _write(c, "temperature,host=room0 value=20\n")
            _sql_rule(c, group, name="HotRoom")
            _write(c, "temperature,host=room1 value=90\n")

            def shown() -> list[dict[str, Any]]:
                alerts: list[dict[str, Any]] = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
                return [a for a in alerts if a["labels"].get("alertname") == "HotRoom"]

            found = wait_for(shown, timeout_s=30, what="the alert in Alertmanager")
            assert found[0]["labels"]["host"] == "room1" and found[0]["labels"]["team"] == "room1-ops"
            assert found[0]["status"]["state"] == "active"
            assert found[0]["annotations"]["summary"] == "room1 is at 90.0 degrees"
            # Resolved in Heron: Alertmanager gets endsAt and stops showing it as active.
            wait_for(
                lambda: not [a for a in shown() if a["status"]["state"] == "active"], timeout_s=60, what="resolution"
            )
    finally:
        server.stop()
