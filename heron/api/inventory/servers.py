"""``GET /api/v1/server``: the inventory in Nezha v1's shape and Heron's native envelope.

Each server carries Nezha v1's fields (``id``, ``name``, ``uuid``, ``note``, ``public_note``,
``display_index``, ``hide_for_guest``, ``host``, ``state``, ``geoip``, ``last_active``) and
Heron's (``online``, ``source``, ``labels``, ``clock_offset_ms``, ``created_at``). Who sees
which server is :func:`heron.auth.permissions.visible`'s decision: admins all, members their
own, guests those not hidden from guests. The private ``note`` is shown only to those who may
change the server. A server that never reported has ``last_active`` at Go's zero time, as
Nezha answers. The list is answered from a snapshot shared by all readers
(:mod:`heron.api.inventory.server_list`): edits show at once, live state up to about a second late.

Creating a server before its agent runs (``POST /api/v1/server``, answered with the agent
secret, shown once; ``POST /api/v1/server/{id}/secret`` replaces it) and changing servers
need an account: ``PATCH /api/v1/server/{id}`` and
``POST /api/v1/batch-delete/server`` for the owner or an admin, ``POST /api/v1/batch-move/server``
(another owner) for admins. Server groups are in :mod:`heron.api.inventory.server_groups`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from heron.api.deps import current_principal, current_user, require_admin, services
from heron.api.inventory.server_list import ServerListing, server_resource
from heron.api.ops.state import ops_state
from heron.api.schemas import MAX_ID, ObjectId
from heron.api.services import Services
from heron.auth.permissions import visible
from heron.auth.tokens import hash_secret
from heron.auth.users import Principal
from heron.inventory.manage import MAX_BATCH, Inventory, ServerChanges
from heron.inventory.registry import ServerInfo, new_server_secret
from heron.inventory.view import ServerView, server_views, view_of

router = APIRouter(tags=["heron"], dependencies=[Depends(current_principal)])
#: Changes: owners and admins (each server is checked with ``require``).
managed = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])
#: Moving servers between users: admins.
admin = APIRouter(tags=["heron"], dependencies=[Depends(require_admin)])

#: A list of record ids as bodies carry them (ids are 32-bit in PostgreSQL).
Ids = list[Annotated[int, Field(ge=1, le=MAX_ID)]]

#: How Nezha v1 (Go's zero ``time.Time``) writes "never".
NEVER_RFC3339 = "0001-01-01T00:00:00Z"

#: Nezha v1's snake_case name of each host key.
_V1_HOST = {
    "Platform": "platform",
    "PlatformVersion": "platform_version",
    "CPU": "cpu",
    "MemTotal": "mem_total",
    "DiskTotal": "disk_total",
    "SwapTotal": "swap_total",
    "Arch": "arch",
    "Virtualization": "virtualization",
    "BootTime": "boot_time",
    "Version": "version",
    "GPU": "gpu",
}
#: Nezha v1's snake_case name of each status key.
_V1_STATE = {
    "CPU": "cpu",
    "MemUsed": "mem_used",
    "SwapUsed": "swap_used",
    "DiskUsed": "disk_used",
    "NetInTransfer": "net_in_transfer",
    "NetOutTransfer": "net_out_transfer",
    "NetInSpeed": "net_in_speed",
    "NetOutSpeed": "net_out_speed",
    "Uptime": "uptime",
    "Load1": "load_1",
    "Load5": "load_5",
    "Load15": "load_15",
    "TcpConnCount": "tcp_conn_count",
    "UdpConnCount": "udp_conn_count",
    "ProcessCount": "process_count",
    "GPU": "gpu",
}


def server_listing(request: Request) -> ServerListing:
    listing: ServerListing = request.app.state.server_listing
    return listing


def visible_servers(svc: Services, principal: Principal) -> list[ServerView]:
    """Every server ``principal`` may read, merged with its live state, in display order."""
    infos = svc.hosts.list()
    views = server_views(infos, svc.live, now=time.time(), offline_after_seconds=svc.settings.host_offline_seconds)
    return visible(principal, views, server_resource)


def _rfc3339(seconds: float | None) -> str:
    if not seconds:
        return NEVER_RFC3339
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def v1_server(view: ServerView, *, show_note: bool) -> dict[str, Any]:
    """One server in Nezha v1's field names, with Heron's additions."""
    info = view.info
    state = {v1: view.status.get(key, 0) for key, v1 in _V1_STATE.items()}
    state["temperatures"] = [
        {"Name": t["Name"], "Temperature": t["Temperature"]} for t in view.status.get("Temperatures", [])
    ]
    return {
        "id": info.id,
        "name": info.name,
        "uuid": info.agent_id or "",
        "note": info.note if show_note else "",
        "public_note": info.public_note,
        "display_index": info.display_index,
        "hide_for_guest": info.hidden_for_guest,
        "host": {v1: view.host.get(key) for key, v1 in _V1_HOST.items()},
        "state": state,
        "geoip": {"ip": {"ipv4_addr": view.ipv4, "ipv6_addr": view.ipv6}, "country_code": ""},
        "last_active": _rfc3339(view.last_active),
        "online": view.online,
        "source": info.source,
        "labels": info.labels,
        "clock_offset_ms": info.clock_offset_ms,
        "created_at": info.created_at.isoformat(),
    }


@router.get(
    "/api/v1/server",
    summary="List servers (Nezha v1's fields), with live state",
    response_model=dict[str, Any],
)
async def list_servers(
    listing: ServerListing = Depends(server_listing), principal: Principal = Depends(current_principal)
) -> Response:
    part = await listing.part(principal)
    return Response(part.body, media_type="application/json")


class ServerForm(BaseModel):
    """Nezha v1's ``ServerForm`` (the fields Heron keeps), plus the server's groups; absent fields stay."""

    name: str | None = Field(None, max_length=255)
    note: str | None = Field(None, max_length=4096, description="private: shown to those who may change the server")
    public_note: str | None = Field(None, max_length=4096)
    display_index: int | None = Field(None, ge=-MAX_ID, le=MAX_ID, description="higher first")
    hide_for_guest: bool | None = None
    server_groups: Ids | None = Field(None, max_length=MAX_BATCH, description="ids of the groups it belongs to")
    # DDNS (remote operations): kept by heron.ops.ddns, not in the servers table.
    enable_ddns: bool | None = Field(None, description="update DNS records when the address changes")
    ddns_profiles: Ids | None = Field(None, max_length=100, description="ids of the DDNS profiles it uses")
    override_ddns_domains: dict[str, list[Annotated[str, Field(max_length=253)]]] | None = Field(
        None, description="per profile id, domains used instead of the profile's"
    )


#: ServerForm fields that belong to DDNS rather than to the server record.
DDNS_FIELDS = {"enable_ddns", "ddns_profiles", "override_ddns_domains"}


class BatchMoveForm(BaseModel):
    """Nezha v1's ``BatchMoveServerForm``."""

    ids: Ids = Field(max_length=MAX_BATCH)
    to_user: int = Field(ge=1, le=MAX_ID)


