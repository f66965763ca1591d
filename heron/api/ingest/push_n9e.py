"""Metric pushes as Nightingale and CnosDB take them: OpenTSDB, Open-Falcon, Datadog, categraf's heartbeat.

Three routers, one per way of authenticating and answering:

* :data:`n9e`: Nightingale's push paths (``/opentsdb/put``, OpenTSDB's ``/api/put``,
  ``/openfalcon/push``, ``/v1/n9e/heartbeat``) behind :func:`~heron.api.deps.push_principal`.
  Invalid items are skipped and counted, and so are items a type conflict drops (the writer
  runs with ``atomic=False``); the answer is ``200 {"succ", "fail", "msg"}``.
* :data:`datadog`: ``/datadog/...``, where agents authenticate with an API key rather than
  Basic credentials (Nightingale checks the key against its agent passwords).
* :data:`cnosdb`: ``/api/v1/opentsdb/write`` and ``/api/v1/opentsdb/put``, all or nothing with
  CnosDB's status codes, like ``/api/v1/write``.

Push routes write to tenant ``cnosdb``, database ``public`` unless ``tenant``/``db`` say
otherwise (a Heron extension), and register the hosts named by the ``ident`` tag unless
``ignore_ident=true``.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from heron.api.deps import current_user, push_principal, services
from heron.api.ingest.batches import register_hosts, write_batches
from heron.api.ingest.body import read_body
from heron.api.services import Services
from heron.core.batch import Batch
from heron.core.errors import HeronError, NotFound, ParseError, UnsupportedMedia
from heron.core.timeprec import precision_to_nanos
from heron.inventory.registry import HostMeta
from heron.meta.namespaces import DEFAULT_DATABASE, DEFAULT_TENANT
from heron.protocols.datadog import parse_datadog_v1, parse_datadog_v2
from heron.protocols.heartbeat import parse_heartbeat
from heron.protocols.openfalcon import parse_openfalcon_json
from heron.protocols.opentsdb import (
    MetricsResult,
    json_items,
    parse_cnosdb_json,
    parse_opentsdb_json,
    parse_opentsdb_lines,
)
from heron.tsdb.writer import WriteResult

n9e = APIRouter(tags=["n9e"], dependencies=[Depends(push_principal)])
datadog = APIRouter(tags=["n9e"])
cnosdb = APIRouter(tags=["cnosdb"], dependencies=[Depends(current_user)])

_CNOSDB_PRECISIONS = frozenset({"ns", "us", "ms", "s"})


@dataclass(frozen=True, slots=True)
class PushTarget:
    """Where a push goes, and whether it may register hosts."""

    tenant: str
    database: str
    ignore_ident: bool


def push_target(
    db: str = Query(DEFAULT_DATABASE, description="database (Heron extension; default public)"),
    tenant: str = Query(DEFAULT_TENANT, description="tenant (Heron extension; default cnosdb)"),
    ignore_ident: bool = Query(False, description="do not register the hosts named by the ident tag"),
) -> PushTarget:
    return PushTarget(tenant=tenant, database=db, ignore_ident=ignore_ident)


@dataclass(frozen=True, slots=True)
class _Pushed:
    """A parsed body after the write: items that failed, by item number, with the reason."""

    items: int
    failures: dict[int, str]
    failed: int  # may exceed len(failures): the parser keeps only the first errors

    @property
    def succeeded(self) -> int:
        return self.items - self.failed

    def first(self) -> tuple[int, str] | None:
        return min(self.failures.items()) if self.failures else None


async def _push(
    svc: Services, request: Request, target: PushTarget, parse: Callable[[bytes], MetricsResult]
) -> tuple[bytes, _Pushed]:
    """Read, parse (off the event loop), write with skip-and-count, register hosts."""
    svc.namespaces.get(target.tenant, target.database)
    body = await read_body(request, max_bytes=svc.settings.max_body_bytes)
    parsed = await run_in_threadpool(parse, body)
    result = await write_batches(
        svc, tenant=target.tenant, database=target.database, batches=parsed.batches, atomic=False, metrics=True
    )
    register_hosts(svc, parsed.batches, ignore=target.ignore_ident)
    failures = {e.line: _reason(e) for e in parsed.errors}
    dropped = _dropped_items(parsed.batches, result)
    failures.update(dropped)
    return body, _Pushed(items=parsed.items, failures=failures, failed=parsed.rejected + len(dropped))


def _reason(err: ParseError) -> str:
    detail = f" (expected {err.expected}, got {err.got})" if err.expected and err.got else ""
    return err.reason + detail


def _dropped_items(batches: list[Batch], result: WriteResult) -> dict[int, str]:
    """The items whose rows the writer dropped for a type conflict, with the conflict."""
    if not result.dropped:
        return {}
    out: dict[int, str] = {}
    for c in result.conflicts:
        reason = (
            f"type conflict in table '{c.table}', column '{c.column}': the column is {c.existing}, the value is {c.got}"
        )
        for batch in batches:
            if batch.table.lower() != c.table.lower() or batch.lines is None:
                continue
            columns = {**batch.tags, **batch.fields}
            column = next((a for name, a in columns.items() if name.lower() == c.column.lower()), None)
            if column is not None:
                for line in batch.lines.filter(column.is_valid()).to_pylist():
                    out.setdefault(line, reason)
    return out


def _n9e_reply(pushed: _Pushed) -> dict[str, Any]:
    """Nightingale's answer: counts, and the first failure in ``msg``."""
    msg = "received"
    first = pushed.first()
    if first is not None:
        msg = f"received, {pushed.failed} failed; item {first[0]}: {first[1]}"
    return {"succ": pushed.succeeded, "fail": pushed.failed, "msg": msg}


