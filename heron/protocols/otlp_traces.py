"""OTLP traces in: an ``ExportTraceServiceRequest`` (protobuf or OTLP/JSON), one row per span.

Spec: https://opentelemetry.io/docs/specs/otlp/ (OTLP/HTTP, and the JSON mapping: camelCase
keys, trace and span ids as hex strings, enums as numbers, 64-bit integers as numbers or
strings, unknown fields ignored). The messages come from ``opentelemetry-proto``.

A span becomes one row of a fixed set of columns, so a traces table has the same schema from
its first write on::

    time             start_time_unix_nano
    tags             service_name (resource attribute service.name), name, kind, status_code,
                     scope_name, scope_version
    fields           trace_id, span_id, parent_span_id (hex; no parent: null), trace_state,
                     end_time (int64 ns since the epoch), duration_ns (end - start),
                     status_message, attributes, resource_attributes, events, links

``kind`` and ``status_code`` hold the enum names (``SPAN_KIND_SERVER``, ``STATUS_CODE_ERROR``;
a number the proto does not define is kept as its digits), which read better in SQL than
numbers. ``attributes`` and ``resource_attributes`` are JSON objects, ``events`` and ``links``
JSON arrays, as text: attribute values change type between spans freely, and a column per
attribute would make a type conflict drop the span. Query them with DuckDB's JSON functions,
e.g. ``attributes->>'$."http.method"'``. Empty values are null.

Where Heron deviates: a span whose trace id is not 16 bytes or whose span id is not 8 bytes
(or all zeros), or whose times do not fit int64 nanoseconds, is rejected alone and counted in
the partial success, rather than stored with an id no query could use.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from heron.core.batch import Batch
from heron.core.errors import ParseError

__all__ = ["TAG_COLUMNS", "TracesResult", "decode_traces_request", "encoding_of", "parse_otlp_traces"]

#: Default cap on the errors a result keeps; ``rejected`` counts every rejected span.
DEFAULT_MAX_ERRORS = 100
#: The low-cardinality columns, stored as tags.
TAG_COLUMNS = ("service_name", "name", "kind", "status_code", "scope_name", "scope_version")
_STRING_FIELDS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "trace_state",
    "status_message",
    "attributes",
    "resource_attributes",
    "events",
    "links",
)
_INT_FIELDS = ("end_time", "duration_ns")
_INT64_MAX = 2**63 - 1
_HEX = re.compile(r"[0-9a-fA-F]*")
# OTLP/JSON keys holding ids, in both spellings a JSON encoder may use.
_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


@dataclass(frozen=True, slots=True)
class TracesResult:
    """The stored spans as one batch, and the spans that were rejected."""

    batch: Batch
    spans: int  # every span in the request
    rejected: int
    errors: list[ParseError]  # one per rejected span (at most max_errors kept)


def encoding_of(content_type: str | None) -> str:
    """``"json"`` for ``application/json``, else ``"protobuf"`` (OTLP/HTTP's default)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return "json" if media == "application/json" else "protobuf"


def decode_traces_request(body: bytes, encoding: str) -> ExportTraceServiceRequest:
    """The request message from either encoding; anything else raises :class:`ParseError`."""
    if encoding == "json":
        return _from_json(body)
    try:
        request: ExportTraceServiceRequest = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise ParseError(
            f"the body is not an OTLP ExportTraceServiceRequest: {exc}",
            expected="protobuf (or Content-Type: application/json for OTLP/JSON)",
        ) from exc
    return request


def _from_json(body: bytes) -> ExportTraceServiceRequest:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from exc
    if not isinstance(doc, dict):
        raise ParseError("an OTLP/JSON body is an object", expected='{"resourceSpans": [...]}', got=type(doc).__name__)
    _ids_to_base64(doc)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(doc, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise ParseError(f"the body is not an OTLP/JSON ExportTraceServiceRequest: {exc}") from exc
    return request


def _ids_to_base64(doc: dict[str, Any]) -> None:
    """Rewrite OTLP/JSON's hex ids as the base64 that the proto3 JSON mapping expects.

    Also accepts the pre-1.0 names ``instrumentationLibrarySpans``/``instrumentationLibrary``.
    """
    for resource_spans in _dicts(doc.get("resourceSpans", doc.get("resource_spans"))):
        if "instrumentationLibrarySpans" in resource_spans and "scopeSpans" not in resource_spans:
            resource_spans["scopeSpans"] = resource_spans.pop("instrumentationLibrarySpans")
        for scope_spans in _dicts(resource_spans.get("scopeSpans", resource_spans.get("scope_spans"))):
            if "instrumentationLibrary" in scope_spans and "scope" not in scope_spans:
                scope_spans["scope"] = scope_spans.pop("instrumentationLibrary")
            for span in _dicts(scope_spans.get("spans")):
                _hex_ids(span)
                for link in _dicts(span.get("links")):
                    _hex_ids(link)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _hex_ids(obj: dict[str, Any]) -> None:
    for key in _ID_KEYS:
        value = obj.get(key)
        if isinstance(value, str):
            if len(value) % 2 or not _HEX.fullmatch(value):
                raise ParseError(f"'{key}' must be hex", expected="an even number of hex digits", got=repr(value[:40]))
            obj[key] = base64.b64encode(bytes.fromhex(value)).decode()


# --- spans to rows ----------------------------------------------------------------------


def _any_value(value: Any) -> Any:
    """An AnyValue as plain JSON: arrays as lists, key-value lists as objects, bytes as base64."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in pairs}


def _json_or_none(value: Any) -> str | None:
    return orjson.dumps(value).decode() if value else None


def _enum_name(enum: Any, number: int) -> str:
    try:
        return str(enum.Name(number))
    except ValueError:
        return str(number)


def _events(span: Any) -> str | None:
    events = [
        {"time_unix_nano": e.time_unix_nano, "name": e.name, "attributes": _attributes(e.attributes)}
        for e in span.events
    ]
    return _json_or_none(events)


def _links(span: Any) -> str | None:
    links = [
        {
            "trace_id": link.trace_id.hex(),
            "span_id": link.span_id.hex(),
            "trace_state": link.trace_state,
            "attributes": _attributes(link.attributes),
        }
        for link in span.links
    ]
    return _json_or_none(links)


def _span_problem(span: Any) -> str | None:
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return f"invalid trace id {span.trace_id.hex()!r}: expected 16 bytes, not all zero"
    if len(span.span_id) != 8 or not any(span.span_id):
        return f"invalid span id {span.span_id.hex()!r}: expected 8 bytes, not all zero"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return f"invalid parent span id {span.parent_span_id.hex()!r}: expected 8 bytes"
    if span.start_time_unix_nano > _INT64_MAX or span.end_time_unix_nano > _INT64_MAX:
        return "start or end time out of range"
    return None


def parse_otlp_traces(body: bytes, *, encoding: str, table: str, max_errors: int = DEFAULT_MAX_ERRORS) -> TracesResult:
    """One row per valid span; a body that is not the request message raises ParseError."""
    request = decode_traces_request(body, encoding)
    columns: dict[str, list[Any]] = {name: [] for name in (*TAG_COLUMNS, *_STRING_FIELDS, *_INT_FIELDS)}
    times: list[int] = []
    lines: list[int] = []
    errors: list[ParseError] = []
    ordinal = 0
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        service = resource.get("service.name")
        service_name = None if service is None else str(service)
        resource_json = _json_or_none(resource)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            for span in scope_spans.spans:
                ordinal += 1
                problem = _span_problem(span)
                if problem is not None:
                    errors.append(ParseError(f"span {ordinal} ('{span.name}'): {problem}", line=ordinal))
                    continue
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                row = {
                    "service_name": service_name,
                    "name": span.name,
                    "kind": _enum_name(Span.SpanKind, span.kind),
                    "status_code": _enum_name(Status.StatusCode, span.status.code),
                    "scope_name": scope.name or None,
                    "scope_version": scope.version or None,
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex() or None,
                    "trace_state": span.trace_state or None,
                    "status_message": span.status.message or None,
                    "attributes": _json_or_none(_attributes(span.attributes)),
                    "resource_attributes": resource_json,
                    "events": _events(span),
                    "links": _links(span),
                    "end_time": end,
                    "duration_ns": end - start,
                }
                for name, value in row.items():
                    columns[name].append(value)
                times.append(start)
                lines.append(ordinal)
    batch = Batch(
        table=table,
        time=pa.array(times, pa.int64()),
        tags={name: pa.array(columns[name], pa.string()) for name in TAG_COLUMNS},
        fields={
            **{name: pa.array(columns[name], pa.string()) for name in _STRING_FIELDS},
            **{name: pa.array(columns[name], pa.int64()) for name in _INT_FIELDS},
        },
        lines=pa.array(lines, pa.int32()),
    )
    return TracesResult(batch=batch, spans=ordinal, rejected=len(errors), errors=errors[: max(max_errors, 0)])
