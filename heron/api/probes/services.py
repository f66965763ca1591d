"""Nezha v1's service API over Heron's monitors, and Heron's own additions.

=====================================================  ==============================================
``GET /api/v1/service``                                 overview: per monitor, vantage points up/down
                                                        now and 30 daily buckets of delay, up and down
``GET /api/v1/service/list``                            the monitors (Nezha's ``Service`` fields + Heron's)
``POST /api/v1/service``                                create (Nezha's ``ServiceForm``); answers the id
``PATCH /api/v1/service/{id}``                          change; absent fields stay as they are
``POST /api/v1/batch-delete/service``                   delete (body: a list of ids)
``GET /api/v1/service/{id}/history?period=1d|7d|30d``   the seed's shape, per vantage point
``GET /api/v1/service/{id}/server``                     the vantage points running it, with their state
``GET /api/v1/server/{id}/service?period=``             every monitor seen from one server (``ServiceInfos``)
``GET /api/v1/service/server``                          ids of the servers that run monitors (Nezha)
``GET /api/v1/service/{id}``                            Heron: one monitor, its states and exact uptime
``GET /api/v1/service/scheduler``                       Heron, admins: the node's scheduler lag and misses
``GET /api/v1/service/daily?days=90``                   Heron: up and down checks per monitor and UTC day
``GET /api/v1/service/{id}/event?limit=50``             Heron: its latest state changes, newest first
=====================================================  ==============================================

Who may see what is :mod:`heron.auth.permissions`' rule for kind ``service``: admins all,
members their own, guests (``force_auth`` off) those not hidden from guests, and history
only for ``1d`` (a guest asking ``7d`` gets 401). Vantage points on servers the caller may
not see are left out; the Heron node (``server_id`` 0) is visible to whoever sees the monitor.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from heron.alerts.cycles import cycle_transfer_stats
from heron.alerts.service import AlertService
from heron.api.alerts import alert_service
from heron.api.deps import current_principal, current_user, require_admin, services
from heron.api.inventory.servers import visible_servers
from heron.api.probes.runtime import probes_of, reader
from heron.api.schemas import MAX_ID, ObjectId
from heron.api.services import Services
from heron.auth.permissions import Action, Resource, allowed, require
from heron.auth.users import Principal
from heron.core.errors import BadRequest, NotFound
from heron.meta.alert_models import NotificationGroup
from heron.probes import history
from heron.probes.board import DAY_SECONDS
from heron.probes.monitors import MAX_BATCH, MonitorChanges, MonitorInfo
from heron.probes.service import HERON_NODE_ID, ProbeService
from heron.probes.spec import KIND_NUMBERS
from heron.probes.state import State
from heron.probes.targets import check_target

router = APIRouter(tags=["heron"], dependencies=[Depends(current_principal)])
managed = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])
admin = APIRouter(tags=["heron"], dependencies=[Depends(require_admin)])

Ids = list[Annotated[int, Field(ge=1, le=MAX_ID)]]
PERIOD_HELP = "1d (30 s buckets), 7d (5 min) or 30d (30 min); guests: 1d only"


class ServiceForm(BaseModel):
    """Nezha v1's ``ServiceForm`` (fields it has that Heron does not use are accepted and ignored),
    plus Heron's: ``timeout``, ``retries``, ``heron_vantage``, ``enabled`` and the kind's ``options``."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(None, min_length=1, max_length=255)
    type: int | str | None = Field(
        None, description="1 HTTP, 2 ICMP, 3 TCP (Nezha's numbers), 20 DNS, 21 push; or the name: http, icmp, ..."
    )
    target: str | None = Field(None, max_length=2048, description="URL, host:port, host, or DNS name")
    duration: int | None = Field(None, ge=1, le=86_400, description="seconds between checks (the interval)")
    timeout: float | None = Field(None, gt=0, le=60, description="seconds one check may take")
    retries: int | None = Field(None, ge=0, le=20, description="failures in a row tolerated before down")
    cover: int | None = Field(None, ge=0, le=1, description="0: all servers but skip_servers; 1: only skip_servers")
    skip_servers: dict[str, bool] | None = Field(None, max_length=10_000)
    heron_vantage: str | None = Field(None, description="always, when_no_agent or never")
    notify: bool | None = None
    notification_group_id: int | None = Field(None, ge=0, le=2**63 - 1)
    min_latency: float | None = Field(None, ge=0, le=1e9)
    max_latency: float | None = Field(None, ge=0, le=1e9, description="ms; above it the monitor is degraded")
    latency_notify: bool | None = None
    display_index: int | None = Field(None, ge=-MAX_ID, le=MAX_ID)
    hide_for_guest: bool | None = None
    enabled: bool | None = None
    options: dict[str, Any] | None = Field(None, description="the kind's settings; see docs/monitors.md")

    def changes(self) -> MonitorChanges:
        skip = None
        if self.skip_servers is not None:
            skip = {}
            for key, value in self.skip_servers.items():
                if not (key.isascii() and key.isdigit()) or not 1 <= int(key) <= MAX_ID:
                    raise BadRequest(f"skip_servers: keys must be server ids, got {key!r}")
                skip[int(key)] = value
        return MonitorChanges(
            name=self.name,
            kind=self.type,
            target=self.target,
            interval_seconds=self.duration,
            timeout_seconds=self.timeout,
            retries=self.retries,
            min_latency_ms=self.min_latency,
            max_latency_ms=self.max_latency,
            latency_notify=self.latency_notify,
            notify=self.notify,
            notification_group_id=self.notification_group_id,
            cover=self.cover,
            skip_servers=skip,
            heron_vantage=self.heron_vantage,
            display_index=self.display_index,
            hidden_for_guest=self.hide_for_guest,
            enabled=self.enabled,
            options=self.options,
        )


