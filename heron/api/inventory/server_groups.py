"""``/api/v1/server-group``: Nezha v1's server groups, listed, created, changed and deleted in batches.

A group has a name, an owner (its creator) and servers. Members see and change their own
groups and may put only their own servers in them; admins see and change every group. Each
group is answered in Nezha v1's shape: ``{"group": {"id", "created_at", "updated_at", "name"},
"servers": [ids]}``, with Heron's ``owner_id`` beside ``name``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from heron.api.deps import current_user, services
from heron.api.inventory.servers import Ids
from heron.api.schemas import ObjectId
from heron.api.services import Services
from heron.auth.users import Principal
from heron.inventory.manage import MAX_BATCH, GroupInfo, Inventory

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])


class ServerGroupForm(BaseModel):
    """Nezha v1's ``ServerGroupForm``; on ``PATCH`` an absent field stays as it is."""

    name: str | None = Field(None, max_length=255)
    servers: Ids | None = Field(None, max_length=MAX_BATCH, description="ids of the group's servers")


def v1_group(group: GroupInfo) -> dict[str, Any]:
    return {
        "group": {
            "id": group.id,
            "created_at": group.created_at.isoformat(),
            "updated_at": group.updated_at.isoformat(),
            "name": group.name,
            "owner_id": group.owner_id,
        },
        "servers": group.servers,
    }


@router.get("/api/v1/server-group", summary="List server groups (yours; every group for admins)")
async def list_groups(svc: Services = Depends(services), user: Principal = Depends(current_user)) -> dict[str, Any]:
    groups = await run_in_threadpool(Inventory(svc.meta).list_groups, user)
    return {"success": True, "data": [v1_group(g) for g in groups]}


@router.post("/api/v1/server-group", summary="Create a server group; answers its id")
async def create_group(
    body: ServerGroupForm, svc: Services = Depends(services), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    group = await run_in_threadpool(Inventory(svc.meta).create_group, user, body.name or "", body.servers or [])
    return {"success": True, "data": group.id}


@router.patch("/api/v1/server-group/{group_id}", summary="Rename a server group or set its servers")
async def update_group(
    group_id: ObjectId,
    body: ServerGroupForm,
    svc: Services = Depends(services),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    group = await run_in_threadpool(Inventory(svc.meta).update_group, user, group_id, body.name, body.servers)
    return {"success": True, "data": v1_group(group)}


@router.post("/api/v1/batch-delete/server-group", summary="Delete server groups (body: a list of ids)")
async def delete_groups(
    ids: Ids = Body(max_length=MAX_BATCH),
    svc: Services = Depends(services),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    gone = await run_in_threadpool(Inventory(svc.meta).delete_groups, user, ids)
    return {"success": True, "data": gone}
