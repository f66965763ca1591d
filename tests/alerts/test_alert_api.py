"""The alerting APIs against the real server: bad input is a 4xx naming the field, secrets stay
masked, members see only their own things, and Nightingale's pages work in its shapes."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.alerts.receivers import http_receiver, smtp_server
from tests.cast import Cast, make_cast
from tests.conftest import RunningServer


@pytest.fixture(scope="module")
def cast(server: RunningServer) -> Cast:
    return make_cast(server)


def _ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body.get("success", True) is True and body.get("err", "") == "", body
    return body["data"] if "data" in body else body["dat"]


CPU = {"type": "cpu", "max": 90, "duration": 10, "cover": 0}


@pytest.mark.parametrize(
    ("rule", "status", "names"),
    [
        ({"name": "x", "rules": [{**CPU, "type": "cpu_hot"}]}, 400, "rules[0].type: unknown type 'cpu_hot'"),
        ({"name": "x", "rules": [{**CPU, "min": 95}]}, 400, "rules[0]: min (95) is greater than max (90)"),
        ({"name": "x", "rules": [{**CPU, "duration": -1}]}, 400, "rules[0].duration: must not be negative"),
        ({"name": "x", "rules": []}, 400, "rules: need at least one condition"),
        ({"name": "x", "rules": [{**CPU, "cover": 7}]}, 400, "rules[0].cover"),
        ({"name": "x", "rules": [{"type": "transfer_in_cycle", "max": 1e9, "cycle_interval": 1}]}, 400, "cycle_start"),
        ({"name": "x", "rules": [CPU], "trigger_mode": 3}, 400, "trigger_mode"),
        (
            {"name": "x", "rules": [CPU], "annotations": {"s": "{{ value "}},
            400,
            "annotations.s: the template does not compile",
        ),
        ({"name": "x", "kind": "sql", "query": "SELEC 1"}, 422, "query: "),
        ({"name": "x", "kind": "sql", "query": "SELECT * FROM read_csv('/etc/passwd')"}, 422, "is not allowed"),
        ({"name": "x", "kind": "sql", "query": "SELECT 1 AS value", "threshold": "value >"}, 422, "query or threshold"),
        ({"name": "x", "kind": "sql", "query": "SELECT 1 AS value", "threshold": "1; DROP"}, 400, "threshold: one SQL"),
        ({"name": "x", "kind": "sql", "query": "SELECT 1 AS value", "for_seconds": -5}, 400, "for_seconds: must not"),
        ({"name": "x", "kind": "promql", "prom_ql": "up"}, 400, "expr: a PromQL rule needs its expression"),
        ({"name": "x", "kind": "promql", "expr": "rate(up[5m]"}, 400, "expr: parse error"),
        ({"name": "x", "kind": "promql", "expr": "up[5m]"}, 400, "expr: an alerting rule's expression must give"),
        ({"name": "x", "kind": "promql", "expr": "up", "annotations": {"s": "{{ $nope }}"}}, 400, "annotations.s:"),
        ({"name": "x", "kind": "promql", "expr": "up", "labels": {"a": "{{ range $labels }}"}}, 400, "labels.a:"),
        (
            {"name": "x", "kind": "promql", "expr": "up", "database": "nope"},
            422,
            "database: database 'nope' does not exist",
        ),
        ({"name": "x", "kind": "nagios"}, 400, "kind: expected 'server', 'service', 'sql' or 'promql', got 'nagios'"),
    ],
)
def test_a_bad_rule_is_refused_when_saved_naming_the_field(
    client: httpx.Client, rule: dict[str, Any], status: int, names: str
) -> None:
    r = client.post("/api/v1/alert-rule", json=rule)
    assert r.status_code == status, r.text
    assert names in r.json()["error"]


def test_a_sql_rule_that_compiles_is_saved_and_shows_its_status(client: httpx.Client) -> None:
    rule = {"name": "const", "kind": "sql", "query": "SELECT 'a' AS host, 1.5 AS value", "threshold": "value > 1"}
    rule_id = _ok(client.post("/api/v1/alert-rule", json=rule))
    shown = _ok(client.get("/api/v1/alert-rule", params={"id": rule_id}))[0]
    assert shown["kind"] == "sql" and shown["threshold"] == "value > 1" and shown["interval_seconds"] == 30
    assert shown["status"]["state"] in ("ok", "pending_first_evaluation")
    _ok(client.post("/api/v1/batch-delete/alert-rule", json=[rule_id]))


def test_an_unreachable_smtp_host_and_a_dead_webhook_are_refused_when_saved(client: httpx.Client) -> None:
    mail = {"name": "m", "kind": "email", "smtp_host": "127.0.0.1", "smtp_port": 1, "from": "a@b.c", "to": ["d@e.f"]}
    r = client.post("/api/v1/notification", json=mail)
    assert r.status_code == 422 and r.json()["error"].startswith("smtp_host: the check failed"), r.text
    r = client.post("/api/v1/notification", json={"name": "w", "url": "http://127.0.0.1:1/x"})
    assert r.status_code == 422 and r.json()["error"].startswith("url: the check failed"), r.text
    r = client.post("/api/v1/notification", json={"name": "w", "url": "ftp://x"})
    assert r.status_code == 400 and "url:" in r.json()["error"]
    r = client.post("/api/v1/notification", json={"name": "w", "url": "http://h/x", "request_body": "{% if %}"})
    assert r.status_code == 400 and r.json()["error"].startswith("request_body: the template does not compile")
    r = client.post("/api/v1/notification", json={"name": "a", "kind": "apprise", "apprise_urls": ["nope://x"]})
    assert r.status_code == 400 and "apprise_urls[0]" in r.json()["error"]


def test_secrets_are_masked_kept_on_change_and_the_test_route_says_what_the_far_end_said(
    server: RunningServer, client: httpx.Client
) -> None:
    with http_receiver() as hook, smtp_server() as (port, mails):
        secret_url = hook.url + "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX1?token=sekret123"
        created = _ok(
            client.post(
                "/api/v1/notification",
                json={"name": "slackish", "url": secret_url, "request_header": '{"X-Key": "hunter22"}'},
            )
        )
        mail = _ok(
            client.post(
                "/api/v1/notification",
                json={
                    "name": "mail",
                    "kind": "email",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "smtp_security": "none",
                    "smtp_password": "",
                    "from": "a@b.c",
                    "to": ["d@e.f"],
                    "skip_check": True,
                },
            )
        )
        listed = {m["id"]: m for m in _ok(client.get("/api/v1/notification"))}
        text = str(listed[created])
        assert "sekret123" not in text and "XXXXXXXXXXXXXXXXXXXXXXXX1" not in text and "hunter22" not in text
        assert listed[created]["url"].startswith(hook.url + "/services/")
        # A masked value sent back keeps the stored secret.
        _ok(
            client.patch(
                f"/api/v1/notification/{created}", json={**listed[created], "name": "renamed", "skip_check": True}
            )
        )
        hook.requests.clear()
        answer = _ok(client.post(f"/api/v1/notification/{created}/test"))
        assert answer == {"delivered": True, "status_code": 200, "response": '{"ok": true}'}
        assert hook.requests[0].path.endswith("token=sekret123") and hook.requests[0].headers["x-key"] == "hunter22"
        answer = _ok(client.post(f"/api/v1/notification/{mail}/test"))
        assert answer["delivered"] is True and len(mails) == 1 and "a test message from Heron" in mails[0][2]
    answer = _ok(client.post(f"/api/v1/notification/{created}/test"))
    assert (
        answer["delivered"] is False and "ConnectError" in answer["response"] and "sekret123" not in answer["response"]
    )
    _ok(client.post("/api/v1/batch-delete/notification", json=[created, mail]))
    logged = "\n".join(server.log_lines)
    assert "sekret123" not in logged and "hunter22" not in logged and "XXXXXXXXXXXXXXXXXXXXXXXX1" not in logged


def test_members_see_and_change_only_their_own_alerting(server: RunningServer, cast: Cast) -> None:
    url = server.url
    bob, charlie = cast.bob.bearer, cast.charlie.bearer
    gid = _ok(httpx.post(f"{url}/api/v1/notification-group", json={"name": "bob's"}, headers=bob))
    rid = _ok(httpx.post(f"{url}/api/v1/alert-rule", json={"name": "b", "rules": [CPU]}, headers=bob))
    assert [r["id"] for r in _ok(httpx.get(f"{url}/api/v1/alert-rule", headers=charlie))] == []
    r = httpx.patch(f"{url}/api/v1/alert-rule/{rid}", json={"name": "mine"}, headers=charlie)
    assert r.status_code == 403
    r = httpx.post(
        f"{url}/api/v1/alert-rule", json={"name": "c", "rules": [CPU], "notification_group_id": gid}, headers=charlie
    )
    assert r.status_code == 403, "a rule may not notify another user's group"
    assert httpx.get(f"{url}/api/v1/alert-rule").status_code == 401
    assert rid in [r["id"] for r in _ok(httpx.get(f"{url}/api/v1/alert-rule", auth=server.auth))]
    _ok(httpx.post(f"{url}/api/v1/batch-delete/alert-rule", json=[rid], headers=bob))


def test_silences_and_maintenance_windows_check_their_input(client: httpx.Client) -> None:
    now = time.time()
    bad = [
        ({"matchers": [{"name": "a", "op": "~", "value": "x"}], "ends_at": now + 60}, "matchers[0].op"),
        ({"matchers": [{"name": "a", "op": "=~", "value": "("}], "ends_at": now + 60}, "invalid regular expression"),
        (
            {"matchers": [{"name": "a", "op": "=", "value": "x"}], "starts_at": now, "ends_at": now - 1},
            "ends_at: must be after",
        ),
        ({"matchers": []}, "matchers: expected a non-empty list"),
    ]
    for body, message in bad:
        r = client.post("/api/v1/silence", json=body)
        assert r.status_code == 400 and message in r.json()["error"], r.text
    sid = _ok(
        client.post(
            "/api/v1/silence", json={"matchers": [{"name": "a", "value": "x", "isRegex": False}], "ends_at": now + 60}
        )
    )
    assert [s["state"] for s in _ok(client.get("/api/v1/silence")) if s["id"] == sid] == ["active"]
    r = client.post("/api/v1/maintenance-window", json={"name": "w", "cron": "61 * * * *", "duration_seconds": 60})
    assert r.status_code == 400 and r.json()["error"].startswith("cron:")
    r = client.post(
        "/api/v1/maintenance-window",
        json={"name": "w", "cron": "0 3 * * *", "duration_seconds": 60, "timezone": "Mars/Olympus"},
    )
    assert r.status_code == 400 and r.json()["error"].startswith("timezone:")
    wid = _ok(
        client.post("/api/v1/maintenance-window", json={"name": "w", "cron": "* * * * *", "duration_seconds": 120})
    )
    assert [w["active"] for w in _ok(client.get("/api/v1/maintenance-window")) if w["id"] == wid] == [True]
    _ok(client.post("/api/v1/batch-delete/maintenance-window", json=[wid]))
    _ok(client.post("/api/v1/batch-delete/silence", json=[sid]))


def test_nightingale_business_groups_rules_mutes_and_events(server: RunningServer, cast: Cast) -> None:
    url = server.url
    bob = {"X-User-Token": cast.bob.token}
    charlie = {"X-User-Token": cast.charlie.token}
    team = _ok(httpx.post(f"{url}/api/n9e/user-groups", json={"name": f"sre-{cast.bob.id}", "note": ""}, headers=bob))
    r = httpx.post(f"{url}/api/n9e/busi-groups", json={"name": "x", "members": []}, headers=bob)
    assert r.status_code == 400 and r.json() == {"dat": None, "err": "members empty"}
    bg = _ok(
        httpx.post(
            f"{url}/api/n9e/busi-groups",
            json={"name": f"payments-{cast.bob.id}", "members": [{"user_group_id": team, "perm_flag": "rw"}]},
            headers=bob,
        )
    )
    shown = _ok(httpx.get(f"{url}/api/n9e/busi-group/{bg}", headers=bob))
    assert shown["name"].startswith("payments") and shown["user_groups"][0]["perm_flag"] == "rw"
    assert httpx.get(f"{url}/api/n9e/busi-group/{bg}", headers=charlie).status_code == 403
    assert [g["id"] for g in _ok(httpx.get(f"{url}/api/n9e/busi-groups", headers=charlie))] == []

    rule = {
        "name": "HighErrorRate",
        "prod": "metric",
        "cate": "prometheus",
        "severity": 2,
        "prom_for_duration": 60,
        "prom_ql": "rate(http_errors_total[5m]) > 0.1",
        "prom_eval_interval": 15,
        "disabled": 0,
        "rule_config": {"queries": [{"prom_ql": "rate(http_errors_total[5m]) > 0.1", "severity": 2}]},
        "annotations": {"summary": "errors"},
        "notify_channels": ["email"],
    }
    assert _ok(httpx.post(f"{url}/api/n9e/busi-group/{bg}/alert-rules", json=[rule], headers=bob)) == {
        "HighErrorRate": ""
    }
    assert _ok(httpx.post(f"{url}/api/n9e/busi-group/{bg}/alert-rules", json=[rule], headers=bob)) == {
        "HighErrorRate": "AlertRule already exists"
    }
    r = httpx.post(
        f"{url}/api/n9e/busi-group/{bg}/alert-rules", json=[{"name": "n", "severity": 9, "prom_ql": "up"}], headers=bob
    )
    assert r.status_code == 400 and "severity" in r.json()["err"]
    assert httpx.post(f"{url}/api/n9e/busi-group/{bg}/alert-rules", json=[rule], headers=charlie).status_code == 403
    listed = _ok(httpx.get(f"{url}/api/n9e/busi-group/{bg}/alert-rules", headers=bob))
    assert len(listed) == 1 and listed[0]["prom_ql"] == rule["prom_ql"] and listed[0]["group_id"] == bg
    assert listed[0]["rule_config"] == rule["rule_config"] and listed[0]["notify_channels"] == ["email"]
    assert listed[0]["heron_status"]["state"] in ("ok", "pending_first_evaluation"), listed[0]["heron_status"]
    bad = {**rule, "name": "bad", "prom_ql": "rate(x[5m]", "rule_config": {}}
    r = httpx.post(f"{url}/api/n9e/busi-group/{bg}/alert-rules", json=[bad], headers=bob)
    assert r.status_code == 400 and r.json()["err"].startswith("prom_ql: parse error"), r.text
    bad = {**rule, "name": "bad", "rule_config": {"queries": [{"prom_ql": "sum(", "severity": 1}]}}
    r = httpx.post(f"{url}/api/n9e/busi-group/{bg}/alert-rules", json=[bad], headers=bob)
    assert r.status_code == 400 and r.json()["err"].startswith("rule_config.queries[0].prom_ql:"), r.text
    arid = listed[0]["id"]
    _ok(httpx.put(f"{url}/api/n9e/busi-group/{bg}/alert-rule/{arid}", json={"disabled": 1, "note": "off"}, headers=bob))
    one = _ok(httpx.get(f"{url}/api/n9e/alert-rule/{arid}", headers=bob))
    assert one["disabled"] == 1 and one["note"] == "off" and one["prom_ql"] == rule["prom_ql"]
    assert httpx.get(f"{url}/api/n9e/alert-rule/{arid}", headers=charlie).status_code == 403

    mute = {
        "tags": [{"key": "alertname", "func": "==", "value": "HighErrorRate"}],
        "cause": "deploy",
        "btime": int(time.time()),
        "etime": int(time.time()) + 3600,
        "prod": "metric",
    }
    mid = _ok(httpx.post(f"{url}/api/n9e/busi-group/{bg}/alert-mutes", json=mute, headers=bob))
    mutes = _ok(httpx.get(f"{url}/api/n9e/busi-group/{bg}/alert-mutes", headers=bob))
    assert mutes[0]["id"] == mid and mutes[0]["cause"] == "deploy" and mutes[0]["activated"] == 1
    assert mutes[0]["tags"] == [{"key": "alertname", "func": "==", "value": "HighErrorRate"}]
    r = httpx.post(f"{url}/api/n9e/busi-group/{bg}/alert-mutes", json={**mute, "mute_time_type": 1}, headers=bob)
    assert r.status_code == 400 and "periodic" in r.json()["err"]

    with httpx.Client(base_url=url, auth=server.auth) as admin:
        ident = f"bg-host-{cast.bob.id}"
        _ok(admin.post("/api/v1/server", json={"name": ident}))
        _ok(admin.put("/api/n9e/targets/bgids", json={"idents": [ident], "bgids": [bg], "action": "add"}))
        seen = _ok(httpx.get(f"{url}/api/n9e/targets", params={"query": ident}, headers=bob))["list"]
        assert [(t["ident"], t["group_id"]) for t in seen] == [(ident, bg)], "a team member sees the group's hosts"
        assert seen[0]["group_objs"][0]["id"] == bg
        assert _ok(httpx.get(f"{url}/api/n9e/targets", params={"query": ident}, headers=charlie))["list"] == []
        r = admin.put("/api/n9e/targets/bgids", json={"idents": [ident], "bgids": [bg], "action": "move"})
        assert r.status_code == 400 and "action" in r.json()["err"]
        assert httpx.delete(f"{url}/api/n9e/busi-group/{bg}", headers=bob).status_code == 400  # a target is in it
        _ok(admin.put("/api/n9e/targets/bgids", json={"idents": [ident], "bgids": [bg], "action": "del"}))

    cur = _ok(httpx.get(f"{url}/api/n9e/alert-cur-events/list", params={"bgid": bg}, headers=bob))
    assert cur == {"list": [], "total": 0}
    his = _ok(httpx.get(f"{url}/api/n9e/alert-his-events/list", params={"hours": 1}, headers=bob))
    assert set(his) == {"list", "total"}
    _ok(httpx.request("DELETE", f"{url}/api/n9e/busi-group/{bg}/alert-mutes", json={"ids": [mid]}, headers=bob))
    _ok(httpx.request("DELETE", f"{url}/api/n9e/busi-group/{bg}/alert-rules", json={"ids": [arid]}, headers=bob))
    _ok(httpx.delete(f"{url}/api/n9e/busi-group/{bg}", headers=bob))
