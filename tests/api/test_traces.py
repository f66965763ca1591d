"""Traces over HTTP: the CnosDB document's OpenTelemetry example, and the OTLP exporter at /v1/traces."""

from __future__ import annotations

import base64
import gzip
import subprocess
import sys
from typing import Any

import httpx
import orjson
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import RunningServer
from tests.protocols.test_otlp_traces import SPEC_JSON

# The "/api/v1/traces" Python example of the CnosDB document, verbatim; the test swaps in the
# server's address and the admin's credentials for "127.0.0.1:8902" and root/"".
SEED_EXAMPLE = """
import base64
from opentelemetry.sdk.resources import SERVICE_NAME, Resource

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

# Service name is required for most backends
resource = Resource(attributes={
    SERVICE_NAME: "test_service"
})
traceProvider = TracerProvider(resource=resource)

# 用户名和密码
username = "root"
password = ""

# 编码用户名和密码
credentials = f"{username}:{password}"
encoded_credentials = base64.b64encode(credentials.encode("utf-8")).decode("utf-8")

# 创建包含身份验证信息的头
headers = {
    "Authorization": f"Basic {encoded_credentials}",
    "tenant": "cnosdb",
    "db": "public",
    "table": "t1",
}

processor = BatchSpanProcessor(OTLPSpanExporter(
    endpoint="http://127.0.0.1:8902/api/v1/traces",
    headers=headers
))
traceProvider.add_span_processor(processor)

trace.set_tracer_provider(traceProvider)

for trace_index in range(10):
    tracer = trace.get_tracer(f"test_trace_{trace_index}")
    with tracer.start_as_current_span(f"trace_{trace_index}_parent_span") as parent_span:        
         with tracer.start_as_current_span("child_span_1") as child_span_1:
               with tracer.start_as_current_span("child_span_2") as child_span_2:
                    tracer.start_as_current_span("child_span_3")

# 关闭TracerProvider以确保所有span都已经被导出
trace.get_tracer_provider().shutdown()
"""  # noqa: W291


