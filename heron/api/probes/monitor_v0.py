"""Nezha v0's ``GET /api/v1/monitor/{server_id}``: each monitor's last 24 hours seen from one server.

The seed's shape: ``{"code": 0, "message": "success", "result": [{"monitor_id", "server_id",
"monitor_name", "server_name", "created_at": [ms, ...], "avg_delay": [...]}]}``, one point a
minute (Nezha v0 kept minute averages) where the monitor had a successful check. Public,
like Nezha's, except for servers hidden from guests (and with ``force_auth`` on).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Response
from starlette.concurrency import run_in_threadpool

from heron.api.deps import current_principal, services
from heron.api.probes.runtime import probes_of
from heron.api.probes.services import json_response, service_infos
from heron.api.schemas import ObjectId
from heron.api.services import Services
from heron.auth.users import Principal
from heron.probes.service import ProbeService

router = APIRouter(tags=["nezha-v0"], dependencies=[Depends(current_principal)])

DAY_SECONDS = 86_400
MINUTE_SECONDS = 60


@router.get(
    "/api/v1/monitor/{server_id}",
    summary="ICMP, TCP and other monitors seen from a server, 24 h (Nezha v0)",
    response_model=dict[str, Any],
)
async def server_monitors_v0(
    server_id: ObjectId,
    svc: Services = Depends(services),
    principal: Principal = Depends(current_principal),
    probes: ProbeService = Depends(probes_of),
) -> Response:
    await asyncio.wrap_future(svc.writer.sync())
    items = await run_in_threadpool(
        lambda: service_infos(
            svc, probes, principal, server_id, span_seconds=DAY_SECONDS, bucket_seconds=MINUTE_SECONDS
        )
    )
    result = [{k: v for k, v in item.items() if k != "display_index"} for item in items]
    return json_response({"code": 0, "message": "success", "result": result})
