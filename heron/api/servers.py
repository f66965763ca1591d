"""``GET /api/v1/server``: the inventory in Heron's native envelope (minimal for now)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from heron.api.deps import current_user, services
from heron.api.services import Services
from heron.auth.users import Principal
from heron.inventory.registry import ServerInfo

router = APIRouter(tags=["heron"])


def _server(info: ServerInfo, offline_after_seconds: float) -> dict[str, Any]:
    last = info.last_active.timestamp() if info.last_active else None
    return {
        "id": info.id,
        "name": info.name,
        "source": info.source,
        "created_at": info.created_at.isoformat(),
        "last_active": info.last_active.isoformat() if info.last_active else None,
        "online": last is not None and time.time() - last <= offline_after_seconds,
        "host": {
            "ip": info.host_ip,
            "os": info.os,
            "arch": info.arch,
            "cpu_num": info.cpu_num,
            "agent_version": info.agent_version,
        },
        "clock_offset_ms": info.clock_offset_ms,
        "labels": info.labels,
    }


@router.get("/api/v1/server", summary="List servers")
async def list_servers(svc: Services = Depends(services), _user: Principal = Depends(current_user)) -> dict[str, Any]:
    servers = await run_in_threadpool(svc.hosts.list)
    return {"success": True, "data": [_server(s, svc.settings.host_offline_seconds) for s in servers]}
