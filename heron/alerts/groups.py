"""Notification groups (Nezha's ``/api/v1/notification-group``), which are also Heron's routes.

A group names the methods that are told, and how alerts are batched on the way, as
Alertmanager's route does: ``group_by`` (label names; alerts with the same values go in one
message), ``group_wait_seconds`` (how long the first message of a new batch waits for
others), ``group_interval_seconds`` (the least time between two messages of one batch) and
``repeat_interval_seconds`` (how often a rule in trigger mode "always" repeats a firing alert).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from heron.alerts.rules import LABEL_NAME
from heron.auth.permissions import Action, Resource, require
from heron.auth.users import Principal
from heron.core.errors import BadRequest, NotFound
from heron.meta.alert_models import Notification, NotificationGroup, NotificationGroupMember
from heron.meta.db import MetaStore

MAX_WAIT_SECONDS = 86_400.0
DEFAULT_GROUP_BY = ("alertname",)


@dataclass(frozen=True, slots=True)
class GroupDef:
    id: int
    owner_id: int | None
    name: str
    notifications: tuple[int, ...]
    group_by: tuple[str, ...] = DEFAULT_GROUP_BY
    group_wait_seconds: float = 0.0
    group_interval_seconds: float = 0.0
    repeat_interval_seconds: float = 3600.0
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def key_of(self, labels: Mapping[str, str]) -> str:
        """The batch an alert with ``labels`` belongs to, in this group."""
        return orjson.dumps([self.id, [labels.get(n, "") for n in self.group_by]]).decode()


def _seconds(body: Mapping[str, Any], key: str, default: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if (
        isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_WAIT_SECONDS
    ):  # NaN fails too
        raise BadRequest(f"{key}: expected seconds from 0 to {MAX_WAIT_SECONDS:g}, got {value!r}")
    return float(value)


def parse_group(body: Mapping[str, Any], *, current: GroupDef | None = None) -> GroupDef:
    name = body.get("name", current.name if current else None)
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise BadRequest("name: a notification group needs a name of 1 to 255 characters")
    ids = body.get("notifications", list(current.notifications) if current else [])
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids):
        raise BadRequest("notifications: expected a list of notification method ids")
    group_by = body.get("group_by", list(current.group_by) if current else list(DEFAULT_GROUP_BY))
    if not isinstance(group_by, list) or not all(isinstance(n, str) and LABEL_NAME.match(n) for n in group_by):
        raise BadRequest("group_by: expected a list of label names")
    return GroupDef(
        id=current.id if current else 0,
        owner_id=current.owner_id if current else None,
        name=name.strip(),
        notifications=tuple(dict.fromkeys(ids)),
        group_by=tuple(group_by),
        group_wait_seconds=_seconds(body, "group_wait_seconds", current.group_wait_seconds if current else 0.0),
        group_interval_seconds=_seconds(
            body, "group_interval_seconds", current.group_interval_seconds if current else 0.0
        ),
        repeat_interval_seconds=_seconds(
            body, "repeat_interval_seconds", current.repeat_interval_seconds if current else 3600.0
        ),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _def(row: NotificationGroup, members: list[int]) -> GroupDef:
    return GroupDef(
        id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        notifications=tuple(members),
        group_by=tuple(orjson.loads(row.group_by or "[]")),
        group_wait_seconds=row.group_wait_seconds,
        group_interval_seconds=row.group_interval_seconds,
        repeat_interval_seconds=row.repeat_interval_seconds,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
    )


def public_group(g: GroupDef) -> dict[str, Any]:
    """Nezha's ``NotificationGroupResponseItem`` with Heron's batching fields in ``group``."""
    return {
        "group": {
            "id": g.id,
            "created_at": g.created_at.isoformat() if g.created_at else None,
            "updated_at": g.updated_at.isoformat() if g.updated_at else None,
            "name": g.name,
            "owner_id": g.owner_id,
            "group_by": list(g.group_by),
            "group_wait_seconds": g.group_wait_seconds,
            "group_interval_seconds": g.group_interval_seconds,
            "repeat_interval_seconds": g.repeat_interval_seconds,
        },
        "notifications": list(g.notifications),
    }


class GroupStore:
    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta

    def _members(self, s: Session, ids: list[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {i: [] for i in ids}
        if ids:
            rows = s.execute(
                select(NotificationGroupMember.group_id, NotificationGroupMember.notification_id)
                .where(NotificationGroupMember.group_id.in_(ids))
                .order_by(NotificationGroupMember.notification_id)
            )
            for group_id, nid in rows:
                found[group_id].append(nid)
        return found

    def all(self) -> dict[int, GroupDef]:
        with self._meta.session() as s:
            rows = list(s.scalars(select(NotificationGroup)))
            members = self._members(s, [r.id for r in rows])
            return {r.id: _def(r, members[r.id]) for r in rows}

    def visible(self, principal: Principal) -> list[GroupDef]:
        with self._meta.session() as s:
            query = select(NotificationGroup).order_by(NotificationGroup.id)
            if not principal.is_admin:
                query = query.where(NotificationGroup.owner_id == principal.user_id)
            rows = list(s.scalars(query))
            members = self._members(s, [r.id for r in rows])
            return [_def(r, members[r.id]) for r in rows]

    def get(self, principal: Principal, group_id: int) -> GroupDef:
        with self._meta.session() as s:
            row = s.get(NotificationGroup, group_id)
            if row is None:
                raise NotFound(f"no notification group with id {group_id}")
            require(principal, Action.READ, Resource("notification_group", owner_id=row.owner_id))
            return _def(row, self._members(s, [row.id])[row.id])

    def _check_methods(self, s: Session, principal: Principal, ids: tuple[int, ...]) -> None:
        rows = {r.id: r for r in s.scalars(select(Notification).where(Notification.id.in_(ids)))} if ids else {}
        missing = [i for i in ids if i not in rows]
        if missing:
            raise NotFound(f"notifications: no notification method with id {', '.join(map(str, missing))}")
        for row in rows.values():
            require(principal, Action.READ, Resource("notification", owner_id=row.owner_id))

    def save(self, principal: Principal, g: GroupDef) -> GroupDef:
        with self._meta.session() as s:
            self._check_methods(s, principal, g.notifications)
            if g.id:
                row = s.get(NotificationGroup, g.id)
                if row is None:
                    raise NotFound(f"no notification group with id {g.id}")
                require(principal, Action.UPDATE, Resource("notification_group", owner_id=row.owner_id))
                row.updated_at = datetime.now(UTC)
            else:
                require(principal, Action.CREATE, Resource("notification_group"))
                row = NotificationGroup(owner_id=principal.user_id or None)
                s.add(row)
            row.name = g.name
            row.group_by = orjson.dumps(list(g.group_by)).decode()
            row.group_wait_seconds = g.group_wait_seconds
            row.group_interval_seconds = g.group_interval_seconds
            row.repeat_interval_seconds = g.repeat_interval_seconds
            s.flush()
            s.execute(delete(NotificationGroupMember).where(NotificationGroupMember.group_id == row.id))
            s.add_all(NotificationGroupMember(group_id=row.id, notification_id=n) for n in g.notifications)
            s.flush()
            return _def(row, list(g.notifications))

    def delete(self, principal: Principal, ids: list[int]) -> list[int]:
        with self._meta.session() as s:
            rows = (
                {r.id: r for r in s.scalars(select(NotificationGroup).where(NotificationGroup.id.in_(ids)))}
                if ids
                else {}
            )
            missing = [i for i in ids if i not in rows]
            if missing:
                raise NotFound(f"no notification group with id {', '.join(map(str, missing))}")
            for row in rows.values():
                require(principal, Action.DELETE, Resource("notification_group", owner_id=row.owner_id))
            s.execute(delete(NotificationGroup).where(NotificationGroup.id.in_(ids)))
        self._meta.touched(NotificationGroup.__tablename__)
        return ids
