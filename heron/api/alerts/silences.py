"""``/api/v1/silence`` and ``/api/v1/maintenance-window``.

A silence takes label ``matchers`` (``{"name", "op", "value"}`` with ``op`` one of ``=``,
``!=``, ``=~``, ``!~``; Alertmanager's ``isRegex``/``isEqual`` form works too), ``starts_at``,
``ends_at`` and a ``comment``. A maintenance window takes a ``cron`` expression for its starts,
``duration_seconds``, a ``timezone`` and the ``server_ids`` and ``server_group_ids`` it covers.
Both stop sending only: the alerts they cover are still recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, Depends
from starlette.concurrency import run_in_threadpool

from heron.alerts.service import AlertService
from heron.alerts.silences import parse_silence, parse_window, public_silence, public_window
from heron.api.alerts import alert_service
from heron.api.deps import current_user
from heron.api.inventory.servers import Ids
from heron.api.schemas import ObjectId
from heron.auth.users import Principal

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])


@router.get("/api/v1/silence", summary="List silences (yours; every one for admins)")
async def list_silences(
    service: AlertService = Depends(alert_service), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    now = datetime.now(UTC)
    found = await run_in_threadpool(service.silences.silences, user)
    return {"success": True, "data": [public_silence(s, now) for s in found]}


@router.post("/api/v1/silence", summary="Create a silence; answers its id")
async def create_silence(
    body: dict[str, Any] = Body(...),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    silence = parse_silence(body, now=datetime.now(UTC))
    saved = await run_in_threadpool(service.silences.add_silence, user, silence)
    service.invalidate()
    return {"success": True, "data": saved.id}


@router.post("/api/v1/batch-delete/silence", summary="Delete silences (body: a list of ids)")
async def delete_silences(
    ids: Ids = Body(..., max_length=1000),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    gone = await run_in_threadpool(service.silences.delete_silences, user, list(dict.fromkeys(ids)))
    service.invalidate()
    return {"success": True, "data": gone}


@router.get("/api/v1/maintenance-window", summary="List maintenance windows")
async def list_windows(
    service: AlertService = Depends(alert_service), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    now = datetime.now(UTC)
    found = await run_in_threadpool(service.silences.windows, user)
    return {"success": True, "data": [public_window(w, now) for w in found]}


@router.post("/api/v1/maintenance-window", summary="Create a recurring maintenance window; answers its id")
async def create_window(
    body: dict[str, Any] = Body(...),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    saved = await run_in_threadpool(service.silences.add_window, user, parse_window(body))
    service.invalidate()
    return {"success": True, "data": saved.id}


@router.patch("/api/v1/maintenance-window/{window_id}", summary="Change a maintenance window (the whole form)")
async def update_window(
    window_id: ObjectId,
    body: dict[str, Any] = Body(...),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    saved = await run_in_threadpool(service.silences.update_window, user, window_id, parse_window(body))
    service.invalidate()
    return {"success": True, "data": public_window(saved, datetime.now(UTC))}


@router.post("/api/v1/batch-delete/maintenance-window", summary="Delete maintenance windows (body: a list of ids)")
async def delete_windows(
    ids: Ids = Body(..., max_length=1000),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    gone = await run_in_threadpool(service.silences.delete_windows, user, list(dict.fromkeys(ids)))
    service.invalidate()
    return {"success": True, "data": gone}
