"""``/api/v1/notification`` and ``/api/v1/notification-group``: Nezha v1's methods and groups.

Creating or changing a method checks it, as Nezha does unless ``skip_check`` is true: a
webhook or apprise method gets a test message, an email method a connection to its SMTP
server (with STARTTLS or implicit TLS and the login, without sending). A failure is a ``422``
naming the field and what the far end said. ``POST /api/v1/notification/{id}/test`` sends a
real test message and answers what the far end said. Secrets are masked in every answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from starlette.concurrency import run_in_threadpool

from heron.alerts.groups import parse_group, public_group
from heron.alerts.methods import Method, parse_method, public_method
from heron.alerts.notifiers import Answer, check_smtp, test_alert
from heron.alerts.service import AlertService
from heron.api.alerts import alert_service
from heron.api.deps import current_user
from heron.api.inventory.servers import Ids
from heron.api.schemas import ObjectId
from heron.auth.permissions import Action
from heron.auth.users import Principal
from heron.core.errors import Unprocessable

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])


class MethodCheckFailed(Unprocessable):
    code = "notification_check_failed"


async def _try(service: AlertService, method: Method) -> Answer:
    return await service.senders.send(method, [test_alert(method)], key=f"test-{method.id}")


async def _check(service: AlertService, method: Method) -> None:
    if method.kind == "email":
        answer = await run_in_threadpool(check_smtp, method)
        where = "smtp_host"
    else:
        answer = await _try(service, method)
        where = "url" if method.kind == "webhook" else "apprise_urls"
    if not answer.ok:
        said = f" (status {answer.status_code})" if answer.status_code else ""
        raise MethodCheckFailed(
            f"{where}: the check failed{said}: {answer.response or 'no answer'}; fix it, or save with skip_check: true"
        )


def _answer(answer: Answer) -> dict[str, Any]:
    return {"delivered": answer.ok, "status_code": answer.status_code, "response": answer.response}


@router.get("/api/v1/notification", summary="List notification methods (secrets masked)")
async def list_methods(
    service: AlertService = Depends(alert_service), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    methods = await run_in_threadpool(service.methods.visible, user)
    return {"success": True, "data": [public_method(m) for m in methods]}


@router.post("/api/v1/notification", summary="Create a notification method (checked unless skip_check); answers its id")
async def create_method(
    body: dict[str, Any] = Body(...),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    method = await run_in_threadpool(parse_method, body)
    if not body.get("skip_check"):
        await _check(service, method)
    saved = await run_in_threadpool(service.methods.create, user, method)
    return {"success": True, "data": saved.id}


@router.patch("/api/v1/notification/{method_id}", summary="Change a notification method (masked values keep theirs)")
async def update_method(
    method_id: ObjectId,
    body: dict[str, Any] = Body(...),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    current = await run_in_threadpool(service.methods.get, user, method_id, Action.UPDATE)
    method = await run_in_threadpool(lambda: parse_method(body, current=current))
    if not body.get("skip_check"):
        await _check(service, method)
    saved = await run_in_threadpool(service.methods.update, user, method)
    return {"success": True, "data": public_method(saved)}


@router.post("/api/v1/batch-delete/notification", summary="Delete notification methods (body: a list of ids)")
async def delete_methods(
    ids: Ids = Body(..., max_length=1000),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    gone = await run_in_threadpool(service.methods.delete, user, list(dict.fromkeys(ids)))
    return {"success": True, "data": gone}


@router.post("/api/v1/notification/{method_id}/test", summary="Send a real test message; answers what the far end said")
async def test_method(
    method_id: ObjectId, service: AlertService = Depends(alert_service), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    method = await run_in_threadpool(service.methods.get, user, method_id, Action.UPDATE)
    return {"success": True, "data": _answer(await _try(service, method))}


@router.get("/api/v1/notification-group", summary="List notification groups with their methods")
async def list_groups(
    service: AlertService = Depends(alert_service), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    groups = await run_in_threadpool(service.groups.visible, user)
    return {"success": True, "data": [public_group(g) for g in groups]}


@router.post("/api/v1/notification-group", summary="Create a notification group; answers its id")
async def create_group(
    body: dict[str, Any] = Body(...),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    group = parse_group(body)
    saved = await run_in_threadpool(service.groups.save, user, group)
    return {"success": True, "data": saved.id}


@router.patch("/api/v1/notification-group/{group_id}", summary="Change a notification group")
async def update_group(
    group_id: ObjectId,
    body: dict[str, Any] = Body(...),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    current = await run_in_threadpool(service.groups.get, user, group_id)
    saved = await run_in_threadpool(service.groups.save, user, parse_group(body, current=current))
    return {"success": True, "data": public_group(saved)}


@router.post("/api/v1/batch-delete/notification-group", summary="Delete notification groups (body: a list of ids)")
async def delete_groups(
    ids: Ids = Body(..., max_length=1000),
    service: AlertService = Depends(alert_service),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    gone = await run_in_threadpool(service.groups.delete, user, list(dict.fromkeys(ids)))
    return {"success": True, "data": gone}
