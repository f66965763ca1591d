"""PromQL rules against the real server: a rule over line-protocol points fires and resolves at a
real webhook receiver with Prometheus's templates rendered; a Nightingale ``prom_ql`` rule fires;
a rule file imports, exports and passes the real ``promtool check rules``, through the API and
through ``heron rules``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]

from tests.alerts.receivers import http_receiver, wait_for
from tests.conftest import RunningServer, start_server
from tests.promql.feed import push

FAST = {"HERON_ALERT_EVAL_INTERVAL_SECONDS": "1", "HERON_ALERT_DELIVERY_POLL_SECONDS": "0.2"}
#: The window over which a point counts as recent in the rules below.
RECENT = "8s"


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("promql-rules"), env=FAST)
    yield srv
    srv.stop()


def _ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body.get("success", True) is True and body.get("err", "") == "", body
    return body["data"] if "data" in body else body["dat"]


def _write(c: httpx.Client, lines: str) -> None:
    r = c.post("/api/v1/write", params={"db": "public"}, content=lines)
    assert r.status_code == 200, r.text


def _events(c: httpx.Client, rule_id: int, state: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _ok(c.get("/api/v1/alert-event", params={"rule_id": rule_id, "state": state}))[
        "value"
    ]
    return found


def test_a_promql_rule_fires_per_series_with_prometheus_templates_and_resolves_at_a_webhook(
    fast_server: RunningServer,
) -> None:
    with http_receiver() as hook, fast_server.client() as c:
        method = _ok(
            c.post(
                "/api/v1/notification",
                json={"name": "am", "url": hook.url + "/am", "preset": "alertmanager", "skip_check": True},
            )
        )
        group = _ok(c.post("/api/v1/notification-group", json={"name": "prom", "notifications": [method]}))
        _write(c, "boiler,host=a temp=20\nboiler,host=b temp=30\n")
        rule_id = _ok(
            c.post(
                "/api/v1/alert-rule",
                json={
                    "name": "BoilerHot",
                    "kind": "promql",
                    "expr": f"max_over_time(boiler_temp[{RECENT}]) > 50",
                    "interval_seconds": 1,
                    "labels": {"team": "{{ $labels.host }}-ops", "severity": "critical"},
                    "annotations": {
                        "summary": "{{ $labels.host }} is at {{ $value }} degrees",
                        "detail": '{{ if gt $value 75.0 }}very hot{{ else }}hot{{ end }} ({{ printf "%.1f" $value }})',
                    },
                    "notification_group_id": group,
                    "trigger_mode": 1,
                },
            )
        )
        shown = _ok(c.get("/api/v1/alert-rule", params={"id": rule_id}))[0]
        assert shown["kind"] == "promql" and shown["expr"].startswith("max_over_time(boiler_temp")
        assert shown["annotations"]["summary"] == "{{ $labels.host }} is at {{ $value }} degrees"

        _write(c, "boiler,host=a temp=70\nboiler,host=b temp=80\nboiler,host=c temp=20\n")
        wait_for(lambda: len(_events(c, rule_id, "firing")) == 2, timeout_s=30, what="two PromQL alerts firing")
        wait_for(
            lambda: len([a for body in hook.bodies("/am") for a in body["alerts"] if a["status"] == "firing"]) == 2,
            timeout_s=30,
            what="both firing messages",
        )
        firing = [a for body in hook.bodies("/am") for a in body["alerts"] if a["status"] == "firing"]
        by_host = {a["labels"]["host"]: a for a in firing}
        assert set(by_host) == {"a", "b"}
        assert by_host["a"]["labels"]["team"] == "a-ops" and by_host["a"]["labels"]["alertname"] == "BoilerHot"
        assert by_host["a"]["labels"]["severity"] == "critical" and "__name__" not in by_host["a"]["labels"]
        assert by_host["a"]["annotations"]["summary"] == "a is at 70.0 degrees"
        assert by_host["a"]["annotations"]["detail"] == "hot (70.0)"
        assert by_host["b"]["annotations"]["detail"] == "very hot (80.0)"
        status = _ok(c.get("/api/v1/alert-rule", params={"id": rule_id}))[0]["status"]
        assert status["state"] == "ok" and status["active"] == 2, status

        # No new hot points: once they leave the window the expression is empty and both resolve.
        wait_for(lambda: len(_events(c, rule_id, "resolved")) == 2, timeout_s=60, what="both alerts to resolve")
        wait_for(
            lambda: len([a for body in hook.bodies("/am") for a in body["alerts"] if a["status"] == "resolved"]) == 2,
            timeout_s=30,
            what="the resolved messages",
        )
        seen = Counter((a["labels"]["host"], a["status"]) for body in hook.bodies("/am") for a in body["alerts"])
        assert seen == {("a", "firing"): 1, ("b", "firing"): 1, ("a", "resolved"): 1, ("b", "resolved"): 1}
        _ok(c.post("/api/v1/batch-delete/alert-rule", json=[rule_id]))


def test_a_promql_rule_over_remote_write_waits_for_its_for_duration(fast_server: RunningServer) -> None:
    """Samples from remote write (protobuf, snappy) as a Prometheus would send them; ``for`` holds it pending."""
    with fast_server.client() as c:
        rule_id = _ok(
            c.post(
                "/api/v1/alert-rule",
                json={
                    "name": "queue backlog",
                    "kind": "promql",
                    "expr": f"max_over_time(jobs_queued[{RECENT}]) >= 100",
                    "interval_seconds": 1,
                    "for_seconds": 2,
                },
            )
        )
        now_ms = int(time.time() * 1000)
        push(
            f"{fast_server.url}/api/v1/prom/write",
            [({"__name__": "jobs_queued", "queue": "mail"}, [(now_ms, 150.0)])],
            auth=fast_server.auth,
        )
        pending = wait_for(lambda: _events(c, rule_id, "pending"), timeout_s=30, what="the alert to be pending")
        assert pending[0]["labels"]["queue"] == "mail"
        fired = wait_for(lambda: _events(c, rule_id, "firing"), timeout_s=30, what="the alert to fire after for")
        assert fired[0]["id"] == pending[0]["id"]
        _ok(c.post("/api/v1/batch-delete/alert-rule", json=[rule_id]))


def test_a_nightingale_prom_ql_rule_fires_with_its_query_severity(fast_server: RunningServer) -> None:
    with fast_server.client() as c:
        team = _ok(c.post("/api/n9e/user-groups", json={"name": "sre-prom", "note": ""}))
        bg = _ok(
            c.post(
                "/api/n9e/busi-groups", json={"name": "prom", "members": [{"user_group_id": team, "perm_flag": "rw"}]}
            )
        )
        _write(c, "disk,mount=/var used_percent=97\n")
        rule = {
            "name": "DiskFull",
            "prod": "metric",
            "cate": "prometheus",
            "severity": 2,
            "prom_ql": f"max_over_time(disk_used_percent[{RECENT}]) > 90",
            "prom_eval_interval": 1,
            "prom_for_duration": 0,
            "rule_config": {
                "queries": [{"prom_ql": f"max_over_time(disk_used_percent[{RECENT}]) > 90", "severity": 1}]
            },
            "append_tags": ["service=storage"],
            "annotations": {"summary": "{{ $labels.mount }} is {{ $value }}% full"},
        }
        assert _ok(c.post(f"/api/n9e/busi-group/{bg}/alert-rules", json=[rule])) == {"DiskFull": ""}
        rule_id = _ok(c.get(f"/api/n9e/busi-group/{bg}/alert-rules"))[0]["id"]
        fired = wait_for(lambda: _events(c, rule_id, "firing"), timeout_s=30, what="the Nightingale rule to fire")
        labels = fired[0]["labels"]
        assert labels["mount"] == "/var" and labels["service"] == "storage" and labels["severity"] == "critical"
        assert fired[0]["annotations"]["summary"] == "/var is 97.0% full"
        listed = _ok(c.get(f"/api/n9e/busi-group/{bg}/alert-rules"))[0]
        assert listed["heron_status"]["state"] == "ok" and "waiting" not in str(listed["heron_status"])
        current = _ok(c.get("/api/n9e/alert-cur-events/list", params={"bgid": bg}))
        assert any(e["rule_name"] == "DiskFull" for e in current["list"]), current
        c.request("DELETE", f"/api/n9e/busi-group/{bg}/alert-rules", json={"ids": [rule_id]})


RULE_FILE = """
groups:
  - name: node
    interval: 15s
    rules:
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        keep_firing_for: 1m30s
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.instance }} of {{ $labels.job }} is down"
          description: "{{ $labels.instance }} has been down for more than 5 minutes (value {{ $value | humanize }})."
      - alert: HighLoad
        expr: node_load1 > on(instance) count by (instance) (node_cpu_seconds_total{mode="idle"}) * 2
        labels:
          team: infra
  - name: api
    rules:
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
      - alert: ErrorBudgetBurn
        expr: sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05
        for: 10m
        annotations:
          summary: 'Error ratio {{ printf "%.2f" $value }}'
