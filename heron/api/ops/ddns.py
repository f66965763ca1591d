"""``/api/v1/ddns``: Nezha's DDNS profiles, and ``/api/v1/ddns/providers``.

A server uses profiles through Nezha's server fields ``enable_ddns``, ``ddns_profiles`` and
``override_ddns_domains`` (``PATCH /api/v1/server/{id}``). See :mod:`heron.ops.ddns`.
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
from heron.ops.ddns import MAX_DOMAINS, DdnsForm
from heron.ops.ddns_providers import PROVIDERS

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])
Ids = list[Annotated[int, Field(ge=1, le=MAX_ID)]]


class DdnsIn(BaseModel):
    """Nezha's ``DDNSForm``; ``dns_server``, ``zone`` and ``tsig_algorithm`` are Heron's, for RFC 2136."""

    name: str = Field(max_length=255)
    provider: str = Field(max_length=32, description="webhook, rfc2136 or cloudflare")
    enable_ipv4: bool = False
    enable_ipv6: bool = False
    max_retries: int = Field(3, description="tries per record, 1 to 10")
    domains: list[Annotated[str, Field(max_length=253)]] = Field(default_factory=list, max_length=MAX_DOMAINS)
    access_id: str = Field("", max_length=255, description="RFC 2136: the TSIG key name")
    access_secret: str = Field("", max_length=1024, description="RFC 2136: the TSIG secret; Cloudflare: the API token")
    webhook_url: str = Field("", max_length=2048)
    webhook_method: int = Field(1, description="1 GET, 2 POST, 3 PATCH, 4 DELETE, 5 PUT")
    webhook_request_type: int = Field(1, description="1 JSON, 2 form")
    webhook_request_body: str = Field("", max_length=65536)
    webhook_headers: str = Field("", max_length=65536, description="a JSON object of headers")
    dns_server: str = Field("", max_length=255, description="RFC 2136: the DNS server, host:port")
    zone: str = Field("", max_length=253, description="the zone; found by an SOA query when empty")
    tsig_algorithm: str = Field("hmac-sha256", max_length=32)

    def form(self) -> DdnsForm:
        return DdnsForm(**self.model_dump())


@router.get("/api/v1/ddns/providers", summary="DDNS providers Heron can update")
async def list_ddns_providers() -> dict[str, Any]:
    return {"success": True, "data": list(PROVIDERS)}


@router.get("/api/v1/ddns", summary="List DDNS profiles (secrets masked)")
async def list_ddns(
    page: Page = Depends(page_params), user: Principal = Depends(current_user), state: OpsState = Depends(ops_state)
) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        items = state.ddns.listing(user, offset=page.offset, limit=page.limit)
        return {
            "value": items,
            "pagination": {"offset": page.offset, "limit": page.limit, "total": state.ddns.count(user)},
        }

    return {"success": True, "data": await run_in_threadpool(run)}


@router.post("/api/v1/ddns", summary="Create a DDNS profile; answers its id")
async def create_ddns(
    body: DdnsIn, request: Request, user: Principal = Depends(current_user), state: OpsState = Depends(ops_state)
) -> dict[str, Any]:
    profile_id = await run_in_threadpool(state.ddns.create, user, body.form())
    state.ops.audit.record(actor_of(request, user), "ddns.create", target=f"ddns {profile_id} ({body.provider})")
    return {"success": True, "data": profile_id}


@router.patch("/api/v1/ddns/{ddns_id}", summary="Change a DDNS profile (a masked secret sent back keeps the old one)")
async def update_ddns(
    ddns_id: ObjectId,
    body: DdnsIn,
    request: Request,
    user: Principal = Depends(current_user),
    state: OpsState = Depends(ops_state),
) -> dict[str, Any]:
    await run_in_threadpool(state.ddns.update, user, ddns_id, body.form())
    state.ops.audit.record(actor_of(request, user), "ddns.update_profile", target=f"ddns {ddns_id} ({body.provider})")
    return {"success": True, "data": None}


@router.post("/api/v1/batch-delete/ddns", summary="Delete DDNS profiles (body: a list of ids)")
async def delete_ddns(
    request: Request,
    ids: Ids = Body(max_length=1000),
    user: Principal = Depends(current_user),
    state: OpsState = Depends(ops_state),
) -> dict[str, Any]:
    gone = await run_in_threadpool(state.ddns.delete, user, ids)
    state.ops.audit.record(actor_of(request, user), "ddns.delete", target=",".join(map(str, gone)))
    return {"success": True, "data": gone}
