"""``/api/v1/nat``: Nezha's NAT profiles (``NATForm``: ``name``, ``enabled``, ``server_id``, ``host``, ``domain``).

The traffic itself is :mod:`heron.api.ops.nat_ingress`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from heron.api.deps import current_user
from heron.api.ops.state import OpsState, actor_of, ops_state
from heron.api.pagination import Page, page_params
from heron.api.schemas import MAX_ID, ObjectId
from heron.auth.users import Principal
from heron.ops.nat import NatForm

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])
Ids = list[Annotated[int, Field(ge=1, le=MAX_ID)]]


class NatIn(BaseModel):
    name: str = Field(max_length=255)
    enabled: bool = False
    server_id: int = Field(ge=1, le=MAX_ID)
    host: str = Field(max_length=300, description="name:port on the server's network, e.g. 127.0.0.1:8080")
    domain: str = Field(max_length=253, description="requests to Heron with this Host go to host through the agent")

    def form(self) -> NatForm:
        return NatForm(self.name, self.enabled, self.server_id, self.host, self.domain)


@router.get("/api/v1/nat", summary="List NAT profiles (yours; everyone's for admins)")
async def list_nat(
    page: Page = Depends(page_params), user: Principal = Depends(current_user), state: OpsState = Depends(ops_state)
) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        items = state.nat.listing(user, offset=page.offset, limit=page.limit)
        return {
            "value": items,
            "pagination": {"offset": page.offset, "limit": page.limit, "total": state.nat.count(user)},
        }

    return {"success": True, "data": await run_in_threadpool(run)}


@router.post("/api/v1/nat", summary="Create a NAT profile; answers its id")
async def create_nat(
    body: NatIn, request: Request, user: Principal = Depends(current_user), state: OpsState = Depends(ops_state)
) -> dict[str, Any]:
    route_id = await run_in_threadpool(
        lambda: state.nat.create(user, body.form(), request_host=request.headers.get("host", ""))
    )
    state.ops.audit.record(
        actor_of(request, user), "nat.create", server_id=body.server_id, target=f"{body.domain} -> {body.host}"
    )
    return {"success": True, "data": route_id}


@router.patch("/api/v1/nat/{nat_id}", summary="Change a NAT profile")
async def update_nat(
    nat_id: ObjectId,
    body: NatIn,
    request: Request,
    user: Principal = Depends(current_user),
    state: OpsState = Depends(ops_state),
) -> dict[str, Any]:
    await run_in_threadpool(
        lambda: state.nat.update(user, nat_id, body.form(), request_host=request.headers.get("host", ""))
    )
    state.ops.audit.record(
        actor_of(request, user), "nat.update", server_id=body.server_id, target=f"{body.domain} -> {body.host}"
    )
    return {"success": True, "data": None}


@router.post("/api/v1/batch-delete/nat", summary="Delete NAT profiles (body: a list of ids)")
async def delete_nat(
    request: Request,
    ids: Ids = Body(max_length=1000),
    user: Principal = Depends(current_user),
    state: OpsState = Depends(ops_state),
) -> dict[str, Any]:
    gone = await run_in_threadpool(state.nat.delete, user, ids)
    state.ops.audit.record(actor_of(request, user), "nat.delete", target=",".join(map(str, gone)))
    return {"success": True, "data": gone}
