"""What a public status page shows, read in the guests' view: servers, 90-day bars, incidents.

Everything here is what a guest may read through the API: servers not hidden from guests
(:func:`heron.api.inventory.servers.visible_servers` with the guest principal), their state,
and their history as uptime per day. History comes from the TSDB tables the inventory writes
(``server_status``, ``server_events``) through the SQL sandbox, like the metrics route.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from heron.api.inventory.servers import visible_servers
from heron.api.services import Services
from heron.auth.users import GUEST
from heron.inventory.live import EVENTS_TABLE, STATUS_TABLE
from heron.meta.namespaces import DEFAULT_DATABASE, DEFAULT_TENANT
from heron.statuspage.store import StatusPageInfo
from heron.statuspage.uptime import (
    BAR_DAYS,
    DAY_MS,
    DayBar,
    Incident,
    daily_bars,
    daily_minutes_sql,
    day_start_ms,
    events_sql,
    incidents,
    overall_percent,
)
from heron.tsdb.names import schema_for
from heron.tsdb.sandbox import run_select


@dataclass(frozen=True, slots=True)
class ServerRow:
    id: int
    name: str
    public_note: str
    online: bool
    last_active: datetime | None
    uptime_percent: float | None
    bars: list[DayBar]


@dataclass(frozen=True, slots=True)
class IncidentRow:
    server_name: str
    started: datetime
    ended: datetime | None

    @property
    def minutes(self) -> int | None:
        return None if self.ended is None else max(1, round((self.ended - self.started).total_seconds() / 60))


@dataclass(frozen=True, slots=True)
class StatusModel:
    """One status page, ready for the template."""

    title: str
    description: str
    slug: str | None
    servers: list[ServerRow]
    incidents: list[IncidentRow]
    generated_at: datetime

    @property
    def online(self) -> int:
        return sum(1 for s in self.servers if s.online)

    @property
    def all_up(self) -> bool:
        return all(s.online for s in self.servers)


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _rows(svc: Services, sql: str) -> list[tuple[Any, ...]]:
    schema = schema_for(DEFAULT_TENANT, DEFAULT_DATABASE)
    stream = run_select(
        svc.tsdb,
        schema,
        sql,
        timeout_seconds=svc.settings.query_timeout_seconds,
        max_rows=svc.settings.max_result_rows,
        tables=svc.writer.table_names(schema),
    )
    out: list[tuple[Any, ...]] = []
    try:
        for batch in stream:
            out.extend(zip(*(col.to_pylist() for col in batch.columns), strict=True))
    finally:
        stream.close()
    return out


def _history(svc: Services, server_ids: list[int], now_ms: int) -> tuple[dict[int, list[DayBar]], list[Incident]]:
    since = day_start_ms(now_ms) - (BAR_DAYS - 1) * DAY_MS
    tables = svc.writer.table_names(schema_for(DEFAULT_TENANT, DEFAULT_DATABASE))
    minutes: list[tuple[int, int, int, int]] = []
    events: list[tuple[int, int, str, int]] = []
    if server_ids and STATUS_TABLE in tables:
        sql = daily_minutes_sql(STATUS_TABLE, server_ids, since_ms=since)
        minutes = [(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in _rows(svc, sql)]
    if server_ids and EVENTS_TABLE in tables:
        sql = events_sql(EVENTS_TABLE, server_ids, since_ms=since)
        events = [(int(r[0]), int(r[1]), str(r[2]), int(r[3])) for r in _rows(svc, sql)]
    return daily_bars(minutes, server_ids, now_ms=now_ms), incidents(events)


def build_status(svc: Services, page: StatusPageInfo | None, *, site_name: str) -> StatusModel:
    """The guests' view of ``page`` (``None``: every server guests may see), as of now."""
    views = visible_servers(svc, GUEST)
    if page is not None:
        by_id = {v.info.id: v for v in views}
        views = [by_id[i] for i in page.servers if i in by_id]
    now_ms = int(time.time() * 1000)
    ids = [v.info.id for v in views]
    bars, found = _history(svc, ids, now_ms)
    names = {v.info.id: v.info.name for v in views}
    servers = [
        ServerRow(
            id=v.info.id,
            name=v.info.name,
            public_note=v.info.public_note,
            online=v.online,
            last_active=datetime.fromtimestamp(v.last_active, UTC) if v.last_active else None,
            uptime_percent=overall_percent(bars[v.info.id]),
            bars=bars[v.info.id],
        )
        for v in views
    ]
    rows = [
        IncidentRow(names[i.server_id], _ms_to_dt(i.started_ms), _ms_to_dt(i.ended_ms) if i.ended_ms else None)
        for i in found
    ]
    return StatusModel(
        title=page.title if page is not None else site_name,
        description=page.description if page is not None else "",
        slug=page.slug if page is not None else None,
        servers=servers,
        incidents=rows,
        generated_at=_ms_to_dt(now_ms),
    )