def push_path(monitor: MonitorInfo) -> str | None:
    return f"/api/v1/push/{monitor.push_token}" if monitor.push_token else None


def service_item(monitor: MonitorInfo, *, manage: bool) -> dict[str, Any]:
    """One monitor in Nezha v1's ``Service`` field names, with Heron's beside them.

    Those who may not change the monitor (guests, other members) do not see its target,
    options or push URL: a URL may carry a token, and options hold request headers.
    """
    return {
        "id": monitor.id,
        "created_at": monitor.created_at.isoformat(),
        "updated_at": monitor.updated_at.isoformat(),
        "user_id": monitor.owner_id or 0,
        "name": monitor.name,
        "type": KIND_NUMBERS[monitor.kind],
        "kind": monitor.kind,
        "target": monitor.target if manage else "",
        "duration": monitor.interval_seconds,
        "timeout": monitor.timeout_seconds,
        "retries": monitor.retries,
        "notify": monitor.notify,
        "notification_group_id": monitor.notification_group_id,
        "cover": monitor.cover,
        "skip_servers": {str(k): v for k, v in monitor.skip_servers.items()},
        "heron_vantage": monitor.heron_vantage,
        "min_latency": monitor.min_latency_ms,
        "max_latency": monitor.max_latency_ms,
        "latency_notify": monitor.latency_notify,
        "display_index": monitor.display_index,
        "hide_for_guest": monitor.hidden_for_guest,
        "enabled": monitor.enabled,
        "enable_show_in_service": True,
        "enable_trigger_task": False,
        "fail_trigger_tasks": [],
        "recover_trigger_tasks": [],
        "options": monitor.options if manage else {},
        "push_url": push_path(monitor) if manage else None,
    }


def _visible(principal: Principal, monitors: dict[int, MonitorInfo]) -> list[MonitorInfo]:
    shown = [m for m in monitors.values() if allowed(principal, Action.READ, m.resource)]
    return sorted(shown, key=lambda m: (-m.display_index, m.id))


def _monitor_for(probes: ProbeService, principal: Principal, monitor_id: int) -> MonitorInfo:
    """The monitor if the caller may see it; one they may not see does not exist for them."""
    monitor = probes.monitors.get(monitor_id)
    if monitor is None or not allowed(principal, Action.READ, monitor.resource):
        raise NotFound(f"no monitor with id {monitor_id}")
    return monitor


def _server_names(svc: Services, probes: ProbeService, principal: Principal) -> dict[int, str]:
    """Names of the vantage points the caller may see: the Heron node and their visible servers."""
    names = {view.info.id: view.info.name for view in visible_servers(svc, principal)}
    names[HERON_NODE_ID] = probes.node
    return names


def json_response(body: dict[str, Any]) -> Response:
    """A large answer encoded by orjson directly (FastAPI's encoder walks every value in Python:
    a 30-day history of 10 vantage points is 14,400 points)."""
    return Response(orjson.dumps(body), media_type="application/json")


def _period(period: str) -> str:
    if period not in history.PERIODS:
        raise BadRequest(f"period: unknown period {period!r}; one of: {', '.join(history.PERIODS)}")
    return period


async def _synced(svc: Services) -> None:
    """Readers see every acknowledged result: apply what waits in the write-ahead log first."""
    await asyncio.wrap_future(svc.writer.sync())


