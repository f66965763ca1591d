"""Logs over HTTP: CnosDB's /api/v1/es/_bulk (the seed's curl examples), the ES handshake, Loki's push."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from typing import Any

import cramjam
import httpx
import orjson
import pytest

from heron.protocols._pb import loki_push_pb2 as pb
from tests.conftest import RunningServer


def _sql(client: httpx.Client, sql: str, db: str = "public") -> list[dict[str, Any]]:
    r = client.post("/api/v1/sql", params={"db": db}, content=sql, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_seed_curl_examples_work_as_written(server: RunningServer, client: httpx.Client) -> None:
    user = f"admin:{server.password}"

    def curl(url: str, body: str) -> tuple[str, str]:
        out = subprocess.run(
            ["curl", "-s", "-i", "-u", user, "-XPOST", url, "-d", body], capture_output=True, check=True, timeout=30
        )
        head, _, payload = out.stdout.decode().partition("\r\n\r\n")
        return head, payload

    head, payload = curl(
        f"{server.url}/api/v1/es/_bulk?table=t1&time_column=date&tag_columns=node_id,operator_system",
        """{"create":{}}
{"date":"2024-03-27T02:51:11.687Z", "node_id":"1001", "operator_system":"linux", "msg":"test"}
{"index":{}}
{"date":"2024-03-28T02:51:11.688Z", "node_id":"2001", "operator_system":"linux", "msg":"test"}""",
    )
    assert head.startswith("HTTP/1.1 200"), head
    answer = orjson.loads(payload)
    assert answer["errors"] is False and isinstance(answer["took"], int)
    assert [(next(iter(i)), next(iter(i.values()))["status"]) for i in answer["items"]] == [
        ("create", 201),
        ("index", 201),
    ]
    head, _ = curl(
        f"{server.url}/api/v1/es/_bulk?table=t1&log_type=loki",
        """
{"streams": [{ "stream": { "instance": "host123", "job": "app42" }, "values": [ [ "0", "foo fizzbuzz bar" ] ] }]}""",
    )
    assert head.startswith("HTTP/1.1 200"), head
    head, _ = curl(
        f"{server.url}/api/v1/es/_bulk?table=t1&log_type=ndjson&time_column=date&tag_columns=node_id,operator_system",
        """{"date":"2024-03-27T02:51:11.687Z", "node_id":"1001", "operator_system":"linux", "msg":"test"}
{"date":"2024-03-28T02:51:11.688Z", "node_id":"2001", "operator_system":"linux", "msg":"test"}""",
    )
    assert head.startswith("HTTP/1.1 200"), head

    rows = _sql(
        client,
        "SELECT time, node_id, operator_system, msg, instance, job, line FROM t1 "
        "WHERE node_id IS NOT NULL OR job IS NOT NULL ORDER BY time, node_id",
    )
    day1 = {"node_id": "1001", "operator_system": "linux", "msg": "test", "instance": None, "job": None, "line": None}
    day2 = {**day1, "node_id": "2001"}
    assert rows == [
        {"time": "1970-01-01T00:00:00.000000000", "node_id": None, "operator_system": None, "msg": None,
         "instance": "host123", "job": "app42", "line": "foo fizzbuzz bar"},
        {"time": "2024-03-27T02:51:11.687000000", **day1},
        {"time": "2024-03-27T02:51:11.687000000", **day1},
        {"time": "2024-03-28T02:51:11.688000000", **day2},
        {"time": "2024-03-28T02:51:11.688000000", **day2},
    ]  # fmt: skip
    described = {r["column_name"]: (r["data_type"], r["column_type"]) for r in _sql(client, "DESCRIBE TABLE t1")}
    assert described["node_id"] == described["instance"] == ("VARCHAR", "TAG")
    assert described["msg"] == described["line"] == ("VARCHAR", "FIELD")


def test_a_bulk_body_with_nested_documents_as_a_shipper_sends_it(client: httpx.Client, fresh_db: str) -> None:
    docs = [
        {"@timestamp": "2024-03-27T02:51:11.687Z", "message": "GET /", "host": {"name": "web01", "ip": ["10.0.0.1"]},
         "http": {"response": {"status_code": 200}}, "log": {"level": "info"}},
        {"@timestamp": "2024-03-27T02:51:12Z", "message": "GET /x", "host": {"name": "web02"},
         "http": {"response": {"status_code": 404}}, "error": True},
    ]  # fmt: skip
    body = b"".join(
        orjson.dumps({"create": {"_index": "filebeat-8.17.0"}}) + b"\n" + orjson.dumps(d) + b"\n" for d in docs
    )
    r = client.post(
        "/api/v1/es/_bulk",
        params={"table": "weblogs", "db": fresh_db, "tag_columns": "host.name", "timeout": "60s"},
        content=gzip.compress(body),
        headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200 and r.headers["x-elastic-product"] == "Elasticsearch"
    items = r.json()["items"]
    assert [i["create"]["_index"] for i in items] == ["filebeat-8.17.0"] * 2
    assert all(len(i["create"]["_id"]) == 20 and i["create"]["result"] == "created" for i in items)
    rows = _sql(
        client,
        'SELECT time, message, "host.name", "host.ip", "http.response.status_code" AS code, "log.level", error '
        "FROM weblogs ORDER BY time",
        fresh_db,
    )
    assert rows == [
        {"time": "2024-03-27T02:51:11.687000000", "message": "GET /", "host.name": "web01",
         "host.ip": '["10.0.0.1"]', "code": 200.0, "log.level": "info", "error": None},
        {"time": "2024-03-27T02:51:12.000000000", "message": "GET /x", "host.name": "web02",
         "host.ip": None, "code": 404.0, "log.level": None, "error": True},
    ]  # fmt: skip


def test_items_fail_alone_for_bad_documents_conflicts_and_unsupported_actions(
    client: httpx.Client, fresh_db: str
) -> None:
    params = {"table": "app", "db": fresh_db}
    assert client.post("/api/v1/es/_bulk", params=params, content=b'{"index":{}}\n{"n": 1}\n').status_code == 200
    body = (
        b'{"index":{"_id":"a"}}\n{"n": "text"}\n'  # conflicts with the DOUBLE column n
        b'{"index":{"_id":"b"}}\n{"n": 2, "m": "ok"}\n'
        b'{"create":{"_id":"c"}}\n{"time": "not a time"}\n'
        b'{"delete":{"_id":"d"}}\n'
        b'{"update":{"_id":"e"}}\n{"doc": {"n": 3}}\n'
    )
    r = client.post("/api/v1/es/_bulk", params=params, content=body)
    assert r.status_code == 200
    answer = r.json()
    assert answer["errors"] is True
    results = [(action, item["_id"], item["status"]) for i in answer["items"] for action, item in i.items()]
    assert results == [("index", "a", 400), ("index", "b", 201), ("create", "c", 400), ("delete", "d", 400),
                       ("update", "e", 400)]  # fmt: skip
    errors = [next(iter(i.values())).get("error") for i in answer["items"]]
    assert errors[0]["type"] == "document_parsing_exception" and "'n'" in errors[0]["reason"]
    assert "cannot read 'time'" in errors[2]["reason"]
    assert errors[3]["type"] == "illegal_argument_exception" and "append-only" in errors[3]["reason"]
    assert _sql(client, "SELECT n, m FROM app ORDER BY n", fresh_db) == [{"n": 1.0, "m": None}, {"n": 2.0, "m": "ok"}]


def test_ndjson_and_loki_forms_are_all_or_nothing(client: httpx.Client, fresh_db: str) -> None:
    params = {"table": "nd", "db": fresh_db, "log_type": "ndjson"}
    r = client.post("/api/v1/es/_bulk", params=params, content=b'{"a": 1}\n{"a": \n{"a": 3}')
    assert r.status_code == 422
    assert set(r.json()) == {"error_code", "error_message"} and "line 2" in r.json()["error_message"]
    r = client.post("/api/v1/es/_bulk", params={**params, "log_type": "loki"}, content=b'{"streams": 1}')
    assert r.status_code == 422
    r = client.post("/api/v1/es/_bulk", params=params, content=b'{"a": 1}\n{"b": true}\n{"a": "x"}')
    assert r.status_code == 422
    message = r.json()["error_message"]
    assert "line 3" in message and "'a'" in message and "float" in message and "string" in message
    assert _sql(client, "SHOW TABLES", fresh_db) == []


def test_documents_of_one_bulk_body_that_disagree_on_a_type(client: httpx.Client, fresh_db: str) -> None:
    body = b'{"index":{}}\n{"a": 1}\n{"index":{}}\n{"a": "x"}\n{"index":{}}\n{"a": 2}\n'
    r = client.post("/api/v1/es/_bulk", params={"table": "mixed", "db": fresh_db}, content=body)
    assert [i["index"]["status"] for i in r.json()["items"]] == [201, 400, 201]
    assert "line 4" in r.json()["items"][1]["index"]["error"]["reason"]
    assert _sql(client, "SELECT a FROM mixed ORDER BY a", fresh_db) == [{"a": 1.0}, {"a": 2.0}]


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"log_type": "ndjson"}, 400, "'table' query parameter is required"),
        ({"table": "t", "log_type": "csv"}, 400, "unknown log_type 'csv'"),
        ({"table": "t", "db": "nosuchdb"}, 422, "CREATE DATABASE nosuchdb"),
    ],
)
def test_bad_parameters_get_cnosdb_errors(
    client: httpx.Client, params: dict[str, str], status: int, words: str
) -> None:
    r = client.post("/api/v1/es/_bulk", params=params, content=b'{"index":{}}\n{"a":1}\n')
    assert r.status_code == status and words in r.json()["error_message"]


def test_a_malformed_bulk_body_fails_whole(client: httpx.Client, fresh_db: str) -> None:
    r = client.post("/api/v1/es/_bulk", params={"table": "t", "db": fresh_db}, content=b'{"create":{}}\n')
    assert r.status_code == 422 and "no document" in r.json()["error_message"]


def test_the_elasticsearch_handshake_answers_what_shippers_check(server: RunningServer, client: httpx.Client) -> None:
    for path in ("/api/v1/es", "/api/v1/es/"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["x-elastic-product"] == "Elasticsearch"
        root = r.json()
        assert root["version"]["number"].startswith("8.") and root["tagline"] == "You Know, for Search"
        assert {"name", "cluster_name", "cluster_uuid"} <= set(root)
    assert client.head("/api/v1/es").status_code == 200
    assert client.get("/api/v1/es/_license").json()["license"]["status"] == "active"
    assert client.get("/api/v1/es/_xpack").json()["features"]["ilm"]["available"] is True
    assert client.get("/api/v1/es/_cluster/health").json()["status"] == "green"
    assert client.get("/api/v1/es/_nodes/http").json()["_nodes"]["total"] == 1
    for path in (
        "_index_template/filebeat-8.17.0",
        "_template/vector",
        "_component_template/c",
        "_ilm/policy/filebeat",
    ):
        assert client.head(f"/api/v1/es/{path}").status_code == 200
        assert client.get(f"/api/v1/es/{path}").status_code == 200
        r = client.put(f"/api/v1/es/{path}", json={"index_patterns": ["filebeat-*"], "template": {}})
        assert r.status_code == 200 and r.json() == {"acknowledged": True}
    assert "filebeat" in client.get("/api/v1/es/_ilm/policy/filebeat").json()
    assert client.head("/api/v1/es/_alias/filebeat-8.17.0").status_code == 200
    r = httpx.get(f"{server.url}/api/v1/es")
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "security_exception" and r.json()["status"] == 401


# --- Loki ---------------------------------------------------------------------------------------


def _push_request() -> bytes:
    request = pb.PushRequest()
    stream = request.streams.add(labels='{job="varlogs", host="web01"}')
    for i, line in enumerate(["first line", "second line"]):
        entry = stream.entries.add(line=line)
        entry.timestamp.seconds, entry.timestamp.nanos = 1_700_000_000 + i, 5
        if i == 0:
            entry.structuredMetadata.add(name="trace_id", value="0242ac120002")
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def test_a_loki_push_in_protobuf_and_json(client: httpx.Client, fresh_db: str) -> None:
    params = {"db": fresh_db, "table": "loki"}
    r = client.post(
        "/loki/api/v1/push", params=params, content=_push_request(), headers={"Content-Type": "application/x-protobuf"}
    )
    assert r.status_code == 204, r.text
    body = {"streams": [{"stream": {"job": "json", "host": "web02"}, "values": [["1700000002000000000", "third"]]}]}
    r = client.post(
        "/loki/api/v1/push",
        params=params,
        content=gzip.compress(orjson.dumps(body)),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 204, r.text
    rows = _sql(client, "SELECT time, job, host, trace_id, line FROM loki ORDER BY time", fresh_db)
    assert rows == [
        {"time": "2023-11-14T22:13:20.000000005", "job": "varlogs", "host": "web01", "trace_id": "0242ac120002",
         "line": "first line"},
        {"time": "2023-11-14T22:13:21.000000005", "job": "varlogs", "host": "web01", "trace_id": None,
         "line": "second line"},
        {"time": "2023-11-14T22:13:22.000000000", "job": "json", "host": "web02", "trace_id": None, "line": "third"},
    ]  # fmt: skip
    kinds = {r["column_name"]: r["column_type"] for r in _sql(client, "DESCRIBE TABLE loki", fresh_db)}
    assert kinds == {"time": "TIME", "job": "TAG", "host": "TAG", "trace_id": "TAG", "line": "FIELD"}


def test_a_loki_push_without_a_table_goes_to_logs(client: httpx.Client) -> None:
    body = {"streams": [{"stream": {"job": "default-table-test"}, "values": [["1", "x"]]}]}
    r = client.post("/loki/api/v1/push", content=orjson.dumps(body), headers={"Content-Type": "application/json"})
    assert r.status_code == 204
    assert _sql(client, "SELECT line FROM logs WHERE job = 'default-table-test'") == [{"line": "x"}]


def test_loki_keeps_the_valid_entries_and_names_the_ignored_ones(client: httpx.Client, fresh_db: str) -> None:
    body = {"streams": [{"stream": {"job": "a"}, "values": [["1", "ok"], ["soon", "bad"], ["2", "ok too"]]}]}
    r = client.post(
        "/loki/api/v1/push",
        params={"db": fresh_db},
        content=orjson.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert "total ignored: 1 out of 3" in r.json()["error"] and r.json()["status"] == "error"
    assert _sql(client, "SELECT line FROM logs ORDER BY time", fresh_db) == [{"line": "ok"}, {"line": "ok too"}]


def test_loki_errors(server: RunningServer, client: httpx.Client) -> None:
    r = client.post("/loki/api/v1/push", content=b"not snappy", headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400 and "snappy" in r.json()["error"]
    too_big = bytes(cramjam.snappy.compress_raw(b"\0" * (65 * 1024 * 1024)))
    r = client.post("/loki/api/v1/push", content=too_big, headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 413
    r = httpx.post(f"{server.url}/loki/api/v1/push", content=_push_request())
    assert r.status_code == 401


def test_a_bulk_body_without_table_goes_to_each_actions_index(client: httpx.Client, fresh_db: str) -> None:
    body = (
        b'{"index":{"_index":"app_logs"}}\n{"msg":"a","n":1}\n'
        b'{"create":{"_index":"audit"}}\n{"msg":"b"}\n'
        b'{"index":{}}\n{"msg":"c"}\n'
    )
    r = client.put("/api/v1/es/_bulk", params={"db": fresh_db}, content=body)
    assert r.status_code == 200, r.text
    statuses = [next(iter(i.values()))["status"] for i in r.json()["items"]]
    assert statuses == [201, 201, 400]
    assert "_index" in r.json()["items"][2]["index"]["error"]["reason"]
    assert _sql(client, "SELECT msg, n FROM app_logs", fresh_db) == [{"msg": "a", "n": 1.0}]
    r = client.post("/api/v1/es/audit/_bulk", params={"db": fresh_db}, content=b'{"index":{}}\n{"msg":"d"}\n')
    assert r.json()["errors"] is False
    assert _sql(client, "SELECT msg FROM audit ORDER BY msg", fresh_db) == [{"msg": "b"}, {"msg": "d"}]


def test_a_method_a_route_does_not_take_is_a_405_with_its_own_code(client: httpx.Client) -> None:
    r = client.delete("/api/v1/es/_bulk")
    assert r.status_code == 405 and r.json()["error_code"] == "method_not_allowed"
    r = client.get("/api/v1/no/such/route")
    assert r.status_code == 404 and r.json()["error"]
