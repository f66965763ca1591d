"""Notifications that no rule raises: Nezha's monitor ``notify`` path and cron task results.

Nezha lets a monitor itself tell a notification group when it goes down and when it comes
back (its ``ServiceForm``: ``notify``, ``notification_group_id``), and a cron task tell its
group when a run fails (and, with ``push_successful``, when one succeeds). Both go through
the same outbox as rule alerts, so they share its guarantees: the event row and its
deliveries are written in one transaction, sent with retries, once per idempotency key.

* A monitor is **down** when more than half of its vantage points that have a state are
  down (one agent with a broken network does not page, as Nezha judges a service by the
  share of failed checks); the event is ``rule_kind`` ``service`` with no rule, fingerprint
  per monitor. Going down opens a firing event, coming back resolves it: the database is
  asked, not memory, so a restart neither repeats a message nor loses the recovery.
* With Nezha's ``latency_notify``, a check slower than ``max_latency`` or faster than
  ``min_latency`` (ms) tells the group once per excursion and vantage point, ``[Latency]
  shop 812.40 ms > 500 ms, from agent-1``; back in range, the incident resolves without a
  message (Nezha's unmuting). Each vantage point has its own, so one slow network neither
  hides nor repeats another's.
* A monitor deleted, disabled or no longer notifying while its incident is open has that
  incident resolved without a message (:meth:`Notices.sweep`), so it does not stay firing.
* A **cron run** that failed, was missed (the server's agent offline) or refused is one
  event of state ``notice`` (never active, never resolved), ``rule_kind`` ``cron``.

Silences apply (matched on the event's labels); a silenced notice is recorded, not sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from heron.alerts.evaluator import Routing, fingerprint
from heron.meta.alert_models import AlertDelivery, AlertEvent
from heron.meta.db import MetaStore

log = logging.getLogger(__name__)

#: Characters of a cron run's output and error put in its message.
MAX_OUTPUT_CHARS = 500


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def monitor_down(states: Iterable[Any]) -> tuple[bool, str]:
    """Whether a monitor counts as down from its vantage points' states, and the first reason given."""
    known = [s for s in states if str(getattr(s.state, "value", s.state)) != "pending"]
    down = [s for s in known if str(getattr(s.state, "value", s.state)) == "down"]
    reason = next((s.reason for s in down if s.reason), "")
    return bool(known) and 2 * len(down) > len(known), reason


