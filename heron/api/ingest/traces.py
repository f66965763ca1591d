"""Traces in: CnosDB's ``POST /api/v1/traces`` and OTLP/HTTP's ``POST /v1/traces``.

Both take an OTLP ``ExportTraceServiceRequest`` as protobuf (``application/x-protobuf``, the
default) or OTLP/JSON (``application/json``), store one row per span (see
:mod:`heron.protocols.otlp_traces`) and answer as OTLP/HTTP specifies: 200 with an
``ExportTraceServiceResponse`` in the request's encoding, empty when every span was stored,
with ``partial_success`` (how many spans were rejected and why) otherwise. Spans with
conflicting column types are dropped and counted, never the whole request.

* ``/api/v1/traces`` is CnosDB's: user credentials; ``tenant``, ``db`` and ``table`` come from
  request *headers*, as CnosDB's OpenTelemetry example sends them (``table`` is required).
* ``/v1/traces`` is the path every OTLP exporter defaults to: push credentials; the same
  headers are optional (table ``traces``). Its errors are OTLP's too: a ``google.rpc.Status``
  in the request's encoding, so exporters log a readable reason.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from heron.api.deps import current_user, push_principal, services
from heron.api.ingest.batches import checked_table, write_batches
from heron.api.ingest.body import read_body
from heron.api.services import Services
from heron.core.errors import BadRequest, HeronError, Overloaded
from heron.meta.namespaces import DEFAULT_DATABASE, DEFAULT_TENANT
from heron.protocols.otlp_traces import encoding_of, parse_otlp_traces
from heron.protocols.protowire import varint

cnosdb = APIRouter(tags=["cnosdb"], dependencies=[Depends(current_user)])
otlp = APIRouter(tags=["otlp"], dependencies=[Depends(push_principal)])

#: Table of an OTLP export without a ``table`` header.
DEFAULT_TRACES_TABLE = "traces"

_MEDIA = {"json": "application/json", "protobuf": "application/x-protobuf"}
# google.rpc.Code for each status Heron answers (https://grpc.io/docs/guides/status-codes/).
_RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 422: 9, 429: 8}


def _string_field(number: int, text: str) -> bytes:
    data = text.encode()
    return varint(number << 3 | 2) + varint(len(data)) + data


def export_response(encoding: str, *, rejected: int, message: str) -> Response:
    """An ``ExportTraceServiceResponse``: empty on full success, else with ``partial_success``.

    Encoded by hand (two fields) so that JSON keeps OTLP's camelCase and integer form.
    """
    if encoding == "json":
        body = b"{}"
        if rejected:
            body = b'{"partialSuccess":{"rejectedSpans":%d,"errorMessage":%s}}' % (rejected, _json_string(message))
        return Response(body, status_code=200, media_type=_MEDIA["json"])
    payload = b""
    if rejected:
        partial = varint(1 << 3) + varint(rejected) + _string_field(2, message)
        payload = varint(1 << 3 | 2) + varint(len(partial)) + partial
    return Response(payload, status_code=200, media_type=_MEDIA["protobuf"])


def _json_string(text: str) -> bytes:
    return orjson.dumps(text)


def status_response(encoding: str, err: HeronError) -> Response:
    """A ``google.rpc.Status`` with the error's message, as OTLP/HTTP answers failures."""
    code = _RPC_CODES.get(err.status, 13)
    headers = {"Retry-After": str(err.retry_after_seconds)} if isinstance(err, Overloaded) else {}
    if encoding == "json":
        body = b'{"code":%d,"message":%s}' % (code, _json_string(err.message))
    else:
        body = varint(1 << 3) + varint(code) + _string_field(2, err.message)
    return Response(body, status_code=err.status, media_type=_MEDIA[encoding], headers=headers)


async def _export(request: Request, svc: Services, *, tenant: str, database: str, table: str) -> Response:
    checked_table(table, given_in="the 'table' header")
    encoding = encoding_of(request.headers.get("content-type"))
    svc.namespaces.get(tenant, database)
    body = await read_body(request, max_bytes=svc.settings.max_body_bytes)
    parsed = await run_in_threadpool(parse_otlp_traces, body, encoding=encoding, table=table)
    result = await write_batches(svc, tenant=tenant, database=database, batches=[parsed.batch], atomic=False)
    rejected = parsed.rejected + result.dropped
    message = ""
    if parsed.errors:
        message = parsed.errors[0].message
    elif result.conflicts:
        message = result.conflicts[0].message
    return export_response(encoding, rejected=rejected, message=message)


@cnosdb.post("/api/v1/traces", summary="Write OpenTelemetry traces (CnosDB): tenant, db and table from headers")
async def write_traces_cnosdb(request: Request, svc: Services = Depends(services)) -> Response:
    headers = request.headers
    table = headers.get("table", "")
    if not table:
        raise BadRequest("the 'table' header is required: name the table the spans go to")
    return await _export(
        request,
        svc,
        tenant=headers.get("tenant") or DEFAULT_TENANT,
        database=headers.get("db") or DEFAULT_DATABASE,
        table=table,
    )


@otlp.post("/v1/traces", summary="Export traces (OTLP/HTTP): protobuf or JSON")
async def export_traces(request: Request, svc: Services = Depends(services)) -> Response:
    headers = request.headers
    try:
        return await _export(
            request,
            svc,
            tenant=headers.get("tenant") or DEFAULT_TENANT,
            database=headers.get("db") or DEFAULT_DATABASE,
            table=headers.get("table") or DEFAULT_TRACES_TABLE,
        )
    except HeronError as err:
        return status_response(encoding_of(headers.get("content-type")), err)
