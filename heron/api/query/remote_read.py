"""Prometheus remote read: ``POST /api/v1/read``, so a Prometheus can use Heron as its long-term store.

The request is a snappy block holding a ``ReadRequest`` (queries of label matchers and a
time range, in milliseconds); the answer is the ``SAMPLES`` response type: a snappy block
holding one ``ReadResponse`` with a result per query, each series with its labels sorted
and its raw samples (staleness markers included, as Prometheus stores them). Series come
from the same series model as PromQL (:mod:`heron.promql.series`), so a Prometheus reads
OpenTSDB, line-protocol and agent data too. Streamed XOR chunks are not offered; a client
that accepts only those gets a 400 naming the response type Heron sends.
"""

from __future__ import annotations

import cramjam
from fastapi import APIRouter, Depends, Request
from google.protobuf.message import DecodeError
from starlette.responses import Response

from heron.api.deps import current_user, services
from heron.api.ingest.body import read_raw_body
from heron.api.query.prom_format import Params
from heron.api.query.prometheus import PREFIXES, with_reader
from heron.api.services import Services
from heron.promql.errors import BadData
from heron.promql.series import Matcher, SeriesReader
from heron.protocols._pb import remote_read_pb2 as rr
from heron.protocols.remote_read import encode_query_result
from heron.protocols.remote_write import decompress_snappy_block

router = APIRouter(tags=["prometheus"], dependencies=[Depends(current_user)])

_OPS = {0: "=", 1: "!=", 2: "=~", 3: "!~"}


def _decode(raw: bytes, max_bytes: int) -> rr.ReadRequest:
    body = decompress_snappy_block(raw, max_bytes=max_bytes)
    request = rr.ReadRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise BadData(f"the body is not a remote-read ReadRequest: {exc}") from exc
    accepted = list(request.accepted_response_types)
    if accepted and rr.ReadRequest.SAMPLES not in accepted:
        raise BadData("Heron answers remote read with the SAMPLES response type only; accept it in the request")
    return request


def _answer(reader: SeriesReader, request: rr.ReadRequest) -> bytes:
    results = []
    for query in request.queries:
        matchers = [Matcher(_OPS.get(m.type, "="), m.name, m.value) for m in query.matchers]
        if not matchers:
            raise BadData("a remote-read query needs at least one label matcher")
        selected = reader.select([matchers], query.start_timestamp_ms, query.end_timestamp_ms)
        results.append(encode_query_result(selected.labels, selected.series, selected.times, selected.values))
    return bytes(cramjam.snappy.compress_raw(b"".join(results)))


async def remote_read(request: Request, svc: Services = Depends(services)) -> Response:
    max_bytes = svc.settings.max_body_bytes
    raw = await read_raw_body(request, max_bytes=max_bytes)
    decoded = _decode(raw, max_bytes)
    params = Params(list(request.query_params.multi_items()))
    body = await with_reader(request, svc, params, lambda reader, _deadline: _answer(reader, decoded), api="read")
    return Response(
        body,
        media_type="application/x-protobuf",
        headers={"Content-Encoding": "snappy", "X-Prometheus-Remote-Read-Version": "0.1.0"},
    )


for _prefix in PREFIXES:
    router.add_api_route(
        _prefix + "/read",
        remote_read,
        methods=["POST"],
        summary="Prometheus remote read: snappy protobuf in, samples out",
        response_class=Response,
        include_in_schema=_prefix == PREFIXES[0],
        name="remote_read" if _prefix == PREFIXES[0] else "remote_read_prometheus",
    )