def current_view(svc: Services, info: ServerInfo) -> ServerView:
    """One stored server merged with its live state as of now."""
    return view_of(
        info, svc.live.get(info.id), now=time.time(), offline_after_seconds=svc.settings.host_offline_seconds
    )


def _with_secret(svc: Services, info: ServerInfo, secret: str) -> dict[str, Any]:
    return {"success": True, "data": {**v1_server(current_view(svc, info), show_note=True), "secret": secret}}


@managed.post(
    "/api/v1/server",
    summary="Create a server before its agent runs; answers it with the agent secret (shown once)",
)
async def create_server(
    body: ServerForm, svc: Services = Depends(services), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    """The caller owns the new server; ``heron agent --secret <secret>`` then reports as it."""
    secret = new_server_secret()
    changes = ServerChanges(**body.model_dump(exclude=DDNS_FIELDS))
    info = await run_in_threadpool(Inventory(svc.meta).create_server, user, changes, secret_hash=hash_secret(secret))
    return _with_secret(svc, info, secret)


@managed.post(
    "/api/v1/server/{server_id}/secret",
    summary="Replace a server's agent secret (the old one stops working); answers the new one once",
)
async def replace_server_secret(
    server_id: ObjectId, svc: Services = Depends(services), user: Principal = Depends(current_user)
) -> dict[str, Any]:
    secret = new_server_secret()
    info = await run_in_threadpool(
        lambda: Inventory(svc.meta).set_secret(user, server_id, secret_hash=hash_secret(secret))
    )
    return _with_secret(svc, info, secret)


@managed.patch("/api/v1/server/{server_id}", summary="Change a server (Nezha v1's ServerForm), owner or admin")
async def update_server(
    server_id: ObjectId,
    body: ServerForm,
    request: Request,
    svc: Services = Depends(services),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    changes = ServerChanges(**body.model_dump(exclude=DDNS_FIELDS))
    old_name, info = await run_in_threadpool(Inventory(svc.meta).update_server, user, server_id, changes)
    if info.name != old_name:
        svc.live.rename(info.id, info.name)
        svc.hosts.discard([old_name])
    data = v1_server(current_view(svc, info), show_note=True)
    ddns = body.model_dump(include=DDNS_FIELDS, exclude_none=True)
    if ddns:
        data.update(await run_in_threadpool(ops_state(request).ddns.link_server, user, server_id, ddns))
    return {"success": True, "data": data}


@managed.post("/api/v1/batch-delete/server", summary="Delete servers (body: a list of ids), owner or admin")
async def delete_servers(
    ids: Ids = Body(max_length=MAX_BATCH),
    svc: Services = Depends(services),
    user: Principal = Depends(current_user),
) -> dict[str, Any]:
    gone = await run_in_threadpool(Inventory(svc.meta).delete_servers, user, ids)
    for info in gone:
        svc.live.forget(info.id)
    svc.hosts.discard([info.name for info in gone])
    return {"success": True, "data": [info.id for info in gone]}


@admin.post("/api/v1/batch-move/server", summary="Give servers to another user (admin)")
async def move_servers(
    body: BatchMoveForm, svc: Services = Depends(services), user: Principal = Depends(require_admin)
) -> dict[str, Any]:
    moved = await run_in_threadpool(Inventory(svc.meta).move_servers, user, body.ids, body.to_user)
    return {"success": True, "data": moved}
