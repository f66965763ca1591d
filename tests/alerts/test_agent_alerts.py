"""Server rules end to end: real ``heron serve``, a real ``heron agent``, real receivers.

A CPU rule fires while the test burns CPU and resolves after; the webhook receiver gets the
firing and the resolved message, the SMTP server the mail, an apprise ``json://`` target its
message; a silence then stops the next one (which is still recorded). Killing the agent fires
an offline rule, starting it again resolves it.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alerts.receivers import HttpReceiver, http_receiver, smtp_server, wait_for
from tests.conftest import RunningServer, start_server
from tests.inventory.test_agent_live import server_of, start_agent, stop

pytestmark = pytest.mark.slow

FAST = {
    "HERON_HOST_OFFLINE_SECONDS": "2",
    "HERON_ALERT_EVAL_INTERVAL_SECONDS": "1",
    "HERON_ALERT_DELIVERY_POLL_SECONDS": "0.2",
    "HERON_ALERT_RETRY_BASE_SECONDS": "0.5",
    "HERON_ALERT_RETRY_MAX_SECONDS": "2",
    # A host whose CPU hovers at the threshold (other load on a shared machine) is held firing
    # as flapping; a short window lets it resolve soon after it calms down.
    "HERON_ALERT_FLAP_WINDOW_SECONDS": "20",
}
#: CPU percent above which the rule fires; the burn keeps every core busy.
CPU_MAX = 85


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-alerts"), env=FAST)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def token(live: RunningServer) -> str:
    with live.client() as c:
        r = c.post("/api/v1/token", json={"note": "agent"})
    assert r.status_code == 201, r.text
    value: str = r.json()["data"]["token"]
    return value


def _spin(stop_at: Any) -> None:
    while not stop_at.is_set():
        sum(i * i for i in range(10_000))


class Burn:
    """Keeps every core busy until stopped (real load, seen by the real agent)."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._procs = [ctx.Process(target=_spin, args=(self._stop,)) for _ in range((os.cpu_count() or 1) + 1)]

    def __enter__(self) -> Burn:
        for p in self._procs:
            p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for p in self._procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()


def _alerts(receiver: HttpReceiver, path: str, status: str, alertname: str) -> list[dict[str, Any]]:
    found = []
    for body in receiver.bodies(path):
        found += [a for a in body.get("alerts", []) if a["status"] == status and a["labels"]["alertname"] == alertname]
    return found


def _ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True, body
    return body["data"]