def _sql(client: httpx.Client, sql: str, db: str = "public") -> list[dict[str, Any]]:
    r = client.post("/api/v1/sql", params={"db": db}, content=sql, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


def _basic(server: RunningServer) -> str:
    return "Basic " + base64.b64encode(f"admin:{server.password}".encode()).decode()


def test_the_seed_opentelemetry_example_runs_unchanged(server: RunningServer, client: httpx.Client) -> None:
    script = (
        SEED_EXAMPLE.replace('username = "root"', 'username = "admin"')
        .replace('password = ""', f'password = "{server.password}"')
        .replace("http://127.0.0.1:8902", server.url)
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Failed to export" not in done.stderr, done.stderr.decode()

    rows = _sql(
        client,
        "SELECT trace_id, span_id, parent_span_id, name, kind, scope_name, service_name, status_code, duration_ns "
        "FROM t1 WHERE service_name = 'test_service' ORDER BY time",
    )
    assert len(rows) == 30  # ten traces of three spans: child_span_3 is never entered
    traces: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        traces.setdefault(row["trace_id"], []).append(row)
    assert len(traces) == 10
    for spans in traces.values():
        by_name = {r["name"]: r for r in spans}
        root = next(r for r in spans if r["name"].startswith("trace_"))
        assert root["parent_span_id"] is None
        assert by_name["child_span_1"]["parent_span_id"] == root["span_id"]
        assert by_name["child_span_2"]["parent_span_id"] == by_name["child_span_1"]["span_id"]
        index = root["name"].split("_")[1]
        assert {r["scope_name"] for r in spans} == {f"test_trace_{index}"}
        assert {(r["kind"], r["status_code"]) for r in spans} == {("SPAN_KIND_INTERNAL", "STATUS_CODE_UNSET")}
        assert all(r["duration_ns"] >= 0 and len(r["span_id"]) == 16 for r in spans)


def _spans(service: str) -> Any:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("checkout.lib", "1.2.3")
    with tracer.start_as_current_span("POST /cart") as span:
        span.set_attribute("http.request.method", "POST")
        span.set_attribute("http.response.status_code", 201)
        with tracer.start_as_current_span("SELECT cart"):
            pass
    provider.shutdown()
    return memory.get_finished_spans()


def test_the_otlp_exporter_at_v1_traces(server: RunningServer, client: httpx.Client, fresh_db: str) -> None:
    for compression in (Compression.NoCompression, Compression.Gzip):
        exporter = OTLPSpanExporter(
            endpoint=f"{server.url}/v1/traces",
            headers={"Authorization": _basic(server), "db": fresh_db},
            compression=compression,
        )
        assert exporter.export(_spans(f"checkout-{compression.value}")) == SpanExportResult.SUCCESS
        exporter.shutdown()
    rows = _sql(
        client, "SELECT service_name, name, scope_name, scope_version, attributes FROM traces ORDER BY time", fresh_db
    )
    assert {(r["service_name"], r["name"]) for r in rows} == {
        (f"checkout-{c}", n) for c in ("none", "gzip") for n in ("POST /cart", "SELECT cart")
    }
    assert {(r["scope_name"], r["scope_version"]) for r in rows} == {("checkout.lib", "1.2.3")}
    post = next(r for r in rows if r["name"] == "POST /cart")
    assert orjson.loads(post["attributes"]) == {"http.request.method": "POST", "http.response.status_code": 201}
    query = """SELECT attributes->>'$."http.request.method"' AS m FROM traces WHERE name = 'POST /cart'"""
    method = _sql(client, query, fresh_db)
    assert method == [{"m": "POST"}, {"m": "POST"}]


def test_otlp_json_and_partial_success(client: httpx.Client, fresh_db: str) -> None:
    headers = {"Content-Type": "application/json", "db": fresh_db, "table": "spans"}
    r = client.post("/v1/traces", content=SPEC_JSON, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json" and r.json() == {}

    doc = orjson.loads(SPEC_JSON)
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.append({**spans[0], "spanId": "0000000000000000"})
    r = client.post("/v1/traces", content=orjson.dumps(doc), headers=headers)
    assert r.status_code == 200
    partial = r.json()["partialSuccess"]
    assert partial["rejectedSpans"] == 1 and "invalid span id" in partial["errorMessage"]
    assert _sql(client, "SELECT count(*) AS n, min(kind) AS kind FROM spans", fresh_db) == [
        {"n": 2, "kind": "SPAN_KIND_SERVER"}
    ]

    r = client.post(
        "/v1/traces",
        content=gzip.compress(orjson.dumps(doc)),
        headers={**headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200 and r.json()["partialSuccess"]["rejectedSpans"] == 1


def test_protobuf_partial_success_and_errors_are_otlp_messages(client: httpx.Client, fresh_db: str) -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    headers = {"Content-Type": "application/x-protobuf", "db": fresh_db}
    request = encode_spans(_spans("svc"))
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\x01\x02"
    r = client.post("/v1/traces", content=request.SerializeToString(), headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(r.content)
    assert answer.partial_success.rejected_spans == 1 and "invalid trace id" in answer.partial_success.error_message

    r = client.post("/v1/traces", content=encode_spans(_spans("svc")).SerializeToString(), headers=headers)
    assert r.status_code == 200 and r.content == b""

    r = client.post("/v1/traces", content=b"\x0a\x05abc", headers=headers)
    assert r.status_code == 400 and r.headers["content-type"] == "application/x-protobuf"
    from google.rpc.status_pb2 import Status

    status = Status.FromString(r.content)
    assert status.code == 3 and "ExportTraceServiceRequest" in status.message
    r = client.post("/v1/traces", content=b"{", headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == 3 and "invalid JSON" in r.json()["message"]


def test_cnosdb_traces_needs_the_table_header_and_credentials(server: RunningServer, client: httpx.Client) -> None:
    r = client.post("/api/v1/traces", content=SPEC_JSON, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "'table' header is required" in r.json()["error_message"]
    r = client.post(
        "/api/v1/traces", content=SPEC_JSON, headers={"Content-Type": "application/json", "table": "t", "db": "nosuch"}
    )
    assert r.status_code == 422 and "CREATE DATABASE nosuch" in r.json()["error_message"]
    r = client.post("/api/v1/traces", content=b"\xff", headers={"table": "t"})
    assert r.status_code == 422 and set(r.json()) == {"error_code", "error_message"}
    r = httpx.post(f"{server.url}/api/v1/traces", content=SPEC_JSON, headers={"table": "t"})
    assert r.status_code == 401
    r = httpx.post(f"{server.url}/v1/traces", content=SPEC_JSON, headers={"Content-Type": "application/json"})
    assert r.status_code == 401
