"""``/api/v1/alert-event``: active alerts and history, acknowledgement, and each delivery's tries.

``GET /api/v1/alert-event`` filters by ``state`` (``pending``, ``firing``, ``resolved`` or
``active`` for the first two), ``rule_id``, ``server_id``, ``severity``, ``since``/``until``
(RFC 3339, on the start) and ``query`` (words in the rule name or labels), newest first,
paged with ``offset``/``limit``. ``GET /api/v1/alert-event/{id}/delivery`` lists what the
outbox did for one event: each delivery, its status and every try with the far end's answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from starlette.concurrency import run_in_threadpool

from heron.alerts import events
from heron.alerts.outbox import deliveries_of_event
from heron.alerts.service import AlertService
from heron.api.alerts import alert_service
from heron.api.deps import current_user
from heron.api.inventory.servers import Ids
from heron.api.pagination import Page, page_params, paginate
from heron.api.schemas import MAX_ID, ObjectId
from heron.auth.permissions import Action, Resource, require
from heron.auth.users import Principal

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])


@router.get("/api/v1/alert-stats", summary="Alerting counters: evaluation CPU, active alerts, messages (admins)")
async def alert_stats(
    service: AlertService = Depends(alert_service), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    require(user, Action.READ, Resource("alert_stats"))
    return {"success": True, "data": service.stats()}


@router.get("/api/v1/alert-event", summary="Alert events: active ones and history, filtered and paged")
async def list_events(
    state: str = Query("", description="pending, firing, resolved, active (pending and firing), notice (cron results)"),
    rule_id: int | None = Query(None, ge=1, le=MAX_ID),
    server_id: int | None = Query(None, ge=1, le=MAX_ID),
    severity: str = Query("", max_length=32),
    since: datetime | None = Query(None, description="events that started at or after this time"),
    until: datetime | None = Query(None, description="events that started before this time"),
    query: str = Query("", max_length=256, description="words in the rule name or the labels"),
    page: Page = Depends(page_params),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    f = events.EventFilter(state, rule_id, server_id, severity, since, until, query)
    meta = service.meta

    def run() -> dict[str, Any]:
        return paginate(
            page,
            lambda offset, limit: [
                events.event_json(e) for e in events.page(meta, user, f, offset=offset, limit=limit)
            ],
            lambda: events.count(meta, user, f),
        )

    return {"success": True, "data": await run_in_threadpool(run)}


@router.get("/api/v1/alert-event/{event_id}", summary="One alert event")
async def get_event(
    event_id: ObjectId, service: AlertService = Depends(alert_service), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    row = await run_in_threadpool(events.get, service.meta, user, event_id)
    return {"success": True, "data": events.event_json(row)}


@router.get("/api/v1/alert-event/{event_id}/delivery", summary="The deliveries of one event and every try")
async def list_deliveries(
    event_id: ObjectId, service: AlertService = Depends(alert_service), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    await run_in_threadpool(events.get, service.meta, user, event_id)
    return {"success": True, "data": await run_in_threadpool(deliveries_of_event, service.meta, event_id)}


@router.post("/api/v1/alert-event/ack", summary="Acknowledge events (body: a list of ids); answers how many")
async def acknowledge(
    ids: Ids = Body(..., max_length=1000),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    def run() -> int:
        for event_id in ids:
            events.get(service.meta, user, event_id)
        return service.evaluator.acknowledge(ids, user.username)

    return {"success": True, "data": await run_in_threadpool(run)}
