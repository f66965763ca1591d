"""Logs in: CnosDB's ``/api/v1/es/_bulk``, the Elasticsearch handshake shippers make first, and Loki's push.

* ``POST /api/v1/es/_bulk?table=&log_type=bulk|ndjson|loki`` (CnosDB). The bulk form answers
  like Elasticsearch: 200 with ``took``/``errors``/``items``, one item per action, documents
  that cannot be stored failing their own item only. The NDJSON and Loki forms follow CnosDB's
  write rule, all or nothing: any bad document or type conflict is a 422 and nothing is written.
* ``GET|HEAD /api/v1/es`` and the probes under it answer what Vector, Filebeat and Fluent Bit
  check before they send (a root with an 8.x version, ``_license``, ``_xpack``, cluster health,
  nodes, index and component templates, ILM policies, aliases). Templates and policies are
  accepted and ignored: tables get their columns as documents arrive, and retention is the
  database's TTL. Point a shipper at ``http://host:8902/api/v1/es``: without ``?table=`` a
  bulk action's ``_index`` (or the index in ``/api/v1/es/<index>/_bulk``) names its table.
  Bulk takes POST and PUT, as Elasticsearch does (``elasticsearch-py`` 8 sends PUT).
* ``POST /loki/api/v1/push`` (Loki, push credentials): JSON or snappy protobuf; 204 when
  every entry was stored; like Loki, the valid entries are kept and a 400 names the first
  problem and how many entries were ignored.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import Iterable
from typing import Any

import orjson
import pyarrow.compute as pc
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from heron import __version__
from heron.api.deps import current_user, push_principal, services
from heron.api.ingest.batches import checked_table, write_batches
from heron.api.ingest.body import read_body
from heron.api.services import Services
from heron.core.batch import Batch
from heron.core.errors import BadRequest, ParseError, TypeConflict
from heron.meta.namespaces import DEFAULT_DATABASE, DEFAULT_TENANT
from heron.protocols.logs import LogsResult, parse_es_bulk, parse_ndjson
from heron.protocols.loki import parse_loki_json, parse_loki_push
from heron.tsdb.writer import WriteResult

cnosdb = APIRouter(tags=["cnosdb"], dependencies=[Depends(current_user)])
elasticsearch = APIRouter(tags=["elasticsearch"], dependencies=[Depends(current_user)])
loki = APIRouter(tags=["loki"], dependencies=[Depends(push_principal)])

#: The Elasticsearch version the handshake announces: 8.x passes the version checks of
#: Vector (``api_version: auto``), Filebeat 8 and Fluent Bit.
ES_COMPAT_VERSION = "8.17.0"
#: Table of a Loki push without ``?table=``.
DEFAULT_LOKI_TABLE = "logs"
LOG_TYPES = ("bulk", "ndjson", "loki")

_ES_BASE = "/api/v1/es"
_ES_HEADERS = {"X-Elastic-Product": "Elasticsearch"}  # checked by Elastic's own clients since 7.14
_CLUSTER = "heron"
_CLUSTER_UUID = "aGVyb24taGVyb24taGVyb2"


def _es_json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=_ES_HEADERS)


# --- the bulk route ----------------------------------------------------------------------


@cnosdb.api_route(
    f"{_ES_BASE}/_bulk", methods=["POST", "PUT"], summary="Write logs: Elasticsearch bulk, NDJSON or Loki JSON (CnosDB)"
)
@cnosdb.api_route(
    f"{_ES_BASE}/{{index}}/_bulk",
    methods=["POST", "PUT"],
    summary="Write logs: Elasticsearch bulk with a default index (the table of actions without _index)",
)
async def write_logs(
    request: Request,
    table: str = Query("", description="table the logs are written to (bulk: else each action's _index)"),
    log_type: str = Query("bulk", description="bulk (default), ndjson or loki"),
    time_column: str | None = Query(None, description="key holding each document's time (default time, @timestamp)"),
    tag_columns: str | None = Query(None, description="comma-separated keys stored as tags"),
    db: str = Query(DEFAULT_DATABASE, description="database"),
    tenant: str = Query(DEFAULT_TENANT, description="tenant"),
    svc: Services = Depends(services),
) -> Response:
    started = time.perf_counter()
    table = table or str(request.path_params.get("index", ""))
    if table:
        checked_table(table, given_in="the request")
    kind = log_type.strip().lower()
    if not table and kind != "bulk":
        raise BadRequest("the 'table' query parameter is required: name the table the logs go to, e.g. ?table=logs")
    if kind not in LOG_TYPES:
        raise BadRequest(f"unknown log_type '{log_type}': expected bulk, ndjson or loki")
    svc.namespaces.get(tenant, db)
    body = await read_body(request, max_bytes=svc.settings.max_body_bytes)
    tags = [name.strip() for name in (tag_columns or "").split(",") if name.strip()]
    options: dict[str, Any] = {"table": table, "time_column": time_column or None, "tag_columns": tags}
    if kind == "bulk":
        parsed = await run_in_threadpool(lambda: parse_es_bulk(body, now_ns=time.time_ns(), **options))
        # One write per batch, so that each type conflict is known to come from its own batch.
        results = await asyncio.gather(
            *(write_batches(svc, tenant=tenant, database=db, batches=[b], atomic=False) for b in parsed.batches)
        )
        took_ms = int((time.perf_counter() - started) * 1000)
        dropped = dropped_lines(zip(parsed.batches, results, strict=True))
        return _es_json(bulk_response(parsed, dropped, table=table, took_ms=took_ms))
    if kind == "ndjson":
        parsed = await run_in_threadpool(lambda: parse_ndjson(body, now_ns=time.time_ns(), **options))
    else:
        parsed = await run_in_threadpool(parse_loki_json, body, table=table)
    if parsed.errors:
        first = parsed.errors[0]
        more = f" ({parsed.rejected} documents rejected in all; nothing was written)" if parsed.rejected > 1 else ""
        raise ParseError(
            first.reason + more, line=first.line, column=first.column, expected=first.expected, got=first.got
        )
    await write_batches(svc, tenant=tenant, database=db, batches=parsed.batches, atomic=True)
    return Response(status_code=200)


def dropped_lines(written: Iterable[tuple[Batch, WriteResult]]) -> dict[int, TypeConflict]:
    """Document lines the writer dropped: the rows with a value in a column it refused."""
    dropped: dict[int, TypeConflict] = {}
    for batch, result in written:
        for conflict in result.conflicts:
            column = batch.tags.get(conflict.column)
            if column is None:
                column = batch.fields.get(conflict.column)
            if column is None or batch.lines is None:
                continue
            for line in batch.lines.filter(pc.is_valid(column)).to_pylist():
                dropped.setdefault(line, conflict)
    return dropped


def _new_id() -> str:
    """An id in Elasticsearch's shape (20 URL-safe characters) for an item sent without one."""
    return base64.urlsafe_b64encode(secrets.token_bytes(15)).decode()


