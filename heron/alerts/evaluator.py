"""The evaluator: one state machine for every rule source, and the events and outbox it writes.

For each alert (a rule and the key its source gives) the states are:

    (nothing) ──breached──▶ pending ──for elapsed──▶ firing ──cleared──▶ resolved
                               └──cleared──▶ (dropped)      ▲  └─ keep_firing_for, flapping: held
                                                            └─ repeat every repeat_interval (trigger mode "always")

Every change is written in one transaction per evaluation round: the event row and, for
``firing``, ``resolved`` and repeats, one outbox row per notification method of the rule's
group, so an acknowledged event always has its deliveries. An alert covered by a silence or
a maintenance window is recorded the same way, with deliveries marked ``silenced``.

Flapping (Nagios's idea): an alert whose condition changed more than ``flap_changes`` times
in ``flap_window_seconds`` is held firing and marked ``flapping`` until it is calm again, so
a value that hovers on the threshold does not page on every swing.

At start the events still pending or firing are read back, so a restart neither forgets an
alert nor raises it again.

Once a round's transaction is committed, ``on_transition`` hears of every alert that started
firing or resolved (the rule, the state, the event's server): that is where a rule's
``fail_trigger_tasks`` and ``recover_trigger_tasks`` are started.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from heron.alerts.groups import GroupDef
from heron.alerts.methods import Method
from heron.alerts.rules import TRIGGER_ALWAYS, RuleDef, sample_context
from heron.alerts.silences import SilenceDef, WindowDef
from heron.alerts.sources import Observation
from heron.alerts.templates import TemplateFailed, render
from heron.meta.alert_models import AlertDelivery, AlertEvent
from heron.meta.db import MetaStore

log = logging.getLogger(__name__)

#: Values kept per event (the newest are kept).
MAX_VALUES = 50


def fingerprint(rule_id: int, key: str) -> str:
    return hashlib.sha256(f"{rule_id}\x1e{key}".encode()).hexdigest()[:32]


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class AlertState:
    """What the evaluator holds in memory for one active alert (its event is in the database)."""

    event_id: int
    rule_id: int
    fingerprint: str
    state: str
    started_at: float
    fired_at: float | None
    last_breach_at: float
    last_notified_at: float
    notify_count: int
    labels: dict[str, str]
    flapping: bool = False
    message: str = ""


@dataclass(slots=True)
class RuleStatus:
    state: str = "ok"
    message: str = ""
    last_eval_at: float | None = None
    active: int = 0


@dataclass(frozen=True, slots=True)
class Routing:
    """What a round needs besides the rules: groups, methods, silences, windows, server groups."""

    groups: Mapping[int, GroupDef]
    methods: Mapping[int, Method]
    silences: list[SilenceDef]
    windows: list[WindowDef]
    groups_of_servers: Mapping[int, Iterable[int]]
    admins: frozenset[int]


@dataclass(slots=True)
class _Change:
    kind: str  # open | fire | resolve | drop | repeat | flap
    rule: RuleDef
    obs: Observation | None
    fp: str
    state: AlertState | None = None
    fired: bool = False
    flapping: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    server_id: int | None = None


#: Hears of an alert that started firing or resolved: (rule, "firing" | "resolved", server id).
Transition = Callable[[RuleDef, str, "int | None"], None]


class Evaluator:
    """Holds alert states; :meth:`evaluate` applies one round of one rule's observations."""

    def __init__(
        self,
        meta: MetaStore,
        *,
        flap_changes: int,
        flap_window_seconds: float,
        on_change: Callable[[], None] = lambda: None,
        on_transition: Transition | None = None,
    ) -> None:
        self._meta = meta
        self._on_transition = on_transition
        self._flap_changes = flap_changes
        self._flap_window = flap_window_seconds
        self._on_change = on_change
        self._lock = threading.Lock()
        self.states: dict[str, AlertState] = {}
        self._last_breached: dict[str, bool] = {}
        self._changes: dict[str, deque[float]] = {}
        self.status: dict[int, RuleStatus] = {}
        self._repeat_interval: dict[int, float] = {}

    # -- start -----------------------------------------------------------------------------

    def load(self) -> int:
        """Read back the events that are still pending or firing."""
        with self._meta.session() as s:
            rows = list(s.scalars(select(AlertEvent).where(AlertEvent.state.in_(("pending", "firing")))))
        with self._lock:
            for row in rows:
                if row.rule_id is None:
                    continue
                started = _ts(row.started_at)
                self.states[row.fingerprint] = AlertState(
                    event_id=row.id,
                    rule_id=row.rule_id,
                    fingerprint=row.fingerprint,
                    state=row.state,
                    started_at=started,
                    fired_at=_ts(row.fired_at) if row.fired_at else None,
                    last_breach_at=_ts(row.updated_at),
                    last_notified_at=_ts(row.updated_at),
                    notify_count=row.notify_count,
                    labels=orjson.loads(row.labels or "{}"),
                    flapping=bool(row.flapping),
                )
                self._last_breached[row.fingerprint] = True
        return len(rows)

    def forget_rules(self, alive: set[int], routing: Routing, now: float) -> None:
        """Resolve the alerts of rules that were deleted or disabled."""
        with self._lock:
            gone = [st for st in self.states.values() if st.rule_id not in alive]
        if not gone:
            return
        with self._meta.session() as s:
            for st in gone:
                row = s.get(AlertEvent, st.event_id)
                if row is None:
                    continue
                if st.state == "pending":
                    s.delete(row)
                else:
                    row.state = "resolved"
                    row.resolved_at = datetime.fromtimestamp(now, UTC)
                    row.updated_at = row.resolved_at
                    row.annotations = orjson.dumps(
                        {**orjson.loads(row.annotations or "{}"), "heron_resolved_by": "rule deleted or disabled"}
                    ).decode()
        with self._lock:
            for st in gone:
                self.states.pop(st.fingerprint, None)
        for rule_id in {st.rule_id for st in gone}:
            self.status.pop(rule_id, None)
        self._on_change()

    # -- one round -------------------------------------------------------------------------

    def _flap(self, fp: str, breached: bool, now: float) -> bool:
        """Count a change of the condition; whether the alert is flapping now."""
        previous = self._last_breached.get(fp)
        self._last_breached[fp] = breached
        changes = self._changes.get(fp)
        if previous is not None and previous != breached:
            if changes is None:
                changes = self._changes[fp] = deque()
            changes.append(now)
        if changes is None:
            return False
        while changes and changes[0] < now - self._flap_window:
            changes.popleft()
        if not changes:
            del self._changes[fp]
            return False
        return len(changes) > self._flap_changes

    def evaluate(self, rule: RuleDef, observations: list[Observation], routing: Routing, now: float) -> None:
        """Apply one round of ``rule``'s observations: decide, write, then remember."""
        with self._lock:
            changes = self._decide(rule, observations, now)
            if changes:
                try:
                    self._write(changes, routing, now)
                except Exception:
                    # Nothing was committed: forget this round's decisions; the next round decides again.
                    for change in changes:
                        self._last_breached.pop(change.fp, None)
                    raise
                self._remember(changes, now)
            active = sum(1 for st in self.states.values() if st.rule_id == rule.id)
        status = self.status.setdefault(rule.id, RuleStatus())
        status.last_eval_at, status.active = now, active
        if changes:
            self._on_change()
            self._transitions(changes)

    def _transitions(self, changes: list[_Change]) -> None:
        """Tell ``on_transition`` of the alerts that fired or resolved in this (committed) round."""
        if self._on_transition is None:
            return
        for ch in changes:
            state = "firing" if ch.kind == "fire" or (ch.kind == "open" and ch.fired) else ""
            state = "resolved" if ch.kind == "resolve" else state
            if not state:
                continue
            try:
                self._on_transition(ch.rule, state, ch.server_id)
            except Exception:
                log.exception("an alert transition listener failed", extra={"rule_id": ch.rule.id})

    def _decide(self, rule: RuleDef, observations: list[Observation], now: float) -> list[_Change]:
        out: list[_Change] = []
        seen: set[str] = set()
        for obs in observations:
            fp = fingerprint(rule.id, obs.key)
            seen.add(fp)
            flapping = self._flap(fp, obs.breached, now)
            st = self.states.get(fp)
            if obs.breached:
                if st is not None:
                    st.last_breach_at = now
                if st is None:
                    fire = rule.for_seconds <= 0
                    out.append(_Change("open", rule, obs, fp, fired=fire, flapping=flapping))
                elif st.state == "pending" and now - st.started_at >= rule.for_seconds:
                    out.append(_Change("fire", rule, obs, fp, st, flapping=flapping))
                elif st.state == "firing":
                    if st.flapping != flapping:
                        out.append(_Change("flap", rule, obs, fp, st, flapping=flapping))
                    elif self._repeat_due(rule, st, now):
                        out.append(_Change("repeat", rule, obs, fp, st, flapping=flapping))
            elif st is not None:
                out.extend(self._cleared(rule, obs, fp, st, flapping, now))
        for fp, st in list(self.states.items()):
            if st.rule_id == rule.id and fp not in seen:
                flapping = self._flap(fp, False, now)
                out.extend(self._cleared(rule, None, fp, st, flapping, now))
        return out

    def _cleared(
        self, rule: RuleDef, obs: Observation | None, fp: str, st: AlertState, flapping: bool, now: float
    ) -> list[_Change]:
        if st.state == "pending":
            return [_Change("drop", rule, obs, fp, st)]
        if flapping:
            return [_Change("flap", rule, obs, fp, st, flapping=True)] if not st.flapping else []
        if rule.keep_firing_for_seconds and now - st.last_breach_at < rule.keep_firing_for_seconds:
            return []
        return [_Change("resolve", rule, obs, fp, st)]

    def _repeat_due(self, rule: RuleDef, st: AlertState, now: float) -> bool:
        if rule.trigger_mode != TRIGGER_ALWAYS or rule.notification_group_id is None:
            return False
        interval = self._repeat_interval.get(rule.notification_group_id, 0.0)
        return interval > 0 and now - st.last_notified_at >= interval

    # -- writing ---------------------------------------------------------------------------

    def _labels(self, rule: RuleDef, obs: Observation | None, st: AlertState | None) -> dict[str, str]:
        if obs is None:
            assert st is not None
            return dict(st.labels)
        labels = {"alertname": rule.name, "rule_id": str(rule.id), "severity": rule.severity, **obs.labels}
        ctx = self._context(rule, obs, labels)
        for key, text in rule.labels.items():
            try:
                labels[key] = render(text, ctx, field=f"labels.{key}", strict=False)
            except TemplateFailed as exc:
                labels[key] = ""
                self._template_problem(rule, exc)
        if rule.kind == "promql":  # as in Prometheus, the rule's name wins over a series' alertname
            labels["alertname"] = rule.name
        return labels

    def _context(self, rule: RuleDef, obs: Observation, labels: Mapping[str, str]) -> dict[str, Any]:
        ctx = sample_context(labels)
        ctx.update(
            value=obs.value, values=dict(obs.values), row=dict(obs.row),
            server=obs.server.as_context() if obs.server is not None else {},
            rule={"id": rule.id, "name": rule.name},
        )  # fmt: skip
        return ctx

    def _annotations(self, rule: RuleDef, obs: Observation | None, labels: Mapping[str, str]) -> dict[str, str]:
        if obs is None:
            return {}
        ctx = self._context(rule, obs, labels)
        out = {}
        for key, text in rule.annotations.items():
            try:
                out[key] = render(text, ctx, field=f"annotations.{key}", strict=False)
            except TemplateFailed as exc:
                self._template_problem(rule, exc)
        return out

    def _template_problem(self, rule: RuleDef, exc: TemplateFailed) -> None:
        status = self.status.setdefault(rule.id, RuleStatus())
        status.state, status.message = "error", exc.message

    def _silenced(
        self, rule: RuleDef, labels: Mapping[str, str], server_id: int | None, routing: Routing, now: float
    ) -> bool:
        moment = datetime.fromtimestamp(now, UTC)
        for silence in routing.silences:
            applies = (
                silence.busi_group_id == rule.busi_group_id
                if silence.busi_group_id is not None
                else (silence.owner_id in routing.admins or silence.owner_id == rule.owner_id)
            )
            if applies and silence.covers(labels, moment):
                return True
        for window in routing.windows:
            applies = window.owner_id in routing.admins or window.owner_id == rule.owner_id
            if applies and window.covers(server_id, routing.groups_of_servers) and window.active(moment):
                return True
        return False

    def _write(self, changes: list[_Change], routing: Routing, now: float) -> None:
        moment = datetime.fromtimestamp(now, UTC)
        for group in routing.groups.values():
            self._repeat_interval[group.id] = group.repeat_interval_seconds
        with self._meta.session() as s:
            for ch in changes:
                ch.labels = self._labels(ch.rule, ch.obs, ch.state)
                if ch.kind == "open":
                    ch.annotations = self._annotations(ch.rule, ch.obs, ch.labels)
                    row = self._open(s, ch, moment)
                    ch.state, ch.server_id = self._state_of(row, ch, now), row.server_id
                    if ch.fired:
                        self._notify(s, row, ch, "firing", routing, moment)
                    continue
                assert ch.state is not None
                found = s.get(AlertEvent, ch.state.event_id)
                if found is None:
                    continue
                row = found
                ch.server_id = row.server_id
                if ch.kind == "drop":
                    s.delete(row)
                    continue
                row.updated_at = moment
                if ch.obs is not None:
                    row.value = ch.obs.value
                if ch.kind == "fire":
                    ch.annotations = self._annotations(ch.rule, ch.obs, ch.labels)
                    row.state, row.fired_at, row.flapping = "firing", moment, ch.flapping
                    row.annotations = orjson.dumps(ch.annotations).decode()
                    self._add_value(row, ch, "firing", moment)
                    self._notify(s, row, ch, "firing", routing, moment)
                elif ch.kind == "repeat":
                    self._add_value(row, ch, "firing", moment)
                    self._notify(s, row, ch, "firing", routing, moment)
                elif ch.kind == "flap":
                    row.flapping = ch.flapping
                elif ch.kind == "resolve":
                    row.state, row.resolved_at, row.flapping = "resolved", moment, False
                    self._add_value(row, ch, "resolved", moment)
                    self._notify(s, row, ch, "resolved", routing, moment)

    def _open(self, s: Session, ch: _Change, moment: datetime) -> AlertEvent:
        obs = ch.obs
        assert obs is not None
        row = AlertEvent(
            rule_id=ch.rule.id,
            rule_name=ch.rule.name,
            rule_kind=ch.rule.kind,
            owner_id=ch.rule.owner_id,
            busi_group_id=ch.rule.busi_group_id,
            fingerprint=ch.fp,
            labels=orjson.dumps(ch.labels).decode(),
            annotations=orjson.dumps(ch.annotations).decode(),
            severity=ch.rule.severity,
            state="firing" if ch.fired else "pending",
            server_id=obs.server_id,
            value=obs.value,
            values="[]",
            started_at=moment,
            fired_at=moment if ch.fired else None,
            updated_at=moment,
            flapping=ch.flapping,
            silenced=False,
            acked_by="",
            notify_count=0,
        )
        self._add_value(row, ch, row.state, moment)
        s.add(row)
        s.flush()
        return row

    @staticmethod
    def _add_value(row: AlertEvent, ch: _Change, state: str, moment: datetime) -> None:
        if ch.obs is None:
            entry: dict[str, Any] = {"at": moment.isoformat(), "state": state}
        else:
            entry = {"at": moment.isoformat(), "state": state, "value": ch.obs.value, "values": dict(ch.obs.values)}
        values = orjson.loads(row.values or "[]")
        values.append(entry)
        row.values = orjson.dumps(values[-MAX_VALUES:]).decode()

    @staticmethod
    def _state_of(row: AlertEvent, ch: _Change, now: float) -> AlertState:
        return AlertState(
            event_id=row.id,
            rule_id=ch.rule.id,
            fingerprint=ch.fp,
            state=row.state,
            started_at=now,
            fired_at=now if ch.fired else None,
            last_breach_at=now,
            last_notified_at=now,
            notify_count=0,
            labels=ch.labels,
            flapping=ch.flapping,
            message=ch.obs.message if ch.obs is not None else "",
        )

    def _payload(self, row: AlertEvent, ch: _Change, state: str, moment: datetime) -> dict[str, Any]:
        obs = ch.obs
        prefix = "Incident" if state == "firing" else "Resolved"
        if obs is not None and obs.message:
            text = obs.message
        elif ch.state is not None and ch.state.message:
            text = ch.state.message
        else:
            shown = ", ".join(
                f"{k}={v}" for k, v in sorted(ch.labels.items()) if k not in ("alertname", "rule_id", "severity")
            )
            text = f"{ch.rule.name} {{{shown}}}"
        summary = orjson.loads(row.annotations or "{}").get("summary")
        return {
            "event_id": row.id,
            "state": state,
            "rule_id": ch.rule.id,
            "rule_name": ch.rule.name,
            "severity": row.severity,
            "labels": ch.labels,
            "annotations": orjson.loads(row.annotations or "{}"),
            "value": row.value,
            "values": dict(obs.values) if obs is not None else {},
            "message": f"[{prefix}] {summary or text.strip()}",
            "server": obs.server.as_context() if obs is not None and obs.server is not None else None,
            "fingerprint": row.fingerprint,
            "started_at": row.started_at.isoformat().replace("+00:00", "Z"),
            "fired_at": row.fired_at.isoformat().replace("+00:00", "Z") if row.fired_at else None,
            "resolved_at": moment.isoformat().replace("+00:00", "Z") if state == "resolved" else None,
            "flapping": bool(row.flapping),
            "at": moment.isoformat().replace("+00:00", "Z"),
        }

    def _notify(self, s: Session, row: AlertEvent, ch: _Change, state: str, routing: Routing, moment: datetime) -> None:
        """Outbox rows for this event state, one per method of the rule's group, in this transaction."""
        group = routing.groups.get(ch.rule.notification_group_id or 0)
        silenced = self._silenced(ch.rule, ch.labels, row.server_id, routing, moment.timestamp())
        if state == "firing":
            row.silenced = silenced
        seq = row.notify_count
        row.notify_count = seq + 1
        if group is None:
            return
        targets = [m for m in group.notifications if m in routing.methods]
        if state == "resolved":
            told = set(
                s.scalars(
                    select(AlertDelivery.notification_id).where(
                        AlertDelivery.event_id == row.id,
                        AlertDelivery.state == "firing",
                        AlertDelivery.status.in_(("pending", "sent", "expired")),
                    )
                )
            )
            targets = [m for m in targets if m in told]
        payload = orjson.dumps(self._payload(row, ch, state, moment)).decode()
        due = moment.timestamp() + group.group_wait_seconds
        for method_id in targets:
            s.add(
                AlertDelivery(
                    event_id=row.id,
                    notification_id=method_id,
                    notification_group_id=group.id,
                    state=state,
                    idempotency_key=f"{row.id}:{state}:{seq}:{method_id}",
                    group_key=group.key_of(ch.labels),
                    status="silenced" if silenced else "pending",
                    attempts=0,
                    payload=payload,
                    created_at=moment,
                    next_attempt_at=datetime.fromtimestamp(due, UTC),
                    last_error="",
                )
            )

    def _remember(self, changes: list[_Change], now: float) -> None:
        for ch in changes:
            st = ch.state
            if st is None:
                continue
            if ch.kind == "open":
                self.states[ch.fp] = st
            elif ch.kind in ("drop", "resolve"):
                self.states.pop(ch.fp, None)
            elif ch.kind == "fire":
                st.state, st.fired_at, st.last_notified_at, st.flapping = "firing", now, now, ch.flapping
                st.notify_count += 1
            elif ch.kind == "repeat":
                st.last_notified_at = now
                st.notify_count += 1
            elif ch.kind == "flap":
                st.flapping = ch.flapping

    def acknowledge(self, event_ids: list[int], username: str) -> int:
        with self._meta.session() as s:
            result = s.execute(
                update(AlertEvent)
                .where(AlertEvent.id.in_(event_ids), AlertEvent.acked_by == "")
                .values(acked_by=username, acked_at=datetime.now(UTC))
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _ts(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
