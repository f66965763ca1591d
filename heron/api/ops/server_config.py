"""An agent's settings, read and changed remotely; what "force update" means for a pip-installed agent.

``GET /api/v1/server/config/{id}`` asks the agent for its settings (allowed capabilities,
served directories, interval, disabled collectors). ``POST /api/v1/server/config`` (Nezha's
``ServerConfigForm``: ``servers`` and ``config``, a JSON text) changes the interval and the
disabled collectors, and may narrow ``allow``; the agent refuses a wider one, and writes a
change back to its config file. The answer is Nezha's ``ServerTaskResponse``: ids that
took it (``success``), refused it (``failure``) or are offline (``offline``).

``POST /api/v1/force-update/server`` cannot replace an agent's code: Heron's agent is a pip
package, upgraded with pip by its owner. It answers each server's agent version instead.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from heron import __version__
from heron.api.deps import current_user
from heron.api.ops.state import OpsState, actor_of, ops_state
from heron.api.schemas import MAX_ID, ObjectId
from heron.auth.users import Principal
from heron.core.errors import BadRequest, HeronError
from heron.ops.errors import ServerOffline

router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])
Ids = list[Annotated[int, Field(ge=1, le=MAX_ID)]]
CONFIG_TIMEOUT_SECONDS = 15.0
CHANGEABLE = ("allow", "interval", "disabled_collectors")


class ServerConfigIn(BaseModel):
    """Nezha's ``ServerConfigForm``."""

    servers: Ids = Field(max_length=1000)
    config: str = Field(max_length=65536, description='JSON text, e.g. {"interval": 5, "allow": ["exec"]}')


@router.get("/api/v1/server/config/{server_id}", summary="Read an agent's settings (asks the agent)")
async def get_server_config(
    server_id: ObjectId, request: Request, user: Principal = Depends(current_user), state: OpsState = Depends(ops_state)
) -> dict[str, Any]:
    info = await run_in_threadpool(state.ops.server_for, user, server_id)
    link = state.ops.link_for(info, None)
    config = await link.call("config.get", {}, timeout_seconds=CONFIG_TIMEOUT_SECONDS)
    return {"success": True, "data": orjson.dumps(config).decode()}


@router.post("/api/v1/server/config", summary="Change agents' settings (Nezha's ServerConfigForm)")
async def set_server_config(
    body: ServerConfigIn,
    request: Request,
    user: Principal = Depends(current_user),
    state: OpsState = Depends(ops_state),
) -> dict[str, Any]:
    try:
        changes = orjson.loads(body.config)
    except orjson.JSONDecodeError:
        raise BadRequest("config: expected a JSON object as text") from None
    if not isinstance(changes, dict):
        raise BadRequest("config: expected a JSON object as text")
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise BadRequest(f"config: {unknown[0]!r} cannot be changed remotely; these can: {', '.join(CHANGEABLE)}")
    actor = actor_of(request, user)
    answer: dict[str, list[int]] = {"success": [], "failure": [], "offline": []}
    errors: dict[int, str] = {}
    for server_id in dict.fromkeys(body.servers):
        info = await run_in_threadpool(partial(state.ops.server_for, user, server_id, field="servers"))
        try:
            link = state.ops.link_for(info, None)
            await link.call("config.set", {"config": changes}, timeout_seconds=CONFIG_TIMEOUT_SECONDS)
        except ServerOffline:
            answer["offline"].append(info.id)
            outcome, error = "offline", "the agent is not connected"
        except HeronError as exc:
            answer["failure"].append(info.id)
            errors[info.id] = exc.message
            outcome, error = "refused", exc.message
        else:
            answer["success"].append(info.id)
            outcome, error = "ok", ""
        state.ops.audit.record(
            actor, "server.config", server_id=info.id, target=info.name, outcome=outcome, changes=changes, error=error
        )
    return {"success": True, "data": {**answer, "errors": {str(k): v for k, v in errors.items()}}}


@router.post(
    "/api/v1/force-update/server",
    summary="Report agent versions: a pip-installed agent is upgraded by its owner, never replaced remotely",
)
async def force_update_servers(
    request: Request,
    ids: Ids = Body(max_length=1000),
    user: Principal = Depends(current_user),
    state: OpsState = Depends(ops_state),
) -> dict[str, Any]:
    servers = []
    for server_id in dict.fromkeys(ids):
        info = await run_in_threadpool(state.ops.server_for, user, server_id)
        online = state.ops.hub.get(info.id) is not None
        version = str(info.host.get("Version", "")) or info.agent_version
        servers.append(
            {"id": info.id, "name": info.name, "online": online, "version": version, "current": version == __version__}
        )
    state.ops.audit.record(actor_of(request, user), "server.force_update", target=",".join(str(i) for i in ids))
    return {
        "success": True,
        "data": {
            "server_version": __version__,
            "servers": servers,
            "how_to_update": f"on each server: pip install --upgrade 'heron=={__version__}', then restart heron agent",
        },
    }
