"""The stores of remote operations on SQLite and PostgreSQL: tasks and runs, NAT, DDNS, the audit log, scopes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from heron.auth.tokens import TokenStore
from heron.auth.users import Principal, UserDirectory
from heron.core.errors import BadRequest, Forbidden, NotFound, Unprocessable
from heron.inventory.manage import Inventory, ServerChanges
from heron.inventory.registry import HostRegistry
from heron.meta.alert_models import NotificationGroup
from heron.meta.db import MetaStore, make_engine, migrate
from heron.ops.audit import SYSTEM, Actor, AuditFilter, AuditLog
from heron.ops.channel import Hub
from heron.ops.cron import CronForm, CronService, RunResult
from heron.ops.ddns import DdnsForm, DdnsService
from heron.ops.nat import NatDirectory, NatForm
from heron.ops.service import Operations


@pytest.fixture
def meta(meta_url: str) -> Iterator[MetaStore]:
    engine = make_engine(meta_url)
    migrate(engine)
    yield MetaStore(engine)
    engine.dispose()


def _people(meta: MetaStore) -> tuple[Principal, Principal, int]:
    users = UserDirectory(meta, cache_seconds=0)
    a = users.create("alice", "alice-password", role="admin")
    b = users.create("bob", "bob-password", role="member")
    server = Inventory(meta).create_server(b, ServerChanges(name="bobs-box"), secret_hash="x" * 64)
    return a, b, server.id


def test_tasks_runs_nat_ddns_and_audit_round_trip(meta: MetaStore) -> None:
    alice, bob, server_id = _people(meta)
    ops = Operations(HostRegistry(meta), Hub(), AuditLog(meta))
    cron = CronService(meta, ops)
    with pytest.raises(NotFound, match="notification_group_id: no notification group with id 7"):
        cron.create(bob, CronForm("t", 1, "", "echo hi", [server_id], 0, False, 7))
    with meta.session() as s:
        group = NotificationGroup(owner_id=bob.user_id, name="bobs-group")
        s.add(group)
        s.flush()
        group_id = group.id
    form = CronForm("t", 1, "", "echo hi", [server_id], 0, False, group_id)
    task_id = cron.create(bob, form)
    assert cron.get(bob, task_id)["notification_group_id"] == group_id
    charlie = Principal(99, "charlie", "member")
    with pytest.raises(Forbidden):
        cron.get(charlie, task_id)
    now = datetime.now(UTC)
    cron._pending.append(RunResult(task_id, server_id, "bobs-box", "manual", "ok", 0, "hi\n", False, "", now,
                                   now + timedelta(milliseconds=5), 5.0))  # fmt: skip
    runs, total = cron.runs(bob, task_id, offset=0, limit=10)
    assert total == 1 and runs[0]["output"] == "hi\n" and runs[0]["status"] == "ok"
    assert cron.get(bob, task_id)["last_result"] is True and cron.count(alice) == 1
    assert cron.delete(bob, [task_id]) == [task_id]
    with pytest.raises(NotFound):
        cron.get(bob, task_id)

    nat = NatDirectory(meta, ops, reserved_hosts={"heron.example"})
    nat.create(bob, NatForm("web", True, server_id, "127.0.0.1:80", "App.Example.com"), request_host="h:1")
    nat.reload()
    assert nat.route_for("app.example.com:443") is not None
    with pytest.raises(Unprocessable):
        nat.create(alice, NatForm("again", True, server_id, "127.0.0.1:81", "app.example.com"), request_host="h:1")

    ddns = DdnsService(meta, ops, allow_private_targets=False)
    ddns_form = DdnsForm("cf", "cloudflare", True, False, 3, ["home.example.com"], "", "tok", "", 1, 1, "", "", "",
                         "", "hmac-sha256")  # fmt: skip
    profile_id = ddns.create(bob, ddns_form)
    assert ddns.listing(bob, offset=0, limit=10)[0]["access_secret"] == "********"
    assert ddns.link_server(bob, server_id, {"enable_ddns": True, "ddns_profiles": [profile_id]})["enable_ddns"]
    plan = ddns._plan(server_id, "203.0.113.9", "")
    assert plan is not None and plan[0][0]["access_secret"] == "tok" and plan[0][1] == ["home.example.com"]

    ops.audit.record(Actor(bob.user_id, "bob", "token", "10.0.0.1"), "terminal.start", server_id=server_id)
    ops.audit.record(SYSTEM, "ddns.update", server_id=server_id, outcome="failed", error="nope")
    assert [r["action"] for r in ops.audit.listing(AuditFilter(server_id=server_id), offset=0, limit=10)] == [
        "ddns.update",
        "terminal.start",
    ]
    assert ops.audit.count(AuditFilter(action="terminal.", user_id=bob.user_id)) == 1
    assert ops.audit.count(AuditFilter(since=datetime.now(UTC) + timedelta(hours=1))) == 0


def test_token_scopes_are_kept_and_read_back(meta: MetaStore) -> None:
    alice, _bob, _ = _people(meta)
    tokens = TokenStore(meta)
    info, secret = tokens.create(alice.user_id, "mcp", scopes=["nezha:tsdb:read", "nezha:server:exec"])
    assert info.scopes == ("nezha:tsdb:read", "nezha:server:exec")
    assert tokens.resolve_scoped(secret) == (alice.user_id, info.id, ("nezha:tsdb:read", "nezha:server:exec"))
    plain, plain_secret = tokens.create(alice.user_id, "all")
    assert plain.scopes is None and tokens.resolve_scoped(plain_secret) == (alice.user_id, plain.id, None)


def test_a_run_on_an_offline_server_is_recorded_as_missed(meta: MetaStore) -> None:
    _alice, bob, server_id = _people(meta)
    ops = Operations(HostRegistry(meta), Hub(), AuditLog(meta))
    cron = CronService(meta, ops)
    task_id = cron.create(bob, CronForm("t", 1, "", "true", [server_id], 0, False, 0))
    (run,) = asyncio.run(cron.run_task(task_id, trigger="manual"))
    assert run.status == "missed" and "not connected" in run.error
    cron.flush()
    runs, _ = cron.runs(bob, task_id, offset=0, limit=10)
    assert runs[0]["status"] == "missed"


def test_an_alert_runs_only_triggered_tasks(meta: MetaStore) -> None:
    """A task named by a rule and later changed to a scheduled one is not run by the rule's alerts."""
    _alice, bob, server_id = _people(meta)
    cron = CronService(meta, Operations(HostRegistry(meta), Hub(), AuditLog(meta)))
    task_id = cron.create(bob, CronForm("t", 0, "0 0 3 * * *", "true", [server_id], 0, False, 0))
    with pytest.raises(BadRequest, match="no longer a triggered task"):
        asyncio.run(cron.run_task(task_id, trigger="alert", server_id=server_id))
    triggered = cron.create(bob, CronForm("t", 1, "", "true", [server_id], 0, False, 0))
    runs = asyncio.run(cron.run_task(triggered, trigger="alert", server_id=server_id))
    assert [(r.status, r.trigger) for r in runs] == [("missed", "alert")], "no agent connected: missed, not dropped"
