"""The evaluator's state machine on the real metadata databases (SQLite and PostgreSQL).

Observations are given directly, so each transition is exact: pending and ``for``, firing,
``keep_firing_for``, flapping held firing, resolving, silences, the outbox rows written with
each event, and a restart that reads the active alerts back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from heron.alerts.evaluator import Evaluator, Routing
from heron.alerts.groups import GroupStore, parse_group
from heron.alerts.matchers import parse_matchers
from heron.alerts.methods import MethodStore, parse_method
from heron.alerts.rules import RuleDef, RuleStore, parse_rule
from heron.alerts.silences import SilenceDef
from heron.alerts.sources import Observation
from heron.auth.users import Principal, UserDirectory
from heron.meta.alert_models import AlertDelivery, AlertEvent
from heron.meta.db import MetaStore, make_engine, migrate


@pytest.fixture
def meta(meta_url: str) -> Iterator[MetaStore]:
    engine = make_engine(meta_url)
    migrate(engine)
    yield MetaStore(engine)
    engine.dispose()


@pytest.fixture
def admin(meta: MetaStore) -> Principal:
    UserDirectory(meta).ensure_admin("correct horse battery")
    return Principal(1, "admin", "admin")


def _setup(meta: MetaStore, admin: Principal, **rule: object) -> tuple[RuleDef, Routing]:
    method = MethodStore(meta).create(admin, parse_method({"name": "hook", "url": "http://127.0.0.1:9/x"}))
    group = GroupStore(meta).save(admin, parse_group({"name": "g", "notifications": [method.id]}))
    body = {"name": "hot", "kind": "sql", "query": "SELECT 1 AS value", "notification_group_id": group.id, **rule}
    saved = RuleStore(meta).create(admin, parse_rule(body, check_sql=lambda *_: None))
    routing = Routing({group.id: group}, {method.id: method}, [], [], {}, frozenset({1}))
    return saved, routing


def _obs(breached: bool, host: str = "a", value: float = 90.0) -> Observation:
    return Observation(key=f"sql:host={host}", labels={"host": host}, breached=breached, value=value)


def _events(meta: MetaStore) -> list[AlertEvent]:
    with meta.session() as s:
        return list(s.scalars(select(AlertEvent).order_by(AlertEvent.id)))


def _deliveries(meta: MetaStore) -> list[tuple[str, str, str]]:
    with meta.session() as s:
        rows = s.scalars(select(AlertDelivery).order_by(AlertDelivery.id))
        return [(d.state, d.status, d.idempotency_key) for d in rows]


def test_pending_fires_after_for_keeps_firing_then_resolves_with_one_outbox_row_each(
    meta: MetaStore, admin: Principal
) -> None:
    rule, routing = _setup(meta, admin, for_seconds=10, keep_firing_for_seconds=5)
    ev = Evaluator(meta, flap_changes=6, flap_window_seconds=600)
    ev.evaluate(rule, [_obs(True)], routing, 100.0)
    assert [e.state for e in _events(meta)] == ["pending"] and _deliveries(meta) == []
    ev.evaluate(rule, [_obs(True)], routing, 105.0)
    assert _events(meta)[0].state == "pending"
    ev.evaluate(rule, [_obs(True)], routing, 110.0)
    event = _events(meta)[0]
    assert (
        event.state == "firing"
        and event.labels == f'{{"alertname":"hot","rule_id":"{rule.id}","severity":"warning","host":"a"}}'
    )
    ev.evaluate(rule, [], routing, 112.0)  # the row is gone, but keep_firing_for holds it
    assert _events(meta)[0].state == "firing"
    ev.evaluate(rule, [], routing, 116.0)
    assert _events(meta)[0].state == "resolved"
    assert [(s, st) for s, st, _ in _deliveries(meta)] == [("firing", "pending"), ("resolved", "pending")]
    keys = [k for *_, k in _deliveries(meta)]
    assert keys[0].startswith(f"{event.id}:firing:") and keys[1].startswith(f"{event.id}:resolved:")


def test_a_pending_alert_that_clears_before_its_for_leaves_no_event(meta: MetaStore, admin: Principal) -> None:
    rule, routing = _setup(meta, admin, for_seconds=30)
    ev = Evaluator(meta, flap_changes=6, flap_window_seconds=600)
    ev.evaluate(rule, [_obs(True)], routing, 0.0)
    ev.evaluate(rule, [_obs(False)], routing, 10.0)
    assert _events(meta) == [] and ev.states == {}


def test_a_flapping_alert_is_held_firing_and_says_so_until_it_calms_down(meta: MetaStore, admin: Principal) -> None:
    rule, routing = _setup(meta, admin)
    ev = Evaluator(meta, flap_changes=3, flap_window_seconds=60)
    t = 0.0
    for breached in (True, False, True, False, True, False):
        ev.evaluate(rule, [_obs(breached)], routing, t)
        t += 5
    events = _events(meta)
    assert events[-1].state == "firing" and events[-1].flapping, [(e.state, e.flapping) for e in events]
    ev.evaluate(rule, [_obs(False)], routing, t + 120)  # calm for longer than the window
    last = _events(meta)[-1]
    assert last.state == "resolved" and not last.flapping


def test_a_silenced_alert_is_recorded_and_its_deliveries_are_marked_silenced(meta: MetaStore, admin: Principal) -> None:
    rule, routing = _setup(meta, admin)
    now = datetime.now(UTC)
    silence = SilenceDef(
        1,
        1,
        None,
        tuple(parse_matchers([{"name": "host", "op": "=", "value": "a"}])),
        now - timedelta(1),
        now + timedelta(1),
        "",
    )
    routing = Routing(routing.groups, routing.methods, [silence], [], {}, routing.admins)
    ev = Evaluator(meta, flap_changes=6, flap_window_seconds=600)
    ev.evaluate(rule, [_obs(True, "a"), _obs(True, "b")], routing, now.timestamp())
    by_host = {e.labels.split('"host":"')[1][0]: e for e in _events(meta)}
    assert by_host["a"].silenced and not by_host["b"].silenced
    assert sorted(st for _, st, _ in _deliveries(meta)) == ["pending", "silenced"]


def test_a_restart_reads_active_alerts_back_and_neither_forgets_nor_repeats_them(
    meta: MetaStore, admin: Principal
) -> None:
    rule, routing = _setup(meta, admin, trigger_mode=1)
    first = Evaluator(meta, flap_changes=6, flap_window_seconds=600)
    first.evaluate(rule, [_obs(True)], routing, 0.0)
    second = Evaluator(meta, flap_changes=6, flap_window_seconds=600)
    assert second.load() == 1
    second.evaluate(rule, [_obs(True)], routing, 5.0)
    assert len(_events(meta)) == 1 and len(_deliveries(meta)) == 1
    second.evaluate(rule, [_obs(False)], routing, 10.0)
    assert _events(meta)[0].state == "resolved" and [s for s, *_ in _deliveries(meta)] == ["firing", "resolved"]


def test_transitions_are_told_once_when_an_alert_fires_and_once_when_it_resolves(
    meta: MetaStore, admin: Principal
) -> None:
    """What starts a rule's trigger tasks: firing after ``for``, and resolving; not pending, not repeats."""
    rule, routing = _setup(meta, admin, for_seconds=10)
    heard: list[tuple[int, str, int | None]] = []
    ev = Evaluator(
        meta, flap_changes=6, flap_window_seconds=600, on_transition=lambda r, s, srv: heard.append((r.id, s, srv))
    )
    server_obs = Observation(key="server:4", labels={"server_id": "4"}, breached=True, value=1.0, server_id=4)
    ev.evaluate(rule, [server_obs], routing, 0.0)
    assert heard == [], "pending is not a transition"
    ev.evaluate(rule, [server_obs], routing, 10.0)
    ev.evaluate(rule, [server_obs], routing, 20.0)
    assert heard == [(rule.id, "firing", 4)]
    ev.evaluate(rule, [], routing, 30.0)
    assert heard == [(rule.id, "firing", 4), (rule.id, "resolved", 4)], "the resolve names the event's server"


def test_a_promql_rule_names_its_alerts_even_when_a_series_carries_alertname(meta: MetaStore, admin: Principal) -> None:
    """Prometheus sets ``alertname`` last: a series' own ``alertname`` label does not rename the alert."""
    body = {"name": "BoilerHot", "kind": "promql", "expr": "boiler_temp > 90"}
    rule = RuleStore(meta).create(admin, parse_rule(body, check_sql=lambda *_: None))
    routing = Routing({}, {}, [], [], {}, frozenset({1}))
    obs = Observation(key="promql:x", labels={"alertname": "FromSeries", "host": "a"}, breached=True, value=95.0)
    Evaluator(meta, flap_changes=6, flap_window_seconds=600).evaluate(rule, [obs], routing, 100.0)
    event = _events(meta)[0]
    assert event.state == "firing" and '"alertname":"BoilerHot"' in event.labels and "FromSeries" not in event.labels