def bulk_response(parsed: LogsResult, dropped: dict[int, TypeConflict], *, table: str, took_ms: int) -> dict[str, Any]:
    """Elasticsearch's bulk answer: one ``{action: {...}}`` per action, in order."""
    items: list[dict[str, Any]] = []
    errors = False
    seq_no = 0
    for item in parsed.items:
        head = {"_index": item.index or table, "_id": item.id or _new_id()}
        reason: str | None = None
        kind = "document_parsing_exception"
        if item.error is not None:
            reason = item.error.message
            if item.action in ("delete", "update"):
                kind = "illegal_argument_exception"
        elif item.document_line in dropped:
            reason = dropped[item.document_line].message
        if reason is not None:
            errors = True
            items.append({item.action: {**head, "status": 400, "error": {"type": kind, "reason": reason}}})
            continue
        items.append(
            {
                item.action: {
                    **head,
                    "_version": 1,
                    "result": "created",
                    "_shards": {"total": 1, "successful": 1, "failed": 0},
                    "_seq_no": seq_no,
                    "_primary_term": 1,
                    "status": 201,
                }
            }
        )
        seq_no += 1
    return {"took": took_ms, "errors": errors, "items": items}


# --- the Elasticsearch handshake ---------------------------------------------------------


def _root() -> dict[str, Any]:
    return {
        "name": _CLUSTER,
        "cluster_name": _CLUSTER,
        "cluster_uuid": _CLUSTER_UUID,
        "version": {
            "number": ES_COMPAT_VERSION,
            "build_flavor": "default",
            "build_type": "heron",
            "build_hash": f"heron-{__version__}",
            "build_date": "2024-12-11T00:00:00.000000000Z",
            "build_snapshot": False,
            "lucene_version": "9.12.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "You Know, for Search",
    }


@elasticsearch.api_route(_ES_BASE, methods=["GET", "HEAD"], summary="Elasticsearch root: name and version")
@elasticsearch.api_route(f"{_ES_BASE}/", methods=["GET", "HEAD"], include_in_schema=False)
async def es_root() -> Response:
    return _es_json(_root())


_LICENSE = {
    "status": "active",
    "uid": "00000000-0000-4000-8000-000000000000",
    "type": "basic",
    "issue_date": "2024-01-01T00:00:00.000Z",
    "issue_date_in_millis": 1704067200000,
    "max_nodes": 1000,
    "max_resource_units": None,
    "issued_to": _CLUSTER,
    "issuer": "elasticsearch",
    "start_date_in_millis": -1,
}


@elasticsearch.get(f"{_ES_BASE}/_license", summary="Elasticsearch license (basic, active)")
async def es_license() -> Response:
    return _es_json({"license": _LICENSE})


@elasticsearch.get(f"{_ES_BASE}/_xpack", summary="Elasticsearch X-Pack features (ILM available)")
async def es_xpack() -> Response:
    return _es_json(
        {
            "build": {"hash": f"heron-{__version__}", "date": _root()["version"]["build_date"]},
            "license": {"uid": _LICENSE["uid"], "type": "basic", "mode": "basic", "status": "active"},
            "features": {"ilm": {"available": True, "enabled": True}},
            "tagline": "You know, for X",
        }
    )


@elasticsearch.get(f"{_ES_BASE}/_cluster/health", summary="Elasticsearch cluster health (green)")
async def es_cluster_health() -> Response:
    return _es_json(
        {
            "cluster_name": _CLUSTER,
            "status": "green",
            "timed_out": False,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "active_primary_shards": 0,
            "active_shards": 0,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": 0,
            "delayed_unassigned_shards": 0,
            "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0,
            "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": 100.0,
        }
    )


@elasticsearch.get(f"{_ES_BASE}/_nodes", summary="Elasticsearch nodes: this one")
@elasticsearch.get(f"{_ES_BASE}/_nodes/{{selector:path}}", include_in_schema=False)
async def es_nodes(request: Request) -> Response:
    address = request.headers.get("host", "127.0.0.1:8902")
    node = {
        "name": _CLUSTER,
        "version": ES_COMPAT_VERSION,
        "roles": ["data", "ingest", "master"],
        "http": {"publish_address": address, "bound_address": [address]},
    }
    return _es_json(
        {"_nodes": {"total": 1, "successful": 1, "failed": 0}, "cluster_name": _CLUSTER, "nodes": {_CLUSTER: node}}
    )


_ACKNOWLEDGED = {"acknowledged": True}


def _stored(kind: str, name: str) -> dict[str, Any]:
    """What GET answers for a template or policy: present, and empty (PUTs are ignored)."""
    if kind == "index_template":
        return {
            "index_templates": [
                {"name": name, "index_template": {"index_patterns": [f"{name}*"], "composed_of": [], "template": {}}}
            ]
        }
    if kind == "component_template":
        return {"component_templates": [{"name": name, "component_template": {"template": {}}}]}
    if kind == "ilm":
        return {name: {"version": 1, "modified_date": "2024-01-01T00:00:00.000Z", "policy": {"phases": {}}}}
    return {name: {"order": 0, "index_patterns": [f"{name}*"], "settings": {}, "mappings": {}, "aliases": {}}}


def _probe(kind: str, path: str) -> None:
    async def probe(request: Request, name: str) -> Response:
        if request.method == "PUT":
            return _es_json(_ACKNOWLEDGED)
        return _es_json(_stored(kind, name))

    probe.__name__ = f"es_{kind}"
    elasticsearch.api_route(
        f"{_ES_BASE}/{path}/{{name}}",
        methods=["GET", "HEAD", "PUT"],
        summary=f"Elasticsearch {path.strip('_').replace('/', ' ')}: always present; PUT is accepted and ignored",
    )(probe)


for _kind, _path in (
    ("index_template", "_index_template"),
    ("template", "_template"),
    ("component_template", "_component_template"),
    ("ilm", "_ilm/policy"),
):
    _probe(_kind, _path)


@elasticsearch.head(f"{_ES_BASE}/_alias/{{name}}", summary="Elasticsearch alias: always present")
async def es_alias(name: str) -> Response:
    return _es_json({})


# --- Loki --------------------------------------------------------------------------------


@loki.post("/loki/api/v1/push", status_code=204, summary="Push logs (Loki): JSON or snappy protobuf")
async def push_loki(
    request: Request,
    table: str = Query(DEFAULT_LOKI_TABLE, description="table the entries are written to"),
    db: str = Query(DEFAULT_DATABASE, description="database (Heron extension)"),
    tenant: str = Query(DEFAULT_TENANT, description="tenant (Heron extension)"),
    svc: Services = Depends(services),
) -> Response:
    if not table:
        raise BadRequest("the 'table' query parameter must not be empty")
    checked_table(table, given_in="the 'table' query parameter")
    svc.namespaces.get(tenant, db)
    body = await read_body(request, max_bytes=svc.settings.max_body_bytes)
    parsed = await run_in_threadpool(
        lambda: parse_loki_push(
            body,
            content_type=request.headers.get("content-type"),
            table=table,
            max_uncompressed_bytes=svc.settings.max_body_bytes,
        )
    )
    result = await write_batches(svc, tenant=tenant, database=db, batches=parsed.batches, atomic=False)
    ignored = parsed.rejected + result.dropped
    if ignored:
        first = parsed.errors[0].message if parsed.errors else result.conflicts[0].message
        total = parsed.rejected + sum(len(b) for b in parsed.batches)
        raise BadRequest(f"{first} (total ignored: {ignored} out of {total})")
    return Response(status_code=204)


__all__ = ["bulk_response", "cnosdb", "dropped_lines", "elasticsearch", "loki"]
