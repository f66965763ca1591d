"""Line protocol in: CnosDB's ``/api/v1/write`` and InfluxDB's ``/write`` and ``/api/v2/write``.

One service path, three answers. CnosDB is all or nothing (422 for any bad line or type
conflict, 200 with an empty body on success). InfluxDB keeps the valid points and answers
400 "partial write" naming what it dropped, 204 on success.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from heron.api.deps import current_user, services
from heron.api.ingest.batches import write_batches
from heron.api.ingest.body import read_body
from heron.api.services import Services
from heron.auth.users import Principal
from heron.core.errors import BadRequest, NotFound, ParseError
from heron.core.timeprec import precision_to_nanos
from heron.meta.namespaces import DEFAULT_DATABASE, DEFAULT_TENANT
from heron.protocols.line_protocol import LineProtocolResult, parse_line_protocol
from heron.tsdb.writer import WriteResult

cnosdb = APIRouter(tags=["cnosdb"])
influx_v1 = APIRouter(tags=["influxdb-v1"])
influx_v2 = APIRouter(tags=["influxdb-v2"])

_CNOSDB_PRECISIONS = frozenset({"ns", "us", "ms", "s"})
_V2_PRECISIONS = frozenset({"ns", "us", "ms", "s"})


async def _parse(svc: Services, request: Request, precision_nanos: int) -> LineProtocolResult:
    body = await read_body(request, max_bytes=svc.settings.max_body_bytes)
    return await run_in_threadpool(parse_line_protocol, body, precision_nanos=precision_nanos, now_ns=time.time_ns())


@cnosdb.post("/api/v1/write", status_code=200, summary="Write line protocol (CnosDB): all or nothing")
async def write_cnosdb(
    request: Request,
    db: str = Query(DEFAULT_DATABASE, description="database"),
    tenant: str = Query(DEFAULT_TENANT, description="tenant"),
    precision: str | None = Query(None, description="ns (default), us, ms or s"),
    svc: Services = Depends(services),
    _user: Principal = Depends(current_user),
) -> Response:
    nanos = precision_to_nanos(precision, allowed=_CNOSDB_PRECISIONS)
    svc.namespaces.get(tenant, db)
    parsed = await _parse(svc, request, nanos)
    if parsed.errors:
        first = parsed.errors[0]
        more = f" ({parsed.rejected} lines rejected in all; nothing was written)" if parsed.rejected > 1 else ""
        raise ParseError(
            first.reason + more, line=first.line, column=first.column, expected=first.expected, got=first.got
        )
    await write_batches(svc, tenant=tenant, database=db, batches=parsed.batches, atomic=True)
    return Response(status_code=200)


def _partial_message(parsed: LineProtocolResult, result: WriteResult) -> str | None:
    """InfluxDB's "partial write" text, or None when nothing was dropped."""
    dropped = parsed.rejected + result.dropped
    if not dropped:
        return None
    if parsed.errors:
        reason = f"unable to parse: {parsed.errors[0].message}"
    else:
        c = result.conflicts[0]
        reason = (
            f'field type conflict: input field "{c.column}" on measurement "{c.table}" is {c.got}, '
            f"already exists as {c.existing}"
        )
    return f"partial write: {reason} dropped={dropped}"


@influx_v1.post("/write", status_code=204, summary="Write line protocol (InfluxDB 1.x): partial writes")
async def write_influx_v1(
    request: Request,
    db: str = Query("", description="database"),
    rp: str | None = Query(None, description="retention policy (accepted, not used)"),
    precision: str | None = Query(None, description="n/ns, u/us, ms, s, m or h"),
    tenant: str = Query(DEFAULT_TENANT, description="tenant (Heron extension)"),
    svc: Services = Depends(services),
    _user: Principal = Depends(current_user),
) -> Response:
    if not db:
        raise BadRequest("database is required")
    database = db
    nanos = precision_to_nanos(precision)
    if not svc.namespaces.exists(tenant, database):
        raise NotFound(f'database not found: "{database}"')
    parsed = await _parse(svc, request, nanos)
    result = await write_batches(svc, tenant=tenant, database=database, batches=parsed.batches, atomic=False)
    message = _partial_message(parsed, result)
    if message:
        raise BadRequest(message)
    return Response(status_code=204)


@influx_v2.post("/api/v2/write", status_code=204, summary="Write line protocol (InfluxDB 2.x): partial writes")
async def write_influx_v2(
    request: Request,
    bucket: str = Query("", description="bucket: a database name, or database/retention-policy"),
    org: str | None = Query(None, description="organisation (accepted, not used)"),
    precision: str | None = Query(None, description="ns (default), us, ms or s"),
    tenant: str = Query(DEFAULT_TENANT, description="tenant (Heron extension)"),
    svc: Services = Depends(services),
    _user: Principal = Depends(current_user),
) -> Response:
    if not bucket:
        raise BadRequest("bucket is required")
    database = bucket.split("/", 1)[0]
    nanos = precision_to_nanos(precision, allowed=_V2_PRECISIONS)
    if not svc.namespaces.exists(tenant, database):
        raise NotFound(f'bucket "{bucket}" not found')
    parsed = await _parse(svc, request, nanos)
    result = await write_batches(svc, tenant=tenant, database=database, batches=parsed.batches, atomic=False)
    message = _partial_message(parsed, result)
    if message:
        err = parsed.errors[0] if parsed.errors else None
        if err is not None:
            raise ParseError(
                message.replace("partial write: ", f"partial write error ({result.written} written): "),
                line=err.line,
            )
        raise BadRequest(message.replace("partial write: ", f"partial write error ({result.written} written): "))
    return Response(status_code=204)
