"""Silences (label matchers over a time window) and recurring maintenance windows.

Both only stop sending: an alert they cover is still evaluated, recorded as an event and put
in the outbox, where its deliveries are marked ``silenced`` instead of being sent. A silence
applies when every matcher matches the alert's labels and ``starts_at <= now < ends_at``. A
maintenance window has a cron expression for its starts (minute hour day month weekday, in
its time zone) and a length; it covers alerts whose ``server_id`` is one of its servers or
in one of its server groups (an empty scope covers every server of its owner).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from croniter import CroniterBadCronError, croniter
from sqlalchemy import delete, select

from heron.alerts.matchers import Matcher, all_match, parse_matchers
from heron.auth.permissions import Action, Resource, require
from heron.auth.users import Principal
from heron.core.errors import BadRequest, NotFound
from heron.meta.alert_models import MaintenanceWindow, Silence
from heron.meta.db import MetaStore

MAX_SILENCE_SECONDS = 366 * 86_400
MAX_WINDOW_SECONDS = 31 * 86_400


@dataclass(frozen=True, slots=True)
class SilenceDef:
    id: int
    owner_id: int | None
    busi_group_id: int | None
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str = ""
    extra: Mapping[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def covers(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.active(now) and all_match(self.matchers, labels)


@dataclass(frozen=True, slots=True)
class WindowDef:
    id: int
    owner_id: int | None
    name: str
    cron: str
    duration_seconds: float
    timezone: str
    server_ids: tuple[int, ...]
    server_group_ids: tuple[int, ...]
    enabled: bool
    comment: str
    created_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        """Whether ``now`` is inside a window that started at one of the cron's times."""
        if not self.enabled:
            return False
        local = now.astimezone(ZoneInfo(self.timezone))
        # The start at or before now (croniter's get_prev is strictly before, so step a second on).
        last = croniter(self.cron, local + timedelta(seconds=1)).get_prev(datetime)
        return bool(local < last + timedelta(seconds=self.duration_seconds))

    def covers(self, server_id: int | None, groups_of: Mapping[int, Iterable[int]]) -> bool:
        if server_id is None:
            return False
        if not self.server_ids and not self.server_group_ids:
            return True
        return server_id in self.server_ids or any(g in self.server_group_ids for g in groups_of.get(server_id, ()))


