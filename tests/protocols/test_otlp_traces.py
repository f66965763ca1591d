"""OTLP traces: the OTLP/JSON example of the specification, protobuf from the SDK's encoder, fuzzing."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from heron.core.errors import ParseError
from heron.protocols.otlp_traces import TAG_COLUMNS, TracesResult, encoding_of, parse_otlp_traces
from tests.strategies import SpanCase, otlp_json, plain_attributes, span_cases, traces_request


def rows(result: TracesResult) -> list[dict[str, Any]]:
    batch = result.batch
    assert list(batch.tags) == list(TAG_COLUMNS)
    assert batch.fields["end_time"].type == pa.int64() and batch.fields["duration_ns"].type == pa.int64()
    return pa.table({"time": batch.time, **batch.tags, **batch.fields}).to_pylist()


# The example request of the OTLP specification's JSON section (examples/trace.json), abridged.
SPEC_JSON = b"""{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
    "scopeSpans": [{
      "scope": {"name": "my.library", "version": "1.0.0",
                "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "kind": 2,
        "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}]
      }]
    }]
  }]
}"""


def test_the_specification_json_example_makes_one_row() -> None:
    result = parse_otlp_traces(SPEC_JSON, encoding="json", table="traces")
    assert result.spans == 1 and result.rejected == 0
    assert rows(result) == [
        {
            "time": 1544712660000000000,
            "service_name": "my.service",
            "name": "I'm a server span",
            "kind": "SPAN_KIND_SERVER",
            "status_code": "STATUS_CODE_UNSET",
            "scope_name": "my.library",
            "scope_version": "1.0.0",
            "trace_id": "5b8efff798038103d269b633813fc60c",
            "span_id": "eee19b7ec3c1b174",
            "parent_span_id": "eee19b7ec3c1b173",
            "trace_state": None,
            "status_message": None,
            "attributes": '{"my.span.attr":"some value"}',
            "resource_attributes": '{"service.name":"my.service"}',
            "events": None,
            "links": None,
            "end_time": 1544712661000000000,
            "duration_ns": 1_000_000_000,
        }
    ]


def test_spans_from_the_sdk_encoder_keep_events_links_and_status() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout", "deployment.environment": "prod"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("shop", "2.1")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        parent.set_attribute("http.method", "GET")
        parent.set_attribute("retries", 3)
        parent.add_event("cache miss", {"key": "cart:1"})
        with tracer.start_as_current_span("child", links=[]) as child:
            child.set_status(Status(StatusCode.ERROR, "boom"))
    body = encode_spans(exporter.get_finished_spans()).SerializeToString()
    result = parse_otlp_traces(body, encoding="protobuf", table="traces")
    got = {r["name"]: r for r in rows(result)}
    assert set(got) == {"parent", "child"}
    parent_row, child_row = got["parent"], got["child"]
    assert parent_row["kind"] == "SPAN_KIND_SERVER" and child_row["kind"] == "SPAN_KIND_INTERNAL"
    assert child_row["parent_span_id"] == parent_row["span_id"] and parent_row["parent_span_id"] is None
    assert child_row["trace_id"] == parent_row["trace_id"] and len(parent_row["trace_id"]) == 32
    assert (child_row["status_code"], child_row["status_message"]) == ("STATUS_CODE_ERROR", "boom")
    assert orjson.loads(parent_row["attributes"]) == {"http.method": "GET", "retries": 3}
    assert [e["name"] for e in orjson.loads(parent_row["events"])] == ["cache miss"]
    assert orjson.loads(parent_row["resource_attributes"])["deployment.environment"] == "prod"
    assert (parent_row["service_name"], parent_row["scope_name"], parent_row["scope_version"]) == (
        "checkout",
        "shop",
        "2.1",
    )
    assert parent_row["duration_ns"] == parent_row["end_time"] - parent_row["time"] >= 0


def test_a_span_with_a_bad_id_is_rejected_alone() -> None:
    doc = orjson.loads(SPEC_JSON)
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.append({**spans[0], "traceId": "00000000000000000000000000000000", "name": "zero"})
    spans.append({**spans[0], "spanId": "ABCD", "name": "short"})
    result = parse_otlp_traces(orjson.dumps(doc), encoding="json", table="traces")
    assert [r["name"] for r in rows(result)] == ["I'm a server span"]
    assert result.spans == 3 and result.rejected == 2
    assert "invalid trace id" in result.errors[0].reason and "invalid span id" in result.errors[1].reason


def test_pre_1_0_json_names_and_unknown_fields_are_accepted() -> None:
    doc = orjson.loads(SPEC_JSON)
    resource = doc["resourceSpans"][0]
    scope_spans = resource.pop("scopeSpans")
    scope_spans[0]["instrumentationLibrary"] = scope_spans[0].pop("scope")
    resource["instrumentationLibrarySpans"] = scope_spans
    resource["futureField"] = {"x": 1}
    result = parse_otlp_traces(orjson.dumps(doc), encoding="json", table="traces")
    assert [(r["name"], r["scope_name"]) for r in rows(result)] == [("I'm a server span", "my.library")]


@pytest.mark.parametrize(
    ("body", "encoding", "reason"),
    [
        (b"{", "json", "invalid JSON"),
        (b"[]", "json", "is an object"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}', "json", "must be hex"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
            "json",
            "ExportTraceServiceRequest",
        ),
        (b'{"resourceSpans": 5}', "json", "ExportTraceServiceRequest"),
        (b"\x0a\x05abc", "protobuf", "ExportTraceServiceRequest"),
    ],
)
def test_a_body_that_is_not_a_request_fails_whole(body: bytes, encoding: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_otlp_traces(body, encoding=encoding, table="traces")
    assert reason in info.value.reason


def test_content_types() -> None:
    assert encoding_of("application/json") == "json"
    assert encoding_of("application/json; charset=utf-8") == "json"
    assert encoding_of("application/x-protobuf") == encoding_of(None) == "protobuf"


# --- properties -----------------------------------------------------------------------------


def _expected(case: SpanCase) -> dict[str, Any]:
    return {
        "time": case.start,
        "service_name": case.service,
        "name": case.name,
        "trace_id": case.trace_id.hex(),
        "span_id": case.span_id.hex(),
        "parent_span_id": case.parent.hex() or None,
        "end_time": case.end,
        "duration_ns": case.end - case.start,
        "status_message": case.status[1] or None,
        "attributes": plain_attributes(case.attributes) or None,
    }


@settings(deadline=None, max_examples=100)  # each example builds and parses two requests
@given(span_cases())
def test_protobuf_and_json_round_trip_to_the_same_rows(spans: list[SpanCase]) -> None:
    request: Any = traces_request(spans)
    from_protobuf = parse_otlp_traces(request.SerializeToString(), encoding="protobuf", table="t")
    from_json = parse_otlp_traces(otlp_json(request), encoding="json", table="t")
    assert from_protobuf.rejected == from_json.rejected == 0
    got = rows(from_protobuf)
    assert got == rows(from_json)
    for row in got:
        row["attributes"] = orjson.loads(row["attributes"]) if row["attributes"] else None
    keys = list(_expected(spans[0])) if spans else []
    assert [{k: r[k] for k in keys} for r in got] == [_expected(s) for s in spans]


@given(st.binary(max_size=300), st.sampled_from(["json", "protobuf"]))
def test_any_bytes_give_rows_or_parse_errors_only(body: bytes, encoding: str) -> None:
    with contextlib.suppress(ParseError):
        parse_otlp_traces(body, encoding=encoding, table="t")


_JSON_KEYS = st.sampled_from(
    [
        "resourceSpans",
        "scopeSpans",
        "spans",
        "traceId",
        "spanId",
        "name",
        "kind",
        "attributes",
        "key",
        "value",
        "stringValue",
        "intValue",
        "arrayValue",
        "values",
        "startTimeUnixNano",
        "links",
        "status",
        "code",
    ]
)
_JSON_DOCS = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_JSON_KEYS, inner, max_size=4),
    max_leaves=25,
)


@given(_JSON_DOCS)
def test_any_json_document_gives_rows_or_parse_errors_only(doc: Any) -> None:
    with contextlib.suppress(ParseError):
        parse_otlp_traces(json.dumps(doc).encode(), encoding="json", table="t")
