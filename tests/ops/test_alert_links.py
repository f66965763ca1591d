"""Alert rules and cron tasks together, end to end: real ``heron serve``, real agents allowing exec.

An offline rule's ``fail_trigger_tasks`` run a triggered task on another agent when the rule
fires, its ``recover_trigger_tasks`` one on the server that came back (``cover`` 2); both runs
are stored and audited as the rule's doing. A cron run that fails, or is missed because the
server is offline, tells the task's notification group through the outbox; a successful run
does only with ``push_successful``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.alerts.receivers import http_receiver
from tests.conftest import RunningServer, start_server
from tests.ops.conftest import server_id_of, start_agent, wait_for

pytestmark = pytest.mark.slow

FAST = {
    "HERON_HOST_OFFLINE_SECONDS": "2",
    "HERON_ALERT_EVAL_INTERVAL_SECONDS": "1",
    "HERON_ALERT_DELIVERY_POLL_SECONDS": "0.2",
    "HERON_ALERT_RETRY_BASE_SECONDS": "0.5",
    "HERON_ALERT_RETRY_MAX_SECONDS": "2",
}


@dataclass
class Pair:
    server: RunningServer
    token: str
    worker: int
    victim: int
    victim_agent: subprocess.Popen[bytes]

    def client(self) -> httpx.Client:
        return self.server.client()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    srv = start_server(tmp_path_factory.mktemp("heron-alert-links"), env=FAST)
    agents: list[subprocess.Popen[bytes]] = []
    try:
        r = httpx.post(f"{srv.url}/api/v1/token", json={"note": "links"}, auth=srv.auth, timeout=30)
        token = r.json()["data"]["token"]
        agents.append(start_agent(srv.url, token, "worker", "--allow", "exec"))
        agents.append(start_agent(srv.url, token, "victim", "--allow", "exec"))
        with srv.client() as c:
            worker = wait_for(lambda: server_id_of(c, "worker"), "the worker agent")
            victim = wait_for(lambda: server_id_of(c, "victim"), "the victim agent")
        pair = Pair(srv, token, worker, victim, agents[1])
        yield pair
        agents.append(pair.victim_agent)  # restarted by a test
    finally:
        for proc in agents:
            _stop(proc)
        srv.stop()


def _ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True, body
    return body["data"]


def _task(c: httpx.Client, **form: Any) -> int:
    body = {"task_type": 0, "scheduler": "0 0 3 1 1 *", "servers": [], "cover": 0, **form}
    task: int = _ok(c.post("/api/v1/cron", json=body))
    return task


def _runs(c: httpx.Client, task_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _ok(c.get(f"/api/v1/cron/{task_id}/runs"))["value"]
    return found


def test_cron_failures_and_missed_runs_tell_the_group_and_successes_only_with_push_successful(pair: Pair) -> None:
    with pair.client() as c, http_receiver() as hook:
        method = _ok(
            c.post(
                "/api/v1/notification",
                json={"name": "cron-hook", "url": hook.url + "/cron", "skip_check": True, "request_body": "#NEZHA#"},
            )
        )
        group = _ok(c.post("/api/v1/notification-group", json={"name": "cron", "notifications": [method]}))
        quiet = _task(c, name="quiet-ok", command="echo fine", servers=[pair.worker], notification_group_id=group)
        broken = _task(
            c, name="broken-job", command="echo oops; exit 3", servers=[pair.worker], notification_group_id=group
        )
        loud = _task(
            c,
            name="loud-ok",
            command="echo all good",
            servers=[pair.worker],
            notification_group_id=group,
            push_successful=True,
        )

        def messages() -> list[str]:
            return [r.body.decode() for r in list(hook.requests) if r.path == "/cron"]

        _ok(c.post(f"/api/v1/cron/{quiet}/manual"))
        wait_for(lambda: [r for r in _runs(c, quiet) if r["status"] == "ok"], "the quiet run")
        _ok(c.post(f"/api/v1/cron/{broken}/manual"))
        failed = wait_for(lambda: [m for m in messages() if "broken-job" in m], "the failure message")
        assert failed[0].startswith("[Task failed] broken-job failed (failed, exit code 3) on worker"), failed
        assert "oops" in failed[0]
        assert _runs(c, broken)[0]["exit_code"] == 3

        _ok(c.post(f"/api/v1/cron/{loud}/manual"))
        succeeded = wait_for(lambda: [m for m in messages() if "loud-ok" in m], "the success message")
        assert succeeded[0].startswith("[Task succeeded] loud-ok succeeded on worker"), succeeded
        assert not [m for m in messages() if "quiet-ok" in m], "a success without push_successful tells no one"
        notices = _ok(c.get("/api/v1/alert-event", params={"state": "notice"}))["value"]
        assert {e["rule_name"] for e in notices} == {"broken-job", "loud-ok"}
        assert all(e["rule_kind"] == "cron" and e["rule_id"] is None for e in notices)
        broken_event = next(e for e in notices if e["rule_name"] == "broken-job")
        assert broken_event["labels"]["status"] == "failed" and broken_event["server_id"] == pair.worker
        tries = wait_for(
            lambda: [
                d for d in _ok(c.get(f"/api/v1/alert-event/{broken_event['id']}/delivery")) if d["status"] == "sent"
            ],
            "the delivery recorded as sent",
        )
        assert len(tries) == 1

        # A run on a server whose agent is gone is missed, and said so.
        gone_agent = start_agent(pair.server.url, pair.token, "short-lived", "--allow", "exec")
        try:
            gone = wait_for(lambda: server_id_of(c, "short-lived"), "the short-lived agent")
        finally:
            _stop(gone_agent)
        wait_for(lambda: server_id_of(c, "short-lived") is None, "the short-lived agent to be offline")
        missed = _task(c, name="missed-job", command="true", servers=[gone], notification_group_id=group)
        _ok(c.post(f"/api/v1/cron/{missed}/manual"))
        said = wait_for(lambda: [m for m in messages() if "missed-job" in m], "the missed message")
        assert said[0].startswith("[Task failed] missed-job was missed on short-lived"), said
        assert _runs(c, missed)[0]["status"] == "missed"


def test_an_offline_rule_runs_its_fail_task_on_another_agent_and_its_recover_task_on_the_server_back(
    pair: Pair,
) -> None:
    with pair.client() as c:
        on_fire = _task(
            c, name="page-the-worker", task_type=1, command="echo fired-by-alert", servers=[pair.worker], cover=0
        )
        on_recover = _task(c, name="welcome-back", task_type=1, command="echo recovered-here", cover=2)
        rule = {
            "name": "victim-offline",
            "rules": [{"type": "offline", "duration": 2, "cover": 1, "ignore": {str(pair.victim): True}}],
            "fail_trigger_tasks": [on_fire],
            "recover_trigger_tasks": [on_recover],
            "trigger_mode": 1,
        }
        rule_id = _ok(c.post("/api/v1/alert-rule", json=rule))
        shown = _ok(c.get("/api/v1/alert-rule", params={"id": rule_id}))[0]
        assert (shown["fail_trigger_tasks"], shown["recover_trigger_tasks"]) == ([on_fire], [on_recover])
        assert _runs(c, on_fire) == [] and _runs(c, on_recover) == []

        _stop(pair.victim_agent)
        fired = wait_for(lambda: _runs(c, on_fire), "the fail task's run", timeout=90)
        assert len(fired) == 1
        run = fired[0]
        assert (run["server_id"], run["trigger"], run["status"]) == (pair.worker, "alert", "ok"), run
        assert run["output"].strip() == "fired-by-alert"
        assert _runs(c, on_recover) == []

        pair.victim_agent = start_agent(pair.server.url, pair.token, "victim", "--allow", "exec")
        back = wait_for(lambda: _runs(c, on_recover), "the recover task's run", timeout=90)
        assert (back[0]["server_id"], back[0]["trigger"], back[0]["status"]) == (pair.victim, "alert", "ok"), back
        assert back[0]["output"].strip() == "recovered-here"
        assert len(_runs(c, on_fire)) == 1, "trigger mode once: the fail task ran once"

        audit = _ok(c.get("/api/v1/audit", params={"action": "cron.run"}))["value"]
        by_rule = [a for a in audit if a["username"] == f"alert rule {rule_id}"]
        assert {(a["server_id"], a["via"], a["outcome"]) for a in by_rule} == {
            (pair.worker, "alert firing", "ok"),
            (pair.victim, "alert resolved", "ok"),
        }
        events = _ok(c.get("/api/v1/alert-event", params={"rule_id": rule_id}))["value"]
        assert [e["state"] for e in events] == ["resolved"]