def _time(raw: Any, where: str) -> datetime:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        try:
            return datetime.fromtimestamp(raw, UTC)
        except (OverflowError, ValueError, OSError):
            raise BadRequest(f"{where}: {raw!r} is not a Unix time Heron can represent") from None
    if not isinstance(raw, str):
        raise BadRequest(f"{where}: expected an RFC 3339 time or Unix seconds, got {raw!r}")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{where}: expected an RFC 3339 time such as 2024-01-01T00:00:00Z, got {raw!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_silence(body: Mapping[str, Any], *, now: datetime) -> SilenceDef:
    """A silence: Heron's or Alertmanager's matchers, ``starts_at``/``startsAt``, ``ends_at``/``endsAt``."""
    matchers = parse_matchers(body.get("matchers"))
    starts = _time(body.get("starts_at", body.get("startsAt", now.isoformat())), "starts_at")
    ends_raw = body.get("ends_at", body.get("endsAt"))
    if ends_raw is None:
        raise BadRequest("ends_at: a silence needs an end time")
    ends = _time(ends_raw, "ends_at")
    if ends <= starts:
        raise BadRequest(f"ends_at: must be after starts_at ({ends.isoformat()} <= {starts.isoformat()})")
    if (ends - starts).total_seconds() > MAX_SILENCE_SECONDS:
        raise BadRequest("ends_at: a silence lasts at most a year")
    comment = body.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 4096:
        raise BadRequest("comment: expected text of at most 4096 characters")
    return SilenceDef(0, None, None, tuple(matchers), starts, ends, comment)


def parse_window(body: Mapping[str, Any]) -> WindowDef:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise BadRequest("name: a maintenance window needs a name of 1 to 255 characters")
    cron = body.get("cron")
    if not isinstance(cron, str) or not croniter.is_valid(cron) or len(cron.split()) != 5:
        raise BadRequest(f"cron: expected five cron fields (minute hour day month weekday), got {cron!r}")
    duration = body.get("duration_seconds")
    if isinstance(duration, bool) or not isinstance(duration, int | float) or not 0 < duration <= MAX_WINDOW_SECONDS:
        raise BadRequest(f"duration_seconds: expected seconds from 1 to {MAX_WINDOW_SECONDS}, got {duration!r}")
    tz = body.get("timezone") or "UTC"
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"timezone: unknown time zone {tz!r}") from None
    ids: dict[str, tuple[int, ...]] = {}
    for key in ("server_ids", "server_group_ids"):
        raw = body.get(key) or []
        if not isinstance(raw, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in raw):
            raise BadRequest(f"{key}: expected a list of ids")
        ids[key] = tuple(raw)
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise BadRequest("enabled: expected true or false")
    comment = body.get("comment", "")
    if not isinstance(comment, str):
        raise BadRequest("comment: expected text")
    try:
        croniter(cron)
    except CroniterBadCronError as exc:
        raise BadRequest(f"cron: {exc}") from None
    return WindowDef(
        0,
        None,
        name.strip(),
        cron,
        float(duration),
        str(tz),
        ids["server_ids"],
        ids["server_group_ids"],
        enabled,
        comment,
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _silence(row: Silence) -> SilenceDef:
    raw = orjson.loads(row.matchers or "[]")
    return SilenceDef(
        row.id,
        row.owner_id,
        row.busi_group_id,
        tuple(parse_matchers(raw)) if raw else (),
        _aware(row.starts_at),
        _aware(row.ends_at),
        row.comment,
        row.created_by,
        orjson.loads(row.extra or "{}"),
        _aware(row.created_at),
        _aware(row.updated_at),
    )


def _window(row: MaintenanceWindow) -> WindowDef:
    return WindowDef(
        row.id,
        row.owner_id,
        row.name,
        row.cron,
        row.duration_seconds,
        row.timezone,
        tuple(orjson.loads(row.server_ids or "[]")),
        tuple(orjson.loads(row.server_group_ids or "[]")),
        bool(row.enabled),
        row.comment,
        _aware(row.created_at),
    )


def public_silence(s: SilenceDef, now: datetime) -> dict[str, Any]:
    return {
        "id": s.id,
        "matchers": [m.to_json() for m in s.matchers],
        "starts_at": s.starts_at.isoformat(),
        "ends_at": s.ends_at.isoformat(),
        "comment": s.comment,
        "created_by": s.created_by,
        "owner_id": s.owner_id,
        "state": "active" if s.active(now) else ("pending" if now < s.starts_at else "expired"),
    }


def public_window(w: WindowDef, now: datetime) -> dict[str, Any]:
    return {
        "id": w.id,
        "name": w.name,
        "cron": w.cron,
        "duration_seconds": w.duration_seconds,
        "timezone": w.timezone,
        "server_ids": list(w.server_ids),
        "server_group_ids": list(w.server_group_ids),
        "enabled": w.enabled,
        "comment": w.comment,
        "owner_id": w.owner_id,
        "active": w.active(now),
    }


class SilenceStore:
    """Silences and maintenance windows; members manage their own, admins all."""

    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta

    def all_silences(self) -> list[SilenceDef]:
        with self._meta.session() as s:
            return [_silence(r) for r in s.scalars(select(Silence))]

    def all_windows(self) -> list[WindowDef]:
        with self._meta.session() as s:
            return [_window(r) for r in s.scalars(select(MaintenanceWindow))]

    def silences(self, principal: Principal, *, busi_group_id: int | None = None) -> list[SilenceDef]:
        with self._meta.session() as s:
            query = select(Silence).order_by(Silence.id)
            if busi_group_id is not None:
                query = query.where(Silence.busi_group_id == busi_group_id)
            else:
                query = query.where(Silence.busi_group_id.is_(None))
                if not principal.is_admin:
                    query = query.where(Silence.owner_id == principal.user_id)
            return [_silence(r) for r in s.scalars(query)]

    def add_silence(
        self,
        principal: Principal,
        silence: SilenceDef,
        *,
        busi_group_id: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> SilenceDef:
        if busi_group_id is None:
            require(principal, Action.CREATE, Resource("silence"))
        with self._meta.session() as s:
            row = Silence(
                owner_id=principal.user_id or None,
                busi_group_id=busi_group_id,
                matchers=orjson.dumps([m.to_json() for m in silence.matchers]).decode(),
                starts_at=silence.starts_at,
                ends_at=silence.ends_at,
                comment=silence.comment,
                extra=orjson.dumps(dict(extra or {})).decode(),
                created_by=principal.username,
            )
            s.add(row)
            s.flush()
            return _silence(row)

    def delete_silences(self, principal: Principal, ids: list[int], *, busi_group_id: int | None = None) -> list[int]:
        with self._meta.session() as s:
            rows = {r.id: r for r in s.scalars(select(Silence).where(Silence.id.in_(ids)))} if ids else {}
            missing = [i for i in ids if i not in rows or rows[i].busi_group_id != busi_group_id]
            if missing:
                raise NotFound(f"no silence with id {', '.join(map(str, missing))}")
            if busi_group_id is None:
                for row in rows.values():
                    require(principal, Action.DELETE, Resource("silence", owner_id=row.owner_id))
            s.execute(delete(Silence).where(Silence.id.in_(ids)))
        self._meta.touched(Silence.__tablename__)
        return ids

    def windows(self, principal: Principal) -> list[WindowDef]:
        with self._meta.session() as s:
            query = select(MaintenanceWindow).order_by(MaintenanceWindow.id)
            if not principal.is_admin:
                query = query.where(MaintenanceWindow.owner_id == principal.user_id)
            return [_window(r) for r in s.scalars(query)]

    def add_window(self, principal: Principal, w: WindowDef) -> WindowDef:
        require(principal, Action.CREATE, Resource("maintenance_window"))
        with self._meta.session() as s:
            row = MaintenanceWindow(owner_id=principal.user_id or None)
            self._fill(row, w)
            s.add(row)
            s.flush()
            return _window(row)

    def update_window(self, principal: Principal, window_id: int, w: WindowDef) -> WindowDef:
        with self._meta.session() as s:
            row = s.get(MaintenanceWindow, window_id)
            if row is None:
                raise NotFound(f"no maintenance window with id {window_id}")
            require(principal, Action.UPDATE, Resource("maintenance_window", owner_id=row.owner_id))
            self._fill(row, w)
            row.updated_at = datetime.now(UTC)
            s.flush()
            return _window(row)

    def delete_windows(self, principal: Principal, ids: list[int]) -> list[int]:
        with self._meta.session() as s:
            rows = (
                {r.id: r for r in s.scalars(select(MaintenanceWindow).where(MaintenanceWindow.id.in_(ids)))}
                if ids
                else {}
            )
            missing = [i for i in ids if i not in rows]
            if missing:
                raise NotFound(f"no maintenance window with id {', '.join(map(str, missing))}")
            for row in rows.values():
                require(principal, Action.DELETE, Resource("maintenance_window", owner_id=row.owner_id))
            s.execute(delete(MaintenanceWindow).where(MaintenanceWindow.id.in_(ids)))
        self._meta.touched(MaintenanceWindow.__tablename__)
        return ids

    @staticmethod
    def _fill(row: MaintenanceWindow, w: WindowDef) -> None:
        row.name, row.cron, row.duration_seconds, row.timezone = w.name, w.cron, w.duration_seconds, w.timezone
        row.server_ids = orjson.dumps(list(w.server_ids)).decode()
        row.server_group_ids = orjson.dumps(list(w.server_group_ids)).decode()
        row.enabled, row.comment = w.enabled, w.comment
