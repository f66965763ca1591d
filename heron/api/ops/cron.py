"""``/api/v1/cron``: Nezha's cron tasks, their manual trigger, and Heron's run history.

A task runs a command with ``sh -c`` on its servers' agents (those started with
``--allow exec``); each run's output, exit code and duration are kept per server and read
with ``GET /api/v1/cron/{id}/runs``, newest first. See :mod:`heron.ops.cron`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from heron.api.deps import current_user
from heron.api.ops.state import OpsState, actor_of, ops_state
from heron.api.pagination import Page, page_params
from heron.api.schemas import MAX_ID, ObjectId
from heron.auth.users import Principal
from heron.ops.cron import MAX_SERVERS, CronForm

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])

Ids = list[Annotated[int, Field(ge=1, le=MAX_ID)]]


class CronIn(BaseModel):
    """Nezha's ``CronForm``."""

    task_type: int = Field(
        0, description="0: scheduled; 1: run by alert rules (fail_trigger_tasks / recover_trigger_tasks)"
    )
    name: str = Field(max_length=255)
    scheduler: str = Field("", max_length=255, description="cron expression, seconds first: '*/30 * * * * *'")
    command: str = Field("", description="run with sh -c on each server")
    servers: Ids = Field(default_factory=list, max_length=MAX_SERVERS)
    cover: int = Field(0, description="0: the listed servers; 1: all your servers but the listed; 2: the alerting one")
    push_successful: bool = Field(False, description="notify the group of successful runs too")
    notification_group_id: int = Field(0, ge=0, le=2**63 - 1, description="who is told of a failed run")

    def form(self) -> CronForm:
        return CronForm(
            name=self.name,
            task_type=self.task_type,
            scheduler=self.scheduler,
            command=self.command,
            servers=list(self.servers),
            cover=self.cover,
            push_successful=self.push_successful,
            notification_group_id=self.notification_group_id,
        )


@router.get("/api/v1/cron", summary="List cron tasks (yours; everyone's for admins)")
async def list_cron(
    page: Page = Depends(page_params), user: Principal = Depends(current_user), state: OpsState = Depends(ops_state)
) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        items = state.cron.listing(user, offset=page.offset, limit=page.limit)
        return {
            "value": items,
            "pagination": {"offset": page.offset, "limit": page.limit, "total": state.cron.count(user)},
        }

    return {"success": True, "data": await run_in_threadpool(run)}


@router.post("/api/v1/cron", summary="Create a cron task (Nezha's CronForm); answers its id")
async def create_cron(
    body: CronIn, request: Request, user: Principal = Depends(current_user), state: OpsState = Depends(ops_state)
) -> dict[str, Any]:
    task_id = await run_in_threadpool(state.cron.create, user, body.form())
    state.ops.audit.record(actor_of(request, user), "cron.create", target=f"cron {task_id}", command=body.command[:200])
    return {"success": True, "data": task_id}


@router.patch("/api/v1/cron/{cron_id}", summary="Change a cron task (Nezha's CronForm)")
async def update_cron(
    cron_id: ObjectId,
    body: CronIn,
    request: Request,
    user: Principal = Depends(current_user),
    state: OpsState = Depends(ops_state),
) -> dict[str, Any]:
    await run_in_threadpool(state.cron.update, user, cron_id, body.form())
    state.ops.audit.record(actor_of(request, user), "cron.update", target=f"cron {cron_id}", command=body.command[:200])
    return {"success": True, "data": None}


@router.post("/api/v1/cron/{cron_id}/manual", summary="Run a cron task now (results: GET /api/v1/cron/{id}/runs)")
async def trigger_cron(
    cron_id: ObjectId, request: Request, user: Principal = Depends(current_user), state: OpsState = Depends(ops_state)
) -> dict[str, Any]:
    await run_in_threadpool(state.cron.get, user, cron_id)  # exists and is the caller's
    actor = actor_of(request, user)
    state.ops.audit.record(actor, "cron.manual", target=f"cron {cron_id}")
    task = asyncio.create_task(state.cron.run_task(cron_id, trigger="manual", actor=actor))
    state.tasks.append(task)
    task.add_done_callback(state.tasks.remove)
    return {"success": True, "data": None}


@router.post("/api/v1/batch-delete/cron", summary="Delete cron tasks (body: a list of ids)")
async def delete_cron(
    request: Request,
    ids: Ids = Body(max_length=1000),
    user: Principal = Depends(current_user),
    state: OpsState = Depends(ops_state),
) -> dict[str, Any]:
    gone = await run_in_threadpool(state.cron.delete, user, ids)
    state.ops.audit.record(actor_of(request, user), "cron.delete", target=",".join(map(str, gone)))
    return {"success": True, "data": gone}


@router.get(
    "/api/v1/cron/{cron_id}/runs", summary="A task's runs per server, newest first: output, exit code, duration"
)
async def list_cron_runs(
    cron_id: ObjectId,
    page: Page = Depends(page_params),
    user: Principal = Depends(current_user),
    state: OpsState = Depends(ops_state),
) -> dict[str, Any]:
    items, total = await run_in_threadpool(lambda: state.cron.runs(user, cron_id, offset=page.offset, limit=page.limit))
    return {
        "success": True,
        "data": {"value": items, "pagination": {"offset": page.offset, "limit": page.limit, "total": total}},
    }
