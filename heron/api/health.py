"""Liveness answers in each dialect's shape; none needs credentials."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import JSONResponse, Response

from heron import __version__
from heron.api.deps import services
from heron.api.services import Services

cnosdb = APIRouter(tags=["cnosdb"])
influx = APIRouter(tags=["influxdb-v1"])
heron = APIRouter(tags=["health"])


@heron.get("/api/v1/health", summary="Heron's health: the store's backlog and quarantine (no auth)")
async def health_heron(request: Request, svc: Services = Depends(services)) -> JSONResponse:
    """``degraded`` while acknowledged writes cannot be applied (they are kept and retried);
    ``quarantined_records`` counts records the store refused (see ``heron wal inspect``);
    ``admission`` shows how much of the write budget is held, so an operator can tell a 429
    storm from a slow store."""
    store = svc.writer.health()
    status = "healthy" if store["status"] == "ok" else "degraded"
    body: dict[str, object] = {"version": __version__, "status": status, "store": store}
    budget = getattr(request.app.state, "write_budget", None)
    if budget is not None:
        body["admission"] = budget.snapshot()
    return JSONResponse(body)


#: The InfluxDB version Heron's InfluxDB-compatible endpoints announce to clients.
INFLUXDB_COMPAT_VERSION = "1.8.10"


@cnosdb.api_route("/api/v1/ping", methods=["GET", "HEAD"], summary="CnosDB ping (no auth)")
async def ping_cnosdb() -> JSONResponse:
    return JSONResponse({"version": __version__, "status": "healthy"})


def _influx_headers() -> dict[str, str]:
    return {"X-Influxdb-Version": INFLUXDB_COMPAT_VERSION, "X-Influxdb-Build": "OSS", "X-Heron-Version": __version__}


@influx.api_route("/ping", methods=["GET", "HEAD"], status_code=204, summary="InfluxDB ping (no auth)")
async def ping_influx(verbose: bool = Query(False)) -> Response:
    if verbose:
        return JSONResponse({"version": INFLUXDB_COMPAT_VERSION}, headers=_influx_headers())
    return Response(status_code=204, headers=_influx_headers())


@influx.get("/health", summary="InfluxDB health (no auth)")
async def health_influx() -> JSONResponse:
    return JSONResponse(
        {
            "name": "influxdb",
            "message": "ready for queries and writes",
            "status": "pass",
            "checks": [],
            "version": INFLUXDB_COMPAT_VERSION,
            "commit": "heron-" + __version__,
        },
        headers=_influx_headers(),
    )
