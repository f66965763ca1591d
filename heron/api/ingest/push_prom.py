"""Prometheus remote write in: Nightingale's ``/prometheus/v1/write`` and CnosDB's ``/api/v1/prom/write``.

Both take what Prometheus's ``remote_write`` sends: a snappy-compressed protobuf
``prometheus.WriteRequest`` (remote write 1.0), or a 2.0 ``io.prometheus.write.v2.Request``
when the ``Content-Type`` says ``proto=io.prometheus.write.v2.Request``. Both answer
``204`` with an empty body and the 2.0 specification's
``X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written`` headers.

The status codes are chosen for how Prometheus reacts to them (``storage/remote/client.go``):
it retries 5xx, retries 429 after ``Retry-After`` when its queue has
``retry_on_http_429: true``, and drops the batch on any other 4xx. Hence:

* a body that does not decode: ``400`` naming what is wrong (retrying cannot help);
* series that cannot be stored (no ``__name__``, a type conflict with an existing column)
  are dropped and counted, the rest is written and the answer is ``204``; only when
  nothing at all could be written is it ``400``, so a wholly broken sender shows in its log;
* the writer's queue is full: ``429`` with ``Retry-After`` (the error handler adds it).

Nightingale's route takes agent credentials (:func:`~heron.api.deps.push_principal`),
registers the hosts named by ``ident`` (else ``agent_hostname``, renamed to ``ident``)
unless ``ignore_ident=true``; CnosDB's takes a user and stores labels as they come.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from heron.api.deps import current_user, push_principal, services
from heron.api.ingest.batches import write_batches
from heron.api.ingest.body import SUPPORTED_ENCODINGS, read_body, read_raw_body
from heron.api.services import Services
from heron.core.errors import BadRequest, ParseError, UnsupportedMedia
from heron.meta.namespaces import DEFAULT_DATABASE, DEFAULT_TENANT
from heron.protocols.remote_write import (
    WRITE_REQUEST_V1,
    WRITE_REQUEST_V2,
    RemoteWriteResult,
    decompress_snappy_block,
    parse_remote_write,
)
from heron.tsdb.writer import WriteResult

n9e = APIRouter(tags=["n9e"], dependencies=[Depends(push_principal)])
cnosdb = APIRouter(tags=["cnosdb"], dependencies=[Depends(current_user)])

#: The label Nightingale takes the host from when a series has no ``ident`` label.
IDENT_FALLBACK_LABEL = "agent_hostname"
PROTOBUF_MEDIA_TYPE = "application/x-protobuf"
_MESSAGES = {WRITE_REQUEST_V1: WRITE_REQUEST_V1, WRITE_REQUEST_V2: WRITE_REQUEST_V2}


class UnsupportedProtobufMessage(UnsupportedMedia):
    """A ``Content-Type`` naming a message other than the two remote-write requests (2.0 spec: 415)."""

    status = 415


def message_type(content_type: str | None) -> str:
    """The remote-write message a ``Content-Type`` announces; 1.0 when it names none."""
    if not content_type:
        return WRITE_REQUEST_V1
    media, *params = (part.strip() for part in content_type.split(";"))
    if media.lower() not in (PROTOBUF_MEDIA_TYPE, ""):
        raise UnsupportedProtobufMessage(
            f"unsupported Content-Type '{media}': remote write sends {PROTOBUF_MEDIA_TYPE}"
        )
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "proto":
            name = value.strip().strip('"')
            if name not in _MESSAGES:
                raise UnsupportedProtobufMessage(
                    f"unsupported proto={name}: this endpoint takes {WRITE_REQUEST_V1} and {WRITE_REQUEST_V2}"
                )
            return _MESSAGES[name]
    return WRITE_REQUEST_V1


async def read_remote_write_body(request: Request, *, max_bytes: int) -> tuple[bytes, bool]:
    """The body and whether it is still a snappy block (also when no Content-Encoding is
    sent, as Prometheus's and VictoriaMetrics's receivers assume); other encodings come back
    decoded by ``read_body``.

    Snappy is left to the caller's worker thread, off the event loop. Both the compressed
    and the decompressed size are held to ``max_bytes`` (413).
    """
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "snappy", *SUPPORTED_ENCODINGS):
        raise UnsupportedMedia(
            f"unsupported Content-Encoding '{encoding}': remote write uses snappy (gzip, deflate, zstd also accepted)"
        )
    if encoding not in ("", "snappy"):
        return await read_body(request, max_bytes=max_bytes), False
    return await read_raw_body(request, max_bytes=max_bytes), True


def _decode(
    body: bytes, snappy: bool, *, max_bytes: int, message: str, ident_fallback: str | None
) -> RemoteWriteResult:
    """Decompress (if snappy) and parse: the CPU-bound part, run in a worker thread."""
    if snappy:
        body = decompress_snappy_block(body, max_bytes=max_bytes)
    try:
        return parse_remote_write(body, message=message, ident_fallback=ident_fallback)
    except ParseError as exc:
        # A plain 400 in every dialect (CnosDB's envelope would make a ParseError 422).
        raise BadRequest(exc.message) from exc


async def _ingest(
    request: Request, svc: Services, *, tenant: str, database: str, ident_fallback: str | None, register: bool
) -> Response:
    """Decode, write (dropping what conflicts), register hosts; 204 or an error."""
    message = message_type(request.headers.get("content-type"))
    svc.namespaces.get(tenant, database)
    max_bytes = svc.settings.max_body_bytes
    body, snappy = await read_remote_write_body(request, max_bytes=max_bytes)
    parsed = await run_in_threadpool(
        _decode, body, snappy, max_bytes=max_bytes, message=message, ident_fallback=ident_fallback
    )
    result = await write_batches(svc, tenant=tenant, database=database, batches=[], samples=parsed.data, atomic=False)
    if register and parsed.idents:
        svc.hosts.seen(parsed.idents, at=time.time())
    if not result.written and (parsed.dropped_samples or result.dropped):
        raise BadRequest(nothing_written_message(parsed, result))
    return Response(
        status_code=204,
        headers={
            "X-Prometheus-Remote-Write-Samples-Written": str(result.written),
            "X-Prometheus-Remote-Write-Histograms-Written": "0",
            "X-Prometheus-Remote-Write-Exemplars-Written": "0",
        },
    )


def nothing_written_message(parsed: RemoteWriteResult, result: WriteResult) -> str:
    """Why a request whose every sample was dropped wrote nothing: the first reasons."""
    reasons = list(parsed.problems)
    reasons += [str(conflict) for conflict in result.conflicts[:3]]
    dropped = parsed.dropped_samples + result.dropped
    return f"no sample was written ({dropped} dropped): " + "; ".join(reasons[:3])


@n9e.post(
    "/prometheus/v1/write",
    status_code=204,
    response_class=Response,
    summary="Prometheus remote write (Nightingale): snappy protobuf, 1.0 or 2.0",
)
async def write_prometheus_n9e(
    request: Request,
    db: str = Query(DEFAULT_DATABASE, description="database (Heron extension; default public)"),
    tenant: str = Query(DEFAULT_TENANT, description="tenant (Heron extension; default cnosdb)"),
    ignore_ident: bool = Query(False, description="do not register the hosts named by the ident label"),
    svc: Services = Depends(services),
) -> Response:
    """Series land in ``tenant``/``db``; the ``ident`` label (else ``agent_hostname``) names the host."""
    return await _ingest(
        request, svc, tenant=tenant, database=db, ident_fallback=IDENT_FALLBACK_LABEL, register=not ignore_ident
    )


@cnosdb.post(
    "/api/v1/prom/write",
    status_code=204,
    response_class=Response,
    summary="Prometheus remote write (CnosDB): snappy protobuf, 1.0 or 2.0",
)
async def write_prometheus_cnosdb(
    request: Request,
    db: str = Query(DEFAULT_DATABASE, description="database"),
    tenant: str = Query(DEFAULT_TENANT, description="tenant"),
    svc: Services = Depends(services),
) -> Response:
    return await _ingest(request, svc, tenant=tenant, database=db, ident_fallback=None, register=False)