"""


def _promtool(path: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed; run make test-deps")
    return subprocess.run([binary, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)


def test_a_rule_file_imports_exports_and_promtool_accepts_the_export(
    fast_server: RunningServer, tmp_path: Path
) -> None:
    source = tmp_path / "source.yml"
    source.write_text(RULE_FILE)
    assert _promtool(source).returncode == 0  # the file itself is valid Prometheus

    with fast_server.client() as c:
        r = c.post("/api/v1/alert-rule/import", content=RULE_FILE)
        assert r.status_code == 400, r.text
        assert r.json()["error"].startswith("groups[1].rules[0].record: recording rules are not supported")
        bad = RULE_FILE.replace("expr: up == 0", "expr: up ==")
        r = c.post("/api/v1/alert-rule/import", params={"skip_recording": True}, content=bad)
        assert r.status_code == 400 and r.json()["error"].startswith("groups[0].rules[0].expr: parse error"), r.text
        bad = RULE_FILE.replace("for: 5m", "for: soon")
        r = c.post("/api/v1/alert-rule/import", params={"skip_recording": True}, content=bad)
        assert r.status_code == 400 and r.json()["error"].startswith("groups[0].rules[0].for:"), r.text
        r = c.post("/api/v1/alert-rule/import", content="groups: [")
        assert r.status_code == 400 and r.json()["error"].startswith("file: not YAML"), r.text
        assert not [x for x in _ok(c.get("/api/v1/alert-rule")) if x["kind"] == "promql" and x["group"] == "node"]

        done = _ok(c.post("/api/v1/alert-rule/import", params={"skip_recording": True}, content=RULE_FILE))
        assert len(done["created"]) == 3 and done["updated"] == []
        assert done["skipped_recording_rules"] == ["job:http_requests:rate5m"]
        rules = {x["name"]: x for x in _ok(c.get("/api/v1/alert-rule")) if x["id"] in done["created"]}
        down = rules["InstanceDown"]
        assert down["kind"] == "promql" and down["expr"] == "up == 0" and down["group"] == "node"
        assert down["for_seconds"] == 300 and down["keep_firing_for_seconds"] == 90
        assert down["interval_seconds"] == 15 and down["severity"] == "critical"
        assert rules["ErrorBudgetBurn"]["interval_seconds"] == 30  # no group interval: Heron's default

        again = _ok(c.post("/api/v1/alert-rule/import", params={"skip_recording": True}, content=RULE_FILE))
        assert again["created"] == [] and sorted(again["updated"]) == sorted(done["created"])

        r = c.get("/api/v1/alert-rule/export")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/yaml")
        exported = tmp_path / "exported.yml"
        exported.write_text(r.text)
        checked = _promtool(exported)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "SUCCESS: 3 rules found" in checked.stdout + checked.stderr
        doc = yaml.safe_load(r.text)
        groups = {g["name"]: g for g in doc["groups"]}
        node = {x["alert"]: x for x in groups["node"]["rules"]}
        assert groups["node"]["interval"] == "15s"
        assert node["InstanceDown"]["for"] == "5m" and node["InstanceDown"]["keep_firing_for"] == "1m30s"
        assert node["InstanceDown"]["annotations"]["summary"] == "{{ $labels.instance }} of {{ $labels.job }} is down"
        assert node["HighLoad"]["labels"] == {"team": "infra", "severity": "warning"}

        # A rule made in Heron, whose name is not a metric name, exports too.
        own = _ok(
            c.post("/api/v1/alert-rule", json={"name": "disk almost full!", "kind": "promql", "expr": "vector(1)"})
        )
        exported.write_text(c.get("/api/v1/alert-rule/export").text)
        checked = _promtool(exported)
        assert checked.returncode == 0 and "4 rules found" in checked.stdout + checked.stderr, checked.stdout
        heron_group = {g["name"]: g for g in yaml.safe_load(exported.read_text())["groups"]}["heron"]
        assert heron_group["rules"][0]["alert"] == "disk_almost_full_"
        _ok(c.post("/api/v1/batch-delete/alert-rule", json=[*done["created"], own]))


def _heron(*args: str, password: str) -> subprocess.CompletedProcess[str]:
    """``heron rules …`` signed in as admin, the password on stdin (as a script would pipe it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERON_")}
    return subprocess.run(
        [sys.executable, "-m", "heron", "rules", *args],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_heron_rules_import_and_export_on_the_command_line(fast_server: RunningServer, tmp_path: Path) -> None:
    source = tmp_path / "rules.yml"
    source.write_text(RULE_FILE)
    at = ("--server", fast_server.url, "--user", "admin")
    pw = fast_server.password

    refused = _heron("import", str(source), *at, password=pw)
    assert refused.returncode == 1 and "groups[1].rules[0].record: recording rules" in refused.stderr

    done = _heron("import", str(source), "--skip-recording", *at, password=pw)
    assert done.returncode == 0, done.stderr
    assert "3 rules created, 0 updated" in done.stdout and "job:http_requests:rate5m" in done.stdout

    out = tmp_path / "out.yml"
    exported = _heron("export", "--output", str(out), *at, password=pw)
    assert exported.returncode == 0, exported.stderr
    checked = _promtool(out)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # Round trip: the export imports back as updates of the same rules.
    back = _heron("import", str(out), *at, password=pw)
    assert back.returncode == 0 and "0 rules created, 3 updated" in back.stdout, back.stdout + back.stderr

    wrong = _heron("import", str(source), *at, password="nope")
    assert wrong.returncode == 1 and "answered 401" in wrong.stderr, wrong.stderr
    with fast_server.client() as c:
        r = c.post("/api/v1/token", json={"note": "rules"})
        assert r.status_code == 201, r.text
        token = r.json()["data"]["token"]
    printed = _heron("export", "--server", fast_server.url, "--token", token, password="")
    assert printed.returncode == 0 and printed.stdout.startswith("groups:"), printed.stderr

    with fast_server.client() as c:
        ids = [x["id"] for x in _ok(c.get("/api/v1/alert-rule")) if x["kind"] == "promql"]
        _ok(c.post("/api/v1/batch-delete/alert-rule", json=ids))