class Notices:
    """Writes the events and outbox rows of monitor and cron notifications."""

    def __init__(self, meta: MetaStore, routing: Callable[[], Routing], on_change: Callable[[], None]) -> None:
        self._meta = meta
        self._routing = routing
        self._on_change = on_change

    # -- monitors ----------------------------------------------------------------------------

    def monitor(self, monitor: Any, states: Iterable[Any], now: float) -> str:
        """Bring the monitor's event in line with its states: ``firing``, ``resolved`` or ``""`` (nothing)."""
        if not monitor.notify or not monitor.notification_group_id:
            return ""
        down, reason = monitor_down(states)
        fp = fingerprint(0, f"monitor:{monitor.id}")
        moment = datetime.fromtimestamp(now, UTC)
        routing = self._routing()
        with self._meta.session() as s:
            open_event = s.scalar(
                select(AlertEvent).where(
                    AlertEvent.state == "firing", AlertEvent.fingerprint == fp, AlertEvent.rule_id.is_(None)
                )
            )
            if down == (open_event is not None):
                return ""
            shown = f"{monitor.name} ({monitor.target or monitor.kind})"
            summary = f"{shown} is down" + (f": {reason}" if reason else "")
            if down:
                labels = {
                    "alertname": monitor.name,
                    "service_id": str(monitor.id),
                    "service_name": monitor.name,
                    "severity": "critical",
                }
                row = AlertEvent(
                    rule_id=None, rule_name=monitor.name, rule_kind="service", owner_id=monitor.owner_id,
                    busi_group_id=None, fingerprint=fp, labels=orjson.dumps(labels).decode(),
                    annotations=orjson.dumps({"summary": summary}).decode(),
                    severity="critical", state="firing", server_id=None, value=1.0,
                    values=orjson.dumps([{"at": moment.isoformat(), "state": "firing", "value": 1.0}]).decode(),
                    started_at=moment, fired_at=moment, updated_at=moment, flapping=False, silenced=False,
                    acked_by="", notify_count=0,
                )  # fmt: skip
                s.add(row)
                s.flush()
                state, text = "firing", f"[Incident] {summary}"
            else:
                assert open_event is not None
                row = open_event
                row.state, row.resolved_at, row.updated_at, row.value = "resolved", moment, moment, 0.0
                values = orjson.loads(row.values or "[]")
                values.append({"at": moment.isoformat(), "state": "resolved", "value": 0.0})
                row.values = orjson.dumps(values).decode()
                state, text = "resolved", f"[Resolved] {shown} is up again"
            self._deliver(s, row, monitor.notification_group_id, state, text, routing, moment)
        self._on_change()
        return state

    def latency(self, monitor: Any, vantage_id: int, vantage: str, out: str, delay_ms: float, now: float) -> str:
        """Bring the monitor's latency incident in line: ``out`` is ``above``, ``below`` or ``""``.
        Returns ``firing``, ``resolved`` (silently) or ``""`` (nothing to do)."""
        if not monitor.latency_notify or not monitor.notification_group_id:
            return ""
        fp = fingerprint(0, f"monitor-latency:{monitor.id}:{vantage_id}")
        moment = datetime.fromtimestamp(now, UTC)
        routing = self._routing()
        with self._meta.session() as s:
            open_event = s.scalar(
                select(AlertEvent).where(
                    AlertEvent.state == "firing", AlertEvent.fingerprint == fp, AlertEvent.rule_id.is_(None)
                )
            )
            if bool(out) == (open_event is not None):
                return ""
            if open_event is not None:
                open_event.state, open_event.resolved_at, open_event.updated_at = "resolved", moment, moment
                self._on_change()
                return "resolved"
            bound = f"> {monitor.max_latency_ms:g}" if out == "above" else f"< {monitor.min_latency_ms:g}"
            text = f"[Latency] {monitor.name} {delay_ms:.2f} ms {bound} ms, from {vantage}"
            labels = {
                "alertname": monitor.name,
                "service_id": str(monitor.id),
                "service_name": monitor.name,
                "check": "latency",
                "vantage_id": str(vantage_id),
                "vantage_name": vantage,
                "severity": "warning",
            }
            row = AlertEvent(
                rule_id=None, rule_name=monitor.name, rule_kind="service", owner_id=monitor.owner_id,
                busi_group_id=None, fingerprint=fp, labels=orjson.dumps(labels).decode(),
                annotations=orjson.dumps({"summary": text}).decode(), severity="warning", state="firing",
                server_id=vantage_id or None, value=delay_ms,
                values=orjson.dumps([{"at": moment.isoformat(), "state": "firing", "value": delay_ms}]).decode(),
                started_at=moment, fired_at=moment, updated_at=moment, flapping=False, silenced=False,
                acked_by="", notify_count=0,
            )  # fmt: skip
            s.add(row)
            s.flush()
            self._deliver(s, row, monitor.notification_group_id, "firing", text, routing, moment)
        self._on_change()
        return "firing"

    def sweep(self, monitors: Mapping[int, Any], now: float) -> int:
        """Resolve, without a message, the open incidents of monitors that are gone, disabled or
        no longer notify; returns how many."""
        moment = datetime.fromtimestamp(now, UTC)
        closed = 0
        with self._meta.session() as s:
            rows = s.scalars(
                select(AlertEvent).where(
                    AlertEvent.state == "firing", AlertEvent.rule_id.is_(None), AlertEvent.rule_kind == "service"
                )
            )
            for row in rows:
                labels = orjson.loads(row.labels or "{}")
                monitor_id = labels.get("service_id", "")
                monitor = monitors.get(int(monitor_id)) if str(monitor_id).isdigit() else None
                wanted = monitor is not None and (
                    monitor.latency_notify if labels.get("check") == "latency" else monitor.notify
                )
                if monitor is not None and monitor.enabled and wanted and monitor.notification_group_id:
                    continue
                row.state, row.resolved_at, row.updated_at = "resolved", moment, moment
                why = "monitor deleted" if monitor is None else "monitor disabled or no longer notifying"
                row.annotations = orjson.dumps(
                    {**orjson.loads(row.annotations or "{}"), "heron_resolved_by": why}
                ).decode()
                closed += 1
        if closed:
            self._on_change()
        return closed

    # -- cron runs ---------------------------------------------------------------------------

    def cron_run(self, task: dict[str, Any], run: Any) -> bool:
        """One run's notification to the task's group; whether one was written."""
        group_id = int(task.get("notification_group_id") or 0)
        if not group_id:
            return False
        ok = run.status == "ok"
        moment = run.finished_at if run.finished_at.tzinfo else run.finished_at.replace(tzinfo=UTC)
        detail = (run.error or run.output or "").strip()[-MAX_OUTPUT_CHARS:]
        code = f", exit code {run.exit_code}" if run.exit_code is not None else ""
        verb = "succeeded" if ok else ("was missed" if run.status == "missed" else f"failed ({run.status}{code})")
        text = f"[Task {'succeeded' if ok else 'failed'}] {task['name']} {verb} on {run.server_name}" + (
            f": {detail}" if detail else ""
        )
        labels = {
            "alertname": task["name"],
            "cron_id": str(task["id"]),
            "server_id": str(run.server_id),
            "server_name": run.server_name,
            "status": run.status,
            "severity": "info" if ok else "warning",
        }
        routing = self._routing()
        with self._meta.session() as s:
            row = AlertEvent(
                rule_id=None, rule_name=task["name"], rule_kind="cron", owner_id=task.get("user_id"),
                busi_group_id=None,
                fingerprint=fingerprint(0, f"cron:{task['id']}:{run.server_id}:{run.started_at.timestamp()}"),
                labels=orjson.dumps(labels).decode(),
                annotations=orjson.dumps({"summary": text, "trigger": run.trigger}).decode(),
                severity=labels["severity"], state="notice", server_id=run.server_id,
                value=float(run.exit_code) if run.exit_code is not None else None,
                values=orjson.dumps([{"at": moment.isoformat(), "state": run.status, "value": run.exit_code}]).decode(),
                started_at=run.started_at, fired_at=moment, resolved_at=None, updated_at=moment, flapping=False,
                silenced=False, acked_by="", notify_count=0,
            )  # fmt: skip
            s.add(row)
            s.flush()
            self._deliver(s, row, group_id, "resolved" if ok else "firing", text, routing, moment)
        self._on_change()
        return True

    # -- the outbox --------------------------------------------------------------------------

    def _silenced(self, row: AlertEvent, labels: dict[str, str], routing: Routing, moment: datetime) -> bool:
        for silence in routing.silences:
            if silence.busi_group_id is not None:
                continue
            if (silence.owner_id in routing.admins or silence.owner_id == row.owner_id) and silence.covers(
                labels, moment
            ):
                return True
        return False

    def _deliver(
        self, s: Session, row: AlertEvent, group_id: int, state: str, text: str, routing: Routing, moment: datetime
    ) -> None:
        """One outbox row per method of the group, in the caller's transaction."""
        labels = orjson.loads(row.labels or "{}")
        silenced = self._silenced(row, labels, routing, moment)
        if state == "firing" or row.state == "notice":
            row.silenced = silenced
        seq = row.notify_count
        row.notify_count = seq + 1
        group = routing.groups.get(group_id)
        if group is None:
            log.warning("a notification names a group that does not exist", extra={"group_id": group_id})
            return
        payload = {
            "event_id": row.id,
            "state": state,
            "rule_id": None,
            "rule_name": row.rule_name,
            "rule_kind": row.rule_kind,
            "severity": row.severity,
            "labels": labels,
            "annotations": orjson.loads(row.annotations or "{}"),
            "value": row.value,
            "values": {},
            "message": text,
            "server": None,
            "fingerprint": row.fingerprint,
            "started_at": _iso(row.started_at),
            "fired_at": _iso(row.fired_at) if row.fired_at else None,
            "resolved_at": _iso(moment) if state == "resolved" else None,
            "flapping": False,
            "at": _iso(moment),
        }
        body = orjson.dumps(payload).decode()
        due = datetime.fromtimestamp(moment.timestamp() + group.group_wait_seconds, UTC)
        for method_id in [m for m in group.notifications if m in routing.methods]:
            s.add(
                AlertDelivery(
                    event_id=row.id, notification_id=method_id, notification_group_id=group.id, state=state,
                    idempotency_key=f"{row.id}:{state}:{seq}:{method_id}", group_key=group.key_of(labels),
                    status="silenced" if silenced else "pending", attempts=0, payload=body, created_at=moment,
                    next_attempt_at=due, last_error="",
                )
            )  # fmt: skip
