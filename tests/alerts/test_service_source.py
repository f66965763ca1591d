"""Service rules' pure parts: their conditions, the source over monitor states, the majority rule
of a monitor's own ``notify``. The end-to-end behaviour is in ``test_service_alerts.py``."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from heron.alerts.notices import monitor_down
from heron.alerts.rules import RuleDef
from heron.alerts.service_conditions import parse_service_condition, parse_service_conditions
from heron.alerts.sources.services import ServiceSource
from heron.core.errors import BadRequest
from heron.probes.board import VantageStatus
from heron.probes.monitors import MonitorChanges, _apply, _defaults
from heron.probes.state import State


def _monitor(monitor_id: int, owner_id: int | None = 1) -> Any:
    base = _apply(_defaults("http"), MonitorChanges(name=f"m{monitor_id}", target="http://127.0.0.1/"))
    return replace(base, id=monitor_id, owner_id=owner_id)


def _status(
    monitor_id: int,
    server_id: int,
    state: State,
    *,
    at: float,
    delay: float | None = 5.0,
    days: float | None = None,
    reason: str = "",
) -> VantageStatus:
    details = {} if days is None else {"cert_days_left": days}
    up = state is not State.DOWN
    return VantageStatus(monitor_id, server_id, f"v{server_id}", state, at, reason, at, up, delay, details)


def _rule(rules: list[dict[str, Any]], rule_id: int = 7) -> RuleDef:
    return RuleDef(
        id=rule_id, name="svc", kind="service", owner_id=1, busi_group_id=None, enabled=True,
        notification_group_id=None, trigger_mode=0, severity="warning",
        conditions=tuple(parse_service_conditions(rules)),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"type": "up"}, "rules[0].type"),
        ({"type": "down", "max": 1}, "takes no min or max"),
        ({"type": "latency"}, "needs max"),
        ({"type": "latency", "min": 9, "max": 3}, "min (9) is greater than max (3)"),
        ({"type": "latency", "max": -1}, "rules[0].max: must not be negative"),
        ({"type": "cert_expiry"}, "rules[0].min"),
        ({"type": "cert_expiry", "min": 3, "max": 9}, "rules[0].max"),
        ({"type": "down", "duration": 86_401}, "rules[0].duration"),
        ({"type": "down", "cover": 2}, "rules[0].cover"),
        ({"type": "down", "ignore": {"a": True}}, "rules[0].ignore"),
        ({"type": "down", "ignore": {"1": "yes"}}, "rules[0].ignore.1"),
    ],
)
def test_bad_service_conditions_name_the_field(raw: dict[str, Any], named: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(named)):
        parse_service_condition(raw, where="rules[0]")


def test_ignore_takes_nezhas_object_or_a_list_of_monitor_ids() -> None:
    as_object = parse_service_condition({"type": "down", "cover": 1, "ignore": {"3": True, "4": False}}, where="r")
    as_list = parse_service_condition({"type": "down", "cover": 1, "ignore": [3]}, where="r")
    assert as_object.ignore == as_list.ignore == frozenset({3})
    assert as_object.covers(3) and not as_object.covers(4)


def test_the_source_observes_each_monitor_and_vantage_point_that_breaks_a_condition() -> None:
    monitors = {1: _monitor(1), 2: _monitor(2), 3: _monitor(3, owner_id=2)}
    states = [
        _status(1, 0, State.DOWN, at=100.0, reason="connection refused"),
        _status(1, 5, State.UP, at=100.0),
        _status(2, 0, State.PENDING, at=100.0),
        _status(3, 0, State.DOWN, at=100.0),
    ]
    source = ServiceSource(lambda: monitors, lambda: states, may_watch=lambda rule, m: m.owner_id == rule.owner_id)
    seen = source.observe(_rule([{"type": "down"}]), 100.0)
    assert [(o.key, o.breached, o.server_id) for o in seen] == [("service:1:0", True, None)]
    assert seen[0].labels == {"service_id": "1", "service_name": "m1", "vantage_id": "0", "vantage_name": "v0"}
    assert seen[0].message.endswith(": connection refused")

    states[1] = _status(1, 5, State.DOWN, at=101.0)
    seen = source.observe(_rule([{"type": "down", "cover": 1, "ignore": [1]}]), 101.0)
    assert [(o.key, o.server_id) for o in seen] == [("service:1:0", None), ("service:1:5", 5)]


def test_a_duration_holds_the_alert_until_the_condition_lasted_that_long() -> None:
    monitors = {1: _monitor(1)}
    states = [_status(1, 0, State.UP, at=100.0, delay=900.0)]
    source = ServiceSource(lambda: monitors, lambda: states, may_watch=lambda rule, m: True)
    rule = _rule([{"type": "latency", "max": 500, "duration": 10}])
    first = source.observe(rule, 100.0)
    assert [(o.breached, o.values) for o in first] == [(False, {"latency": 900.0})], "counting, not failing yet"
    states[0] = _status(1, 0, State.UP, at=111.0, delay=950.0)
    assert [o.breached for o in source.observe(rule, 111.0)] == [True]
    states[0] = _status(1, 0, State.UP, at=112.0, delay=20.0)
    assert [o.breached for o in source.observe(_rule([{"type": "latency", "min": 100}], rule_id=8), 112.0)] == [True]


def test_certificate_days_come_from_the_last_successful_check() -> None:
    monitors = {1: _monitor(1)}
    states = [_status(1, 0, State.DEGRADED, at=50.0, days=2.5)]
    source = ServiceSource(lambda: monitors, lambda: states, may_watch=lambda rule, m: True)
    seen = source.observe(_rule([{"type": "cert_expiry", "min": 14}]), 50.0)
    assert [(o.breached, o.values) for o in seen] == [(True, {"cert_expiry": 2.5})]
    states[0] = _status(1, 0, State.UP, at=60.0, days=80.0)
    assert source.observe(_rule([{"type": "cert_expiry", "min": 14}]), 60.0) == []


@pytest.mark.parametrize(
    ("vantages", "down"),
    [
        ([State.DOWN], True),
        ([State.DOWN, State.UP], False),
        ([State.DOWN, State.DOWN, State.UP], True),
        ([State.DOWN, State.PENDING], True),
        ([State.PENDING], False),
        ([State.DEGRADED], False),
    ],
)
def test_a_monitor_notifies_down_when_more_than_half_of_its_vantage_points_see_it_down(
    vantages: list[State], down: bool
) -> None:
    states = [_status(1, i, s, at=1.0, reason="refused" if s is State.DOWN else "") for i, s in enumerate(vantages)]
    assert monitor_down(states) == (down, "refused" if State.DOWN in vantages else "")