def _json(doc: object, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


# --- OpenTSDB ---------------------------------------------------------------------------------


def _opentsdb_error(status: int, message: str, details: str = "") -> Response:
    """OpenTSDB's error body (``/api/put`` with ``details`` or ``summary``)."""
    return _json({"error": {"code": status, "message": message, "details": details}}, status)


def _opentsdb_reply(body: bytes, pushed: _Pushed, *, details: bool) -> Response:
    """OpenTSDB's summary (200, or 400 when any point failed), with the failed points on ``details``."""
    doc: dict[str, Any] = {"success": pushed.succeeded, "failed": pushed.failed}
    if details:
        items = json_items(body) if pushed.failures else []
        doc["errors"] = [{"datapoint": items[n - 1], "error": why} for n, why in sorted(pushed.failures.items())]
    return _json(doc, 400 if pushed.failed else 200)


@n9e.post("/opentsdb/put", summary="Push OpenTSDB data points (Nightingale)")
@n9e.post("/api/put", summary="Push OpenTSDB data points (OpenTSDB's path)")
async def put_opentsdb(
    request: Request, target: PushTarget = Depends(push_target), svc: Services = Depends(services)
) -> Response:
    """One data point or an array; ``details`` or ``summary`` in the query gives OpenTSDB's answer."""
    params = request.query_params
    opentsdb_shape = "details" in params or "summary" in params
    now_ns = time.time_ns()
    try:
        body, pushed = await _push(svc, request, target, lambda b: parse_opentsdb_json(b, now_ns=now_ns))
    except ParseError as exc:
        if not opentsdb_shape:
            raise
        return _opentsdb_error(400, "Unable to parse the given JSON", exc.message)
    if not opentsdb_shape:
        return _json(_n9e_reply(pushed))
    if pushed.items == 0:
        return _opentsdb_error(400, "No datapoints found in content")
    return _opentsdb_reply(body, pushed, details="details" in params)


# --- Open-Falcon ------------------------------------------------------------------------------


@n9e.post("/openfalcon/push", summary="Push Open-Falcon metrics (Nightingale)")
async def push_openfalcon(
    request: Request, target: PushTarget = Depends(push_target), svc: Services = Depends(services)
) -> dict[str, Any]:
    now_ns = time.time_ns()
    _, pushed = await _push(svc, request, target, lambda b: parse_openfalcon_json(b, now_ns=now_ns))
    return _n9e_reply(pushed)


# --- categraf's heartbeat ---------------------------------------------------------------------


@n9e.post("/v1/n9e/heartbeat", summary="Host heartbeat (categraf)")
async def receive_heartbeat(request: Request, svc: Services = Depends(services)) -> dict[str, Any]:
    """Register or refresh the host, with its meta and clock offset."""
    body = await read_body(request, max_bytes=svc.settings.max_body_bytes)
    now = time.time()
    beat = parse_heartbeat(body, now_ms=int(now * 1000))
    meta = HostMeta(
        host_ip=beat.host_ip,
        os=beat.os,
        arch=beat.arch,
        cpu_num=beat.cpu_num,
        agent_version=beat.agent_version,
        clock_offset_ms=beat.clock_offset_ms,
        labels=beat.global_labels,
    )
    svc.hosts.heartbeat(beat.hostname, meta, at=now)
    return {"dat": None, "err": ""}


# --- Datadog ----------------------------------------------------------------------------------

_FORBIDDEN = {"errors": ["Forbidden"]}


def _datadog_key_accepted(request: Request, svc: Services) -> bool:
    """Nightingale's rule for Datadog agents, in Heron's terms.

    The key (``api_key`` query parameter or ``DD-API-KEY`` header) is accepted when it is
    the password of a ``push_basic_auth`` pair or ``user:password`` of a Heron user; Basic
    credentials are accepted as on the other push routes; with ``push_open`` any key is.
    """
    settings = svc.settings
    if not settings.push_enabled:
        raise NotFound(f"no route for {request.method} {request.url.path} (push routes are disabled)")
    if settings.push_open:
        return True
    key = request.query_params.get("api_key") or request.headers.get("dd-api-key") or ""
    if key:
        matched = False
        for pair in settings.push_basic_auth.split(","):
            _, sep, secret = pair.strip().partition(":")
            matched |= bool(sep) & hmac.compare_digest(secret.encode(), key.encode())
        if matched:
            return True
        user, sep, password = key.partition(":")
        if sep and svc.users.authenticate(user, password) is not None:
            return True
    if request.headers.get("authorization"):
        try:
            push_principal(request)
        except HeronError:
            return False
        return True
    return False


async def _datadog_push(
    request: Request, target: PushTarget, svc: Services, parse: Callable[[bytes], MetricsResult]
) -> _Pushed | Response:
    if not _datadog_key_accepted(request, svc):
        return _json(_FORBIDDEN, 403)
    if "protobuf" in request.headers.get("content-type", ""):
        raise UnsupportedMedia(
            "Heron takes Datadog series as JSON; set 'use_v2_api.series: false' in datadog.yaml "
            "so that the agent sends JSON to /api/v1/series"
        )
    _, pushed = await _push(svc, request, target, parse)
    return pushed


@datadog.post("/datadog/api/v1/series", summary="Push Datadog series, v1 JSON (Nightingale)")
async def push_datadog_v1(
    request: Request, target: PushTarget = Depends(push_target), svc: Services = Depends(services)
) -> Response:
    pushed = await _datadog_push(request, target, svc, parse_datadog_v1)
    return pushed if isinstance(pushed, Response) else _json(_n9e_reply(pushed))


@datadog.post("/datadog/api/v2/series", summary="Push Datadog series, v2 JSON")
async def push_datadog_v2(
    request: Request, target: PushTarget = Depends(push_target), svc: Services = Depends(services)
) -> Response:
    """Datadog's answer: ``202 {"errors": [...]}`` naming the series that were not stored."""
    pushed = await _datadog_push(request, target, svc, parse_datadog_v2)
    if isinstance(pushed, Response):
        return pushed
    errors = [f"series {n}: {why}" for n, why in sorted(pushed.failures.items())]
    if pushed.failed > len(errors):
        errors.append(f"{pushed.failed - len(errors)} more series failed")
    return _json({"errors": errors}, 202)


@datadog.get("/datadog/api/v1/validate", summary="Validate a Datadog API key")
async def validate_datadog_key(request: Request, svc: Services = Depends(services)) -> Response:
    if not _datadog_key_accepted(request, svc):
        return _json(_FORBIDDEN, 403)
    return _json({"valid": True})


@datadog.post("/datadog/api/v1/check_run", summary="Datadog service checks (accepted, not stored)")
@datadog.post("/datadog/api/v1/metadata", summary="Datadog metric metadata (accepted, not stored)")
@datadog.post("/datadog/api/beta/sketches", summary="Datadog distributions (accepted, not stored)")
@datadog.post("/datadog/intake/", summary="Datadog host metadata (accepted, not stored)")
@datadog.post("/datadog/intake", include_in_schema=False)
async def accept_datadog_payload(request: Request, svc: Services = Depends(services)) -> Response:
    """Answer the agent's other intake calls as Datadog does, so that it runs without errors."""
    if not _datadog_key_accepted(request, svc):
        return _json(_FORBIDDEN, 403)
    return _json({"status": "ok"}, 202)


# --- CnosDB -----------------------------------------------------------------------------------


def _reject_all(parsed: MetricsResult, noun: str) -> None:
    """CnosDB is all or nothing: the first bad item rejects the request (422)."""
    if not parsed.errors:
        return
    first = parsed.errors[0]
    more = f" ({parsed.rejected} {noun}s rejected in all; nothing was written)" if parsed.rejected > 1 else ""
    if noun == "line":
        where = {"line": first.line, "column": first.column}
        raise ParseError(first.reason + more, **where, expected=first.expected, got=first.got)
    raise ParseError(f"{noun} {first.line}: {first.reason}{more}", expected=first.expected, got=first.got)


async def _write_cnosdb(
    request: Request,
    svc: Services,
    tenant: str,
    db: str,
    precision: str | None,
    parse: Callable[..., MetricsResult],
    noun: str,
) -> Response:
    """CnosDB's OpenTSDB routes: parse all, refuse all on any bad item (422), else 200."""
    nanos = precision_to_nanos(precision, allowed=_CNOSDB_PRECISIONS)
    svc.namespaces.get(tenant, db)
    body = await read_body(request, max_bytes=svc.settings.max_body_bytes)
    parsed = await run_in_threadpool(lambda: parse(body, precision_nanos=nanos))
    _reject_all(parsed, noun)
    await write_batches(svc, tenant=tenant, database=db, batches=parsed.batches, atomic=True, metrics=True)
    return Response(status_code=200)


@cnosdb.post("/api/v1/opentsdb/write", status_code=200, summary="Write OpenTSDB text lines (CnosDB)")
async def write_opentsdb_lines(
    request: Request,
    db: str = Query(DEFAULT_DATABASE, description="database"),
    tenant: str = Query(DEFAULT_TENANT, description="tenant"),
    precision: str | None = Query(None, description="ns (default), us, ms or s"),
    svc: Services = Depends(services),
) -> Response:
    return await _write_cnosdb(request, svc, tenant, db, precision, parse_opentsdb_lines, "line")


@cnosdb.post("/api/v1/opentsdb/put", status_code=200, summary="Write OpenTSDB JSON data points (CnosDB)")
async def put_opentsdb_cnosdb(
    request: Request,
    db: str = Query(DEFAULT_DATABASE, description="database"),
    tenant: str = Query(DEFAULT_TENANT, description="tenant"),
    precision: str | None = Query(None, description="ns (default), us, ms or s"),
    svc: Services = Depends(services),
) -> Response:
    return await _write_cnosdb(request, svc, tenant, db, precision, parse_cnosdb_json, "data point")
