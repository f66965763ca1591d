"""Nezha v0's server API: ``GET /api/v1/server/list`` and ``GET /api/v1/server/details``.

The fields, their CamelCase host and status keys and the ``{"code", "message", "result"}``
envelope are the Nezha v0 document's. A server that never reported has ``last_active``
-62135596800 (Go's zero time as Unix seconds) and zeros everywhere, as Nezha answers.
Differences: Heron has no server groups yet, so ``tag`` is empty and ``?tag=`` with a value
matches nothing; ``CountryCode`` is empty (Heron does no GeoIP look-ups).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from heron.api.deps import current_principal, services
from heron.api.inventory.servers import visible_servers
from heron.api.services import Services
from heron.auth.users import Principal
from heron.core.errors import BadRequest
from heron.inventory.view import ServerView

router = APIRouter(tags=["nezha-v0"], dependencies=[Depends(current_principal)])

#: Go's zero ``time.Time`` in Unix seconds: Nezha's "never reported".
NEVER_UNIX = -62135596800
#: Most ids one ``?id=`` may list.
MAX_IDS = 1000


class V0Server(BaseModel):
    id: int
    name: str
    tag: str
    last_active: int
    ipv4: str
    ipv6: str
    valid_ip: str


class V0Host(BaseModel):
    Platform: str
    PlatformVersion: str
    CPU: list[str] | None
    MemTotal: int
    DiskTotal: int
    SwapTotal: int
    Arch: str
    Virtualization: str
    BootTime: int
    CountryCode: str
    Version: str


class V0Status(BaseModel):
    CPU: float
    MemUsed: int
    SwapUsed: int
    DiskUsed: int
    NetInTransfer: int
    NetOutTransfer: int
    NetInSpeed: int
    NetOutSpeed: int
    Uptime: int
    Load1: float
    Load5: float
    Load15: float
    TcpConnCount: int
    UdpConnCount: int
    ProcessCount: int


class V0ServerDetails(V0Server):
    host: V0Host
    status: V0Status


class V0List(BaseModel):
    code: int = 0
    message: str = "success"
    result: list[V0Server]


class V0Details(BaseModel):
    code: int = 0
    message: str = "success"
    result: list[V0ServerDetails]


def _summary(view: ServerView) -> V0Server:
    last = int(view.last_active) if view.last_active else NEVER_UNIX
    return V0Server(
        id=view.info.id,
        name=view.info.name,
        tag="",
        last_active=last,
        ipv4=view.ipv4,
        ipv6=view.ipv6,
        valid_ip=view.ipv4 or view.ipv6,
    )


def _details(view: ServerView) -> V0ServerDetails:
    h = view.host
    host = V0Host(
        Platform=h.get("Platform", ""),
        PlatformVersion=h.get("PlatformVersion", ""),
        CPU=h.get("CPU") or None,
        MemTotal=h.get("MemTotal", 0),
        DiskTotal=h.get("DiskTotal", 0),
        SwapTotal=h.get("SwapTotal", 0),
        Arch=h.get("Arch", ""),
        Virtualization=h.get("Virtualization", ""),
        BootTime=h.get("BootTime", 0),
        CountryCode="",
        Version=h.get("Version", ""),
    )
    status = V0Status.model_validate({key: view.status.get(key, 0) for key in V0Status.model_fields})
    return V0ServerDetails(**_summary(view).model_dump(), host=host, status=status)


def _ids(raw: str) -> set[int]:
    ids = set()
    for part in raw.split(","):
        text = part.strip()
        if not text:
            continue
        if not (text.isascii() and text.isdigit()) or len(text) > 10:
            raise BadRequest(f"id must be server ids separated by commas, got {text!r}")
        ids.add(int(text))
    if len(ids) > MAX_IDS:
        raise BadRequest(f"at most {MAX_IDS} ids per request")
    return ids


def _tagged(views: list[ServerView], tag: str) -> list[ServerView]:
    """Servers in group ``tag``; Heron has no groups yet, so only an empty tag matches."""
    return views if not tag else []


@router.get("/api/v1/server/list", response_model=V0List, summary="Servers (Nezha v0)")
async def list_servers_v0(
    tag: str = Query("", max_length=255, description="server group; empty means all"),
    svc: Services = Depends(services),
    principal: Principal = Depends(current_principal),
) -> V0List:
    views = await run_in_threadpool(visible_servers, svc, principal)
    return V0List(result=[_summary(v) for v in _tagged(views, tag)])


@router.get("/api/v1/server/details", response_model=V0Details, summary="Servers with host and status (Nezha v0)")
async def server_details_v0(
    id: str = Query("", max_length=20_000, description="server ids separated by commas; wins over tag"),
    tag: str = Query("", max_length=255, description="server group; empty means all"),
    svc: Services = Depends(services),
    principal: Principal = Depends(current_principal),
) -> V0Details:
    wanted = _ids(id)
    views = await run_in_threadpool(visible_servers, svc, principal)
    chosen = [v for v in views if v.info.id in wanted] if wanted else _tagged(views, tag)
    return V0Details(result=[_details(v) for v in chosen])