def _stats(vantage: history.VantageHistory) -> dict[str, Any]:
    return {
        "avg_delay": vantage.avg_delay,
        "up_percent": vantage.up_percent,
        "total_up": vantage.total_up,
        "total_down": vantage.total_down,
        "data_points": [
            {"ts": ts, "delay": delay, "status": 0 if downs and not ups else 1}
            for ts, delay, ups, downs in zip(vantage.ts, vantage.delay, vantage.ups, vantage.downs, strict=True)
        ],
    }


@router.get(
    "/api/v1/service",
    summary="Monitors overview (Nezha v1): current up/down, 30 daily buckets, transfer quotas (cycle_transfer_stats)",
)
async def show_services(
    svc: Services = Depends(services),
    principal: Principal = Depends(current_principal),
    probes: ProbeService = Depends(probes_of),
    alerts: AlertService = Depends(alert_service),
) -> dict[str, Any]:
    names = await run_in_threadpool(_server_names, svc, probes, principal)
    today = int(time.time() // DAY_SECONDS)
    states: dict[int, list[State]] = {}
    for status in probes.board.current():
        if status.server_id in names:
            states.setdefault(status.monitor_id, []).append(status.state)
    out: dict[str, Any] = {}
    for monitor in _visible(principal, probes.monitors.all()):
        delay, up, down = probes.board.daily_series(monitor.id, today)
        current = states.get(monitor.id, [])
        out[str(monitor.id)] = {
            "service_name": monitor.name,
            "current_up": sum(1 for s in current if s in (State.UP, State.DEGRADED)),
            "current_down": sum(1 for s in current if s is State.DOWN),
            "total_up": sum(up),
            "total_down": sum(down),
            "delay": delay,
            "up": up,
            "down": down,
        }
    data: dict[str, Any] = {"services": out}
    servers = {sid: name for sid, name in names.items() if sid != HERON_NODE_ID}
    stats = await run_in_threadpool(cycle_transfer_stats, alerts, servers, time.time())
    if stats:  # Nezha leaves the key out when no rule has a quota
        data["cycle_transfer_stats"] = stats
    return {"success": True, "data": data}


@managed.get("/api/v1/service/list", summary="List monitors (Nezha v1's Service fields, with Heron's)")
async def list_services(
    user: Principal = Depends(current_user), probes: ProbeService = Depends(probes_of)
) -> dict[str, Any]:
    monitors = _visible(user, probes.monitors.all())
    items = [service_item(m, manage=allowed(user, Action.UPDATE, m.resource)) for m in monitors]
    return {"success": True, "data": items}


@router.get("/api/v1/service/server", summary="Ids of the servers that run monitors (Nezha v1)")
async def list_servers_with_services(
    svc: Services = Depends(services),
    principal: Principal = Depends(current_principal),
    probes: ProbeService = Depends(probes_of),
) -> dict[str, Any]:
    names = await run_in_threadpool(_server_names, svc, probes, principal)
    monitors = list(probes.monitors.all().values())
    ids = sorted(
        server_id for server_id in names if server_id != HERON_NODE_ID and any(m.covers(server_id) for m in monitors)
    )
    return {"success": True, "data": ids}


@router.get(
    "/api/v1/service/daily",
    summary="Each monitor's up and down checks per UTC day, up to 90 days (uptime bars; Heron)",
    response_model=dict[str, Any],
)
async def daily_uptime(
    days: int = Query(90, ge=1, le=history.MAX_DAILY_DAYS, description="days, today last"),
    svc: Services = Depends(services),
    principal: Principal = Depends(current_principal),
    probes: ProbeService = Depends(probes_of),
) -> Response:
    monitors = _visible(principal, probes.monitors.all())
    await _synced(svc)
    now = time.time()
    found = await run_in_threadpool(
        lambda: history.daily_uptime(
            reader(svc), {m.id: m.created_at.timestamp() for m in monitors}, days=days, now=now
        )
    )
    today = int(now // DAY_SECONDS)
    first = today - days + 1
    out = {}
    for monitor in monitors:
        cells = found.get(monitor.id, {})
        up = [cells.get(day, (0, 0))[0] for day in range(first, today + 1)]
        down = [cells.get(day, (0, 0))[1] for day in range(first, today + 1)]
        out[str(monitor.id)] = {"up": up, "down": down}
    return json_response({"success": True, "data": {"first_day": first * DAY_SECONDS, "days": days, "services": out}})


@admin.get("/api/v1/service/scheduler", summary="The Heron node's check scheduler: lag, missed cycles (admin)")
async def scheduler_stats(
    since_check: int = Query(0, ge=0, description="lag percentiles over the checks started after this one"),
    probes: ProbeService = Depends(probes_of),
) -> dict[str, Any]:
    stats = probes.scheduler.stats.snapshot(since_check=since_check)
    return {"success": True, "data": {**stats, "node": probes.node, "pending_rows_dropped": probes.board.dropped_rows}}


def _check_group(svc: Services, user: Principal, group_id: int) -> None:
    """A monitor's ``notification_group_id`` names a group the caller may use (told when the monitor goes down)."""
    with svc.meta.session() as s:
        group = s.get(NotificationGroup, group_id)
        if group is None:
            raise NotFound(f"notification_group_id: no notification group with id {group_id}")
        require(user, Action.READ, Resource("notification_group", owner_id=group.owner_id))


async def _saved(svc: Services, probes: ProbeService, user: Principal, prepared: MonitorInfo) -> MonitorInfo:
    if prepared.notification_group_id:
        await run_in_threadpool(_check_group, svc, user, prepared.notification_group_id)
    await check_target(prepared, user, private_for_members=svc.settings.probe_private_targets_for_members)
    saved = await run_in_threadpool(probes.monitors.save, prepared)
    await probes.monitors_changed()
    return saved


@managed.post("/api/v1/service", summary="Create a monitor (Nezha v1's ServiceForm); answers its id")
async def create_service(
    body: ServiceForm,
    svc: Services = Depends(services),
    user: Principal = Depends(current_user),
    probes: ProbeService = Depends(probes_of),
) -> dict[str, Any]:
    changes = body.changes()
    for required in ("name", "type"):
        if getattr(body, required) is None:
            raise BadRequest(f"{required}: required to create a monitor")
    if body.target is None and changes.kind not in ("push", 21):
        raise BadRequest("target: required to create a monitor (except a push monitor)")
    prepared = await run_in_threadpool(probes.monitors.prepare, user, changes)
    saved = await _saved(svc, probes, user, prepared)
    return {"success": True, "data": saved.id}


@managed.patch("/api/v1/service/{service_id}", summary="Change a monitor; absent fields stay as they are")
async def update_service(
    service_id: ObjectId,
    body: ServiceForm,
    svc: Services = Depends(services),
    user: Principal = Depends(current_user),
    probes: ProbeService = Depends(probes_of),
) -> dict[str, Any]:
    prepared = await run_in_threadpool(probes.monitors.prepare, user, body.changes(), service_id)
    await _saved(svc, probes, user, prepared)
    return {"success": True, "data": None}


@managed.post("/api/v1/batch-delete/service", summary="Delete monitors (body: a list of ids), owner or admin")
async def delete_services(
    ids: Ids = Body(max_length=MAX_BATCH),
    user: Principal = Depends(current_user),
    probes: ProbeService = Depends(probes_of),
) -> dict[str, Any]:
    gone = await run_in_threadpool(probes.monitors.delete, user, ids)
    await probes.monitors_changed(deleted=gone)
    return {"success": True, "data": None}


@router.get(
    "/api/v1/service/{service_id}/history",
    summary="A monitor's history per vantage point (Nezha v1)",
    response_model=dict[str, Any],
)
async def service_history(
    service_id: ObjectId,
    period: str = Query("1d", description=PERIOD_HELP),
    svc: Services = Depends(services),
    principal: Principal = Depends(current_principal),
    probes: ProbeService = Depends(probes_of),
) -> Response:
    monitor = _monitor_for(probes, principal, service_id)
    require(principal, Action.READ, Resource("history", owner_id=monitor.owner_id, period=_period(period)))
    await _synced(svc)
    names = await run_in_threadpool(_server_names, svc, probes, principal)
    found = await run_in_threadpool(
        lambda: history.history(reader(svc), monitor.id, period, rolled_up_until=probes.board.rolled_up_until)
    )
    servers = [
        {"server_id": server_id, "server_name": names[server_id], "stats": _stats(vantage)}
        for server_id, vantage in sorted(found.items())
        if server_id in names
    ]
    return json_response(
        {"success": True, "data": {"service_id": monitor.id, "service_name": monitor.name, "servers": servers}}
    )


@router.get(
    "/api/v1/service/{service_id}/event", summary="A monitor's latest state changes, newest first (incidents; Heron)"
)
async def service_events(
    service_id: ObjectId,
    limit: int = Query(50, ge=1, le=history.MAX_EVENTS),
    svc: Services = Depends(services),
    principal: Principal = Depends(current_principal),
    probes: ProbeService = Depends(probes_of),
) -> dict[str, Any]:
    monitor = _monitor_for(probes, principal, service_id)
    await _synced(svc)
    names = await run_in_threadpool(_server_names, svc, probes, principal)
    found = await run_in_threadpool(
        history.state_changes, reader(svc), monitor.id, created=monitor.created_at.timestamp(), limit=limit
    )
    return {"success": True, "data": [e for e in found if e["server_id"] in names]}


@router.get("/api/v1/service/{service_id}/server", summary="The vantage points running a monitor, with their state")
async def service_servers(
    service_id: ObjectId,
    svc: Services = Depends(services),
    principal: Principal = Depends(current_principal),
    probes: ProbeService = Depends(probes_of),
) -> dict[str, Any]:
    monitor = _monitor_for(probes, principal, service_id)
    names = await run_in_threadpool(_server_names, svc, probes, principal)
    states = {s.server_id: s for s in probes.board.current(monitor.id)}
    items = []
    for server_id in probes.vantage_ids(monitor):
        if server_id not in names:
            continue
        status = states.get(server_id)
        items.append(
            {
                "server_id": server_id,
                "server_name": names[server_id],
                "state": status.state.value if status else State.PENDING.value,
                "since": status.since if status else None,
                "reason": status.reason if status else "",
                "last_check_at": status.last_at if status else None,
                "delay": status.last_delay_ms if status else None,
                "details": status.last_details if status else {},
            }
        )
    return {"success": True, "data": items}


@router.get("/api/v1/service/{service_id}", summary="One monitor with its states and exact uptime (Heron)")
async def get_service(
    service_id: ObjectId,
    svc: Services = Depends(services),
    principal: Principal = Depends(current_principal),
    probes: ProbeService = Depends(probes_of),
) -> dict[str, Any]:
    monitor = _monitor_for(probes, principal, service_id)
    await _synced(svc)
    uptime = await run_in_threadpool(history.uptime, reader(svc), monitor.id)
    names = await run_in_threadpool(_server_names, svc, probes, principal)
    states = [
        {"server_id": s.server_id, "server_name": names[s.server_id], "state": s.state.value, "since": s.since,
         "reason": s.reason, "last_check_at": s.last_at, "delay": s.last_delay_ms, "details": s.last_details}
        for s in probes.board.current(monitor.id)
        if s.server_id in names
    ]  # fmt: skip
    item = service_item(monitor, manage=allowed(principal, Action.UPDATE, monitor.resource))
    return {"success": True, "data": {**item, "states": states, "uptime": uptime}}


def _order(monitor: MonitorInfo | None, monitor_id: int) -> tuple[int, int]:
    return (-monitor.display_index if monitor else 0, monitor_id)


def service_infos(
    svc: Services, probes: ProbeService, principal: Principal, server_id: int, *, span_seconds: int, bucket_seconds: int
) -> list[dict[str, Any]]:
    """Nezha's ``ServiceInfos`` of every monitor the caller may see, as seen from ``server_id``."""
    names = _server_names(svc, probes, principal)
    if server_id not in names:
        raise NotFound(f"no server with id {server_id}")
    monitors = {m.id: m for m in _visible(principal, probes.monitors.all())}
    found = history.server_history(
        reader(svc),
        server_id,
        span_seconds=span_seconds,
        bucket_seconds=bucket_seconds,
        rolled_up_until=probes.board.rolled_up_until,
    )
    out = []
    for monitor_id, vantage in sorted(found.items(), key=lambda item: _order(monitors.get(item[0]), item[0])):
        monitor = monitors.get(monitor_id)
        if monitor is None:
            continue
        points = [(ts, delay) for ts, delay, ups in zip(vantage.ts, vantage.delay, vantage.ups, strict=True) if ups]
        out.append(
            {
                "monitor_id": monitor.id,
                "server_id": server_id,
                "monitor_name": monitor.name,
                "server_name": names[server_id],
                "display_index": monitor.display_index,
                "created_at": [p[0] for p in points],
                "avg_delay": [p[1] for p in points],
            }
        )
    return out


@router.get(
    "/api/v1/server/{server_id}/service",
    summary="Every monitor's history seen from one server (Nezha v1)",
    response_model=dict[str, Any],
)
async def server_services(
    server_id: ObjectId,
    period: str = Query("1d", description=PERIOD_HELP),
    svc: Services = Depends(services),
    principal: Principal = Depends(current_principal),
    probes: ProbeService = Depends(probes_of),
) -> Response:
    span, bucket = history.PERIODS[_period(period)]
    require(principal, Action.READ, Resource("history", period=period))
    await _synced(svc)
    items = await run_in_threadpool(
        lambda: service_infos(svc, probes, principal, server_id, span_seconds=span, bucket_seconds=bucket)
    )
    return json_response({"success": True, "data": items})
