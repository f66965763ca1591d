"""Push (heartbeat) monitors: a cron job or a backup script calls its monitor's secret URL.

``GET|POST /api/v1/push/{token}`` records a success, or a failure with ``?status=down``
(Uptime Kuma's ``status=up|down``, ``msg=`` and ``ping=`` parameters are accepted as they are);
``/api/v1/push/{token}/start``, ``/fail`` and ``/{exit code}`` are Healthchecks' signals: a
start, then a success measures the job's run time; a non-zero exit code is a failure. No
call within the monitor's period plus its grace turns it down. The token is the credential,
so the route needs no other; an unknown token is a 404.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Query

from heron.api.probes.runtime import probes_of
from heron.core.errors import BadRequest, NotFound
from heron.probes.service import ProbeService

router = APIRouter(tags=["heron"])

MAX_TOKEN_CHARS = 64
MAX_MESSAGE_CHARS = 512


def _signal(signal: str, status: str) -> str:
    if signal in ("", "success"):
        if status not in ("", "up", "down"):
            raise BadRequest(f"status: expected up or down, got {status!r}")
        return "fail" if status == "down" else "success"
    if signal in ("start", "fail"):
        return signal
    if signal.isascii() and signal.isdigit() and int(signal) <= 255:
        return "success" if int(signal) == 0 else "fail"
    raise BadRequest(f"signal: expected start, fail, success or an exit code 0-255, got {signal!r}")


def _push(probes: ProbeService, token: str, signal: str, status: str, msg: str, ping: float | None) -> dict[str, Any]:
    monitor = probes.monitors.by_push_token(token[:MAX_TOKEN_CHARS])
    if monitor is None or not monitor.enabled:
        raise NotFound("no push monitor has this URL (it may have been deleted or disabled)")
    kind = _signal(signal, status)
    message = msg[:MAX_MESSAGE_CHARS]
    if kind == "fail" and signal.isdigit() and not message:
        message = f"the job exited with code {signal}"
    state = probes.push(monitor, signal=kind, message=message, ping_ms=ping, now=time.time())
    return {"success": True, "data": {"monitor_id": monitor.id, "state": state}}


@router.api_route("/api/v1/push/{token}", methods=["GET", "POST"], summary="A push monitor's call: success or failure")
async def push(
    token: str,
    status: str = Query("", description="up (default) or down"),
    msg: str = Query("", description="a message kept with the result"),
    ping: float | None = Query(None, ge=0, le=1e9, description="a duration in ms the job measured"),
    probes: ProbeService = Depends(probes_of),
) -> dict[str, Any]:
    return _push(probes, token, "", status, msg, ping)


@router.api_route(
    "/api/v1/push/{token}/{signal}",
    methods=["GET", "POST"],
    summary="A push monitor's signal: start, success, fail, or the job's exit code",
)
async def push_signal(
    token: str,
    signal: str,
    msg: str = Query("", description="a message kept with the result"),
    ping: float | None = Query(None, ge=0, le=1e9, description="a duration in ms the job measured"),
    probes: ProbeService = Depends(probes_of),
) -> dict[str, Any]:
    return _push(probes, token, signal, "", msg, ping)