def test_a_cpu_rule_fires_under_load_tells_every_method_resolves_and_a_silence_stops_the_next(
    live: RunningServer, token: str, tmp_path: Path
) -> None:
    agent_id = "burn-" + secrets.token_hex(4)
    agent = start_agent(live, token, agent_id, tmp_path)
    try:
        with live.client() as c, http_receiver() as hook, smtp_server() as (smtp_port, mails):
            srv = wait_for(lambda: (s := server_of(c, agent_id)) and s["online"] and s, timeout_s=30, what="the agent")
            webhook = _ok(c.post("/api/v1/notification", json={"name": "hook", "url": hook.url + "/hook"}))
            assert any(r.path == "/hook" for r in hook.requests), "saving a webhook sends a test message"
            email = _ok(
                c.post(
                    "/api/v1/notification",
                    json={
                        "name": "mail",
                        "kind": "email",
                        "smtp_host": "127.0.0.1",
                        "smtp_port": smtp_port,
                        "smtp_security": "none",
                        "from": "heron@example.org",
                        "to": ["ops@example.org"],
                    },
                )
            )
            assert mails == [], "saving an email method checks the connection without sending"
            apprise = _ok(
                c.post(
                    "/api/v1/notification",
                    json={"name": "push", "kind": "apprise", "apprise_urls": [f"json://127.0.0.1:{hook.port}/apprise"]},
                )
            )
            group = _ok(
                c.post("/api/v1/notification-group", json={"name": "ops", "notifications": [webhook, email, apprise]})
            )
            rule = {
                "name": "cpu-hot",
                "rules": [{"type": "cpu", "max": CPU_MAX, "duration": 3, "cover": 1, "ignore": {str(srv["id"]): True}}],
                "notification_group_id": group,
                "trigger_mode": 1,
                "enable": True,
            }
            rule_id = _ok(c.post("/api/v1/alert-rule", json=rule))

            with Burn():
                fired = wait_for(
                    lambda: _alerts(hook, "/hook", "firing", "cpu-hot"), timeout_s=90, what="the firing webhook"
                )
            assert fired[0]["labels"]["server_name"] == agent_id
            assert fired[0]["labels"]["server_id"] == str(srv["id"])
            resolved = wait_for(
                lambda: _alerts(hook, "/hook", "resolved", "cpu-hot"), timeout_s=300, what="the resolved webhook"
            )
            assert resolved[0]["labels"] == fired[0]["labels"]
            assert len(_alerts(hook, "/hook", "firing", "cpu-hot")) == 1, "trigger mode once: one firing message"

            wait_for(lambda: len(mails) >= 2, timeout_s=30, what="the firing and resolved mails")
            assert "cpu-hot" in mails[0][2] and mails[0][1] == ["ops@example.org"]
            pushes = [r.json() for r in hook.requests if r.path == "/apprise"]
            assert any("[Incident]" in p["message"] and agent_id in p["message"] for p in pushes), pushes

            events = _ok(c.get("/api/v1/alert-event", params={"rule_id": rule_id}))
            assert events["pagination"]["total"] == 1
            event = events["value"][0]
            assert event["state"] == "resolved" and event["fired_at"] and event["resolved_at"]
            assert [v["state"] for v in event["values"]][-2:] == ["firing", "resolved"]
            assert event["values"][0]["values"]["cpu"] > CPU_MAX
            tries = _ok(c.get(f"/api/v1/alert-event/{event['id']}/delivery"))
            assert {(d["state"], d["status"]) for d in tries} == {("firing", "sent"), ("resolved", "sent")}
            assert all(d["tries"] and d["tries"][-1]["ok"] for d in tries)

            silence = {
                "matchers": [{"name": "alertname", "op": "=", "value": "cpu-hot"}],
                "ends_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                "comment": "load test",
            }
            _ok(c.post("/api/v1/silence", json=silence))
            before = len(hook.requests), len(mails)
            with Burn():
                silenced = wait_for(
                    lambda: [
                        e
                        for e in _ok(c.get("/api/v1/alert-event", params={"rule_id": rule_id, "state": "firing"}))[
                            "value"
                        ]
                        if e["silenced"]
                    ],
                    timeout_s=90,
                    what="the silenced alert to be recorded",
                )
            tries = _ok(c.get(f"/api/v1/alert-event/{silenced[0]['id']}/delivery"))
            assert tries and {d["status"] for d in tries} == {"silenced"}
            wait_for(
                lambda: (
                    _ok(c.get("/api/v1/alert-event", params={"rule_id": rule_id, "state": "active"}))["value"] == []
                ),
                timeout_s=300,
                what="the silenced alert to resolve",
            )
            assert (len(hook.requests), len(mails)) == before, "a silenced alert is recorded, not sent"
    finally:
        stop(agent)


def test_killing_the_agent_fires_the_offline_rule_and_restarting_it_resolves_it(
    live: RunningServer, token: str, tmp_path: Path
) -> None:
    agent_id = "gone-" + secrets.token_hex(4)
    agent = start_agent(live, token, agent_id, tmp_path)
    try:
        with live.client() as c, http_receiver() as hook:
            srv = wait_for(lambda: (s := server_of(c, agent_id)) and s["online"] and s, timeout_s=30, what="the agent")
            method = _ok(
                c.post(
                    "/api/v1/notification",
                    json={
                        "name": "nezha-style",
                        "url": hook.url + "/nezha",
                        "skip_check": True,
                        "request_body": '{"text": "#NEZHA#", "server": "#SERVER.NAME#"}',
                    },
                )
            )
            group = _ok(c.post("/api/v1/notification-group", json={"name": "offline", "notifications": [method]}))
            rule = {
                "name": "machine-down",
                "rules": [{"type": "offline", "duration": 2, "cover": 1, "ignore": {str(srv["id"]): True}}],
                "notification_group_id": group,
                "trigger_mode": 1,
            }
            _ok(c.post("/api/v1/alert-rule", json=rule))
            stop(agent)
            fired = wait_for(lambda: hook.bodies("/nezha"), timeout_s=30, what="the offline alert")
            assert fired[0]["text"].startswith("[Incident]") and agent_id in fired[0]["text"]
            assert fired[0]["server"] == agent_id
            agent = start_agent(live, token, agent_id, tmp_path)
            both = wait_for(
                lambda: len(hook.bodies("/nezha")) >= 2 and hook.bodies("/nezha"), timeout_s=30, what="resolved"
            )
            assert both[1]["text"].startswith("[Resolved]") and agent_id in both[1]["text"]
    finally:
        stop(agent)
