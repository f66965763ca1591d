"""openITCOCKPIT's hosts: ``POST /hosts/add.json`` and ``GET /hosts/index.json``.

``/hosts/add.json`` takes the body of openITCOCKPIT's API example (``{"Host": {...}}``) and
creates a server owned by the caller: ``name`` is the server's name, ``address`` its
``host_ip``, ``description`` its private note. The fields that configure Nagios-style checks
(``container_id``, ``hosttemplate_id``, ``notification_interval``, ``check_interval``,
``retry_interval``, ``Hostgroup``, ``Contact``, ...) have no meaning in Heron: they are
accepted and ignored. The answer is openITCOCKPIT's ``{"id": N}``.

``/hosts/index.json`` lists the servers the caller may read, in ``all_hosts`` entries of
``Host`` and ``Hoststatus``, with the paginator block (default) or, with ``scroll=true``, the
scroll block and no count query (:func:`heron.api.pagination.paginate_oitc`).
``Hoststatus.currentState`` is 0 (up) while the server is online and 1 (down) otherwise.
Authentication is any Heron credential, usually ``Authorization: X-OITC-API <key>``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from heron.api.deps import current_user, services
from heron.api.pagination import OitcPage, Paging, Scroll, oitc_params, paginate_oitc
from heron.api.services import Services
from heron.auth.permissions import Action, Resource, require
from heron.auth.users import Principal
from heron.inventory import records
from heron.inventory.registry import MAX_NAME_CHARS, ServerInfo
from heron.inventory.view import view_of

router = APIRouter(tags=["oitc"], dependencies=[Depends(current_user)])


class OitcHostIn(BaseModel):
    """The ``Host`` object of openITCOCKPIT's example; unknown fields are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    address: str = Field("", max_length=64)
    description: str | None = Field(None, max_length=records.MAX_NOTE_CHARS)


class OitcHostAdd(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Host: OitcHostIn


class OitcCreated(BaseModel):
    id: int


class OitcHost(BaseModel):
    id: int
    uuid: str
    name: str
    address: str
    description: str
    container_id: int
    hosttemplate_id: int
    disabled: bool
    allow_edit: bool
    created: datetime
    modified: datetime | None


class OitcHoststatus(BaseModel):
    currentState: int = Field(description="0 up (online), 1 down (offline)")
    humanState: str
    isHardstate: bool
    lastCheck: datetime | None
    output: str


class OitcHostEntry(BaseModel):
    Host: OitcHost
    Hoststatus: OitcHoststatus


class OitcHostsIndex(BaseModel):
    all_hosts: list[OitcHostEntry]
    paging: Paging | None = None
    scroll: Scroll | None = None


@router.post("/hosts/add.json", summary="Create a host from openITCOCKPIT's body (openITCOCKPIT)")
async def oitc_add_host(
    body: OitcHostAdd, svc: Services = Depends(services), user: Principal = Depends(current_user)
) -> OitcCreated:
    require(user, Action.CREATE, Resource("server"))
    host = body.Host
    info = await run_in_threadpool(
        records.create,
        svc.meta,
        name=host.name,
        host_ip=host.address.strip(),
        note=host.description or "",
        owner_id=user.user_id,
    )
    return OitcCreated(id=info.id)


def _entry(svc: Services, info: ServerInfo, now: float) -> dict[str, Any]:
    view = view_of(info, svc.live.get(info.id), now=now, offline_after_seconds=svc.settings.host_offline_seconds)
    last = datetime.fromtimestamp(view.last_active, UTC) if view.last_active else None
    return {
        "Host": {
            "id": info.id,
            "uuid": info.agent_id or "",
            "name": info.name,
            "address": info.host_ip or view.ipv4 or view.ipv6,
            "description": info.note,
            "container_id": 1,
            "hosttemplate_id": 0,
            "disabled": False,
            "allow_edit": True,
            "created": info.created_at,
            "modified": last,
        },
        "Hoststatus": {
            "currentState": 0 if view.online else 1,
            "humanState": "up" if view.online else "down",
            "isHardstate": True,
            "lastCheck": last,
            "output": "online" if view.online else ("never reported" if last is None else "offline"),
        },
    }


@router.get(
    "/hosts/index.json",
    summary="Hosts, in paginator mode or with scroll=true (openITCOCKPIT)",
    response_model_exclude_unset=True,
)
async def oitc_hosts_index(
    page: OitcPage = Depends(oitc_params),
    name: str = Query("", alias="filter[Hosts.name]", max_length=MAX_NAME_CHARS, description="part of the name"),
    svc: Services = Depends(services),
    user: Principal = Depends(current_user),
) -> OitcHostsIndex:
    now = time.time()

    def fetch(offset: int, limit: int) -> list[dict[str, Any]]:
        infos = records.page(svc.meta, user, offset=offset, limit=limit, name_like=name)
        return [_entry(svc, i, now) for i in infos]

    rows, block = await run_in_threadpool(
        paginate_oitc, page, fetch, lambda: records.count(svc.meta, user, name_like=name)
    )
    return OitcHostsIndex.model_validate({"all_hosts": rows, **block})
