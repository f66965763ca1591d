"""Reading events: filters, paging, and the shape the native API shows.

Who sees an event: admins every one; a member the events of their own rules, and of rules
of the business groups their teams belong to (``busi_group_ids``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, func, or_, select

from heron.auth.users import Principal
from heron.core.errors import BadRequest, NotFound
from heron.meta.alert_models import AlertEvent
from heron.meta.db import MetaStore

#: ``notice``: a one-off notification that no rule raised (a cron run's result), never active.
STATES = ("pending", "firing", "resolved", "active", "notice")


@dataclass(frozen=True, slots=True)
class EventFilter:
    state: str = ""
    rule_id: int | None = None
    server_id: int | None = None
    severity: str = ""
    since: datetime | None = None
    until: datetime | None = None
    query: str = ""
    busi_group_ids: Sequence[int] | None = None


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _where(principal: Principal, f: EventFilter, visible_groups: Sequence[int]) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if not principal.is_admin:
        mine: ColumnElement[bool] = AlertEvent.owner_id == principal.user_id
        if visible_groups:
            mine = or_(mine, AlertEvent.busi_group_id.in_(list(visible_groups)))
        where.append(mine)
    if f.state:
        if f.state not in STATES:
            raise BadRequest(f"state: expected one of {', '.join(STATES)}, got {f.state!r}")
        where.append(
            AlertEvent.state.in_(("pending", "firing")) if f.state == "active" else AlertEvent.state == f.state
        )
    if f.rule_id is not None:
        where.append(AlertEvent.rule_id == f.rule_id)
    if f.server_id is not None:
        where.append(AlertEvent.server_id == f.server_id)
    if f.severity:
        where.append(AlertEvent.severity == f.severity)
    if f.since is not None:
        where.append(AlertEvent.started_at >= f.since)
    if f.until is not None:
        where.append(AlertEvent.started_at < f.until)
    if f.query:
        for word in f.query.split():
            like = f"%{word}%"
            where.append(or_(AlertEvent.rule_name.ilike(like), AlertEvent.labels.ilike(like)))
    if f.busi_group_ids is not None:
        where.append(AlertEvent.busi_group_id.in_(list(f.busi_group_ids)))
    return where


def _select(principal: Principal, f: EventFilter, visible_groups: Sequence[int]) -> Select[Any]:
    return select(AlertEvent).where(*_where(principal, f, visible_groups))


def page(
    meta: MetaStore,
    principal: Principal,
    f: EventFilter,
    *,
    offset: int,
    limit: int,
    visible_groups: Sequence[int] = (),
) -> list[AlertEvent]:
    with meta.session() as s:
        stmt = _select(principal, f, visible_groups).order_by(AlertEvent.started_at.desc(), AlertEvent.id.desc())
        return list(s.scalars(stmt.offset(offset).limit(limit)))


def count(meta: MetaStore, principal: Principal, f: EventFilter, *, visible_groups: Sequence[int] = ()) -> int:
    with meta.session() as s:
        stmt = select(func.count(AlertEvent.id)).where(*_where(principal, f, visible_groups))
        return int(s.scalar(stmt) or 0)


def get(meta: MetaStore, principal: Principal, event_id: int, *, visible_groups: Sequence[int] = ()) -> AlertEvent:
    with meta.session() as s:
        row: AlertEvent | None = s.scalar(
            _select(principal, EventFilter(), visible_groups).where(AlertEvent.id == event_id)
        )
    if row is None:
        raise NotFound(f"no alert event with id {event_id}")
    return row


def _iso(value: datetime | None) -> str | None:
    aware = _aware(value)
    return aware.isoformat() if aware else None


def event_json(row: AlertEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "rule_id": row.rule_id,
        "rule_name": row.rule_name,
        "rule_kind": row.rule_kind,
        "fingerprint": row.fingerprint,
        "state": row.state,
        "severity": row.severity,
        "labels": orjson.loads(row.labels or "{}"),
        "annotations": orjson.loads(row.annotations or "{}"),
        "server_id": row.server_id,
        "value": row.value,
        "values": orjson.loads(row.values or "[]"),
        "started_at": _iso(row.started_at),
        "fired_at": _iso(row.fired_at),
        "resolved_at": _iso(row.resolved_at),
        "updated_at": _iso(row.updated_at),
        "flapping": row.flapping,
        "silenced": row.silenced,
        "acked_by": row.acked_by or None,
        "acked_at": _iso(row.acked_at),
        "notify_count": row.notify_count,
    }
