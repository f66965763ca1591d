"""Nightingale's push routes, CnosDB's OpenTSDB routes and categraf's heartbeat, on the real server."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from heron.core.errors import ParseError
from heron.protocols.heartbeat import parse_heartbeat
from tests.conftest import RunningServer, start_server
from tests.protocols.test_opentsdb import SEED_ARRAY, SEED_OBJECT
from tests.strategies import json_values


def sql(client: httpx.Client, query: str, db: str = "public") -> list[dict[str, Any]]:
    r = client.post("/api/v1/sql", params={"db": db}, content=query, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


def server_named(client: httpx.Client, name: str, *, timeout_s: float = 5.0) -> dict[str, Any] | None:
    """Poll the inventory until ``name`` shows up (sightings are flushed about once a second)."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = client.get("/api/v1/server")
        assert r.status_code == 200, r.text
        found = [s for s in r.json()["data"] if s["name"] == name]
        if found or time.monotonic() > deadline:
            return found[0] if found else None
        time.sleep(0.2)


def unique(prefix: str) -> str:
    return f"{prefix}_{time.time_ns()}"


# --- OpenTSDB, Nightingale's way ----------------------------------------------------------------

SEED_ROWS = [
    {"time": "2021-11-24T05:35:57.000000000", "cpu": "cpu-total", "ident": "c3-ceph01.bj", "value": 30.5},
]


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_the_seed_bodies_work_as_written(client: httpx.Client, fresh_db: str, encoding: str) -> None:
    for body in (SEED_ARRAY, SEED_OBJECT):
        headers = {"Content-Encoding": "gzip"} if encoding == "gzip" else {}
        content = gzip.compress(body) if encoding == "gzip" else body
        r = client.post("/opentsdb/put", params={"db": fresh_db}, content=content, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json() == {"succ": 2 if body is SEED_ARRAY else 1, "fail": 0, "msg": "received"}
    assert sql(client, "SELECT * FROM cpu_usage_idle ORDER BY time", fresh_db) == SEED_ROWS * 2
    assert sql(client, "SELECT value FROM cpu_usage_util", fresh_db) == [{"value": 69.5}]


def test_the_default_database_is_public(client: httpx.Client) -> None:
    metric = unique("n9e_default")
    r = client.post("/opentsdb/put", json={"metric": metric, "timestamp": 1700000000, "value": "7", "tags": {"a": "b"}})
    assert r.json()["succ"] == 1
    assert sql(client, f"SELECT a, value FROM {metric}") == [{"a": "b", "value": 7.0}]


def test_invalid_items_are_skipped_and_the_first_is_named(client: httpx.Client, fresh_db: str) -> None:
    body = [
        {"metric": "m", "timestamp": 1700000000, "value": 1},
        {"metric": "m", "timestamp": 1700000000, "value": "abc"},
        {"metric": "", "value": 1},
    ]
    r = client.post("/opentsdb/put", params={"db": fresh_db}, json=body)
    assert r.status_code == 200
    reply = r.json()
    assert (reply["succ"], reply["fail"]) == (1, 2)
    assert reply["msg"].startswith("received") and "item 2: value is not a number" in reply["msg"]


def test_items_a_type_conflict_drops_count_as_failed(client: httpx.Client, fresh_db: str) -> None:
    assert client.post("/api/v1/write", params={"db": fresh_db}, content="m,host=a value=1i 1").status_code == 200
    body = [
        {"metric": "m", "timestamp": 1700000000, "value": 2.5},
        {"metric": "ok", "timestamp": 1700000000, "value": 1},
    ]
    reply = client.post("/opentsdb/put", params={"db": fresh_db}, json=body).json()
    assert (reply["succ"], reply["fail"]) == (1, 1)
    assert "item 1: type conflict in table 'm', column 'value'" in reply["msg"]
    assert sql(client, "SELECT count(*) AS n FROM m", fresh_db) == [{"n": 1}]


@pytest.mark.parametrize("path", ["/opentsdb/put", "/api/put"])
def test_malformed_json_is_400_in_nightingales_envelope(client: httpx.Client, path: str) -> None:
    r = client.post(path, content=b'[{"metric": "m",')
    assert r.status_code == 400
    assert r.json()["dat"] is None and "malformed JSON" in r.json()["err"]


def test_opentsdb_details_and_summary_give_opentsdbs_answers(client: httpx.Client, fresh_db: str) -> None:
    good = {"metric": "sys.cpu.nice", "timestamp": 1346846400, "value": 18, "tags": {"host": "web01", "dc": "lga"}}
    bad = {"metric": "sys.cpu.nice", "timestamp": 1346846400, "value": "x", "tags": {"host": "web02"}}
    r = client.post("/api/put", params={"db": fresh_db, "summary": ""}, json=[good])
    assert (r.status_code, r.json()) == (200, {"success": 1, "failed": 0})
    r = client.post(f"/api/put?details&db={fresh_db}", json=[good, bad])
    assert r.status_code == 400
    doc = r.json()
    assert (doc["success"], doc["failed"]) == (1, 1)
    assert doc["errors"] == [{"datapoint": bad, "error": doc["errors"][0]["error"]}]
    assert doc["errors"][0]["error"].startswith("value is not a number")
    r = client.post("/api/put?summary", content=b"{")
    assert r.status_code == 400 and r.json()["error"]["code"] == 400
    r = client.post("/api/put?details", content=b"[]")
    assert r.status_code == 400 and r.json()["error"]["message"] == "No datapoints found in content"
    assert client.post("/api/put", params={"db": fresh_db}, json=good).json()["succ"] == 1


def test_an_ident_makes_its_host_appear_in_the_inventory(client: httpx.Client) -> None:
    name = unique("web01")
    before = time.time()
    r = client.post("/opentsdb/put", json={"metric": "cpu_usage_idle", "value": 3, "tags": {"ident": name}})
    assert r.json()["succ"] == 1
    found = server_named(client, name)
    assert found is not None and found["source"] == "ident"
    assert found["last_active"] is not None and found["online"] is True
    from datetime import datetime

    assert datetime.fromisoformat(found["last_active"]).timestamp() >= before - 1


def test_host_becomes_ident_and_ignore_ident_skips_registration(client: httpx.Client) -> None:
    skipped, seen = unique("skipped"), unique("seen")
    body = {"metric": "cpu_usage_idle", "value": 3, "tags": {"host": skipped}}
    assert client.post("/opentsdb/put", params={"ignore_ident": "true"}, json=body).json()["succ"] == 1
    assert client.post("/opentsdb/put", json={**body, "tags": {"host": seen}}).json()["succ"] == 1
    assert server_named(client, seen) is not None
    assert server_named(client, skipped, timeout_s=0) is None
    assert sql(client, f"SELECT count(*) AS n FROM cpu_usage_idle WHERE ident = '{skipped}'") == [{"n": 1}]


def test_an_unknown_database_is_422(client: httpx.Client) -> None:
    r = client.post("/opentsdb/put", params={"db": "nosuchdb"}, json={"metric": "m", "value": 1})
    assert r.status_code == 422 and "CREATE DATABASE nosuchdb" in r.json()["err"]


# --- Open-Falcon --------------------------------------------------------------------------------


def test_open_falcon_endpoints_become_idents(client: httpx.Client, fresh_db: str) -> None:
    endpoint = unique("falcon")
    body = [
        {"endpoint": endpoint, "metric": "cpu.idle", "timestamp": 1700000000, "step": 60, "value": 42.5,
         "counterType": "GAUGE", "tags": "idc=lg,loc=beijing"},
        {"endpoint": "e2", "metric": "cpu.idle", "timestamp": 1700000001, "step": 60, "value": "1",
         "counterType": "GAUGE", "tags": "ident=i-9"},
        {"endpoint": "e3", "metric": "cpu.idle", "value": "bad"},
    ]  # fmt: skip
    r = client.post("/openfalcon/push", params={"db": fresh_db}, json=body)
    assert r.status_code == 200 and r.json()["succ"] == 2 and r.json()["fail"] == 1
    got = sql(client, 'SELECT ident, idc, loc, endpoint, value FROM "cpu.idle" ORDER BY time', fresh_db)
    assert got == [
        {"ident": endpoint, "idc": "lg", "loc": "beijing", "endpoint": None, "value": 42.5},
        {"ident": "i-9", "idc": None, "loc": None, "endpoint": "e2", "value": 1.0},
    ]
    assert server_named(client, endpoint) is not None


# --- Datadog ------------------------------------------------------------------------------------


def dd_series(metric: str, host: str, stamp: float) -> dict[str, Any]:
    return {"series": [{"metric": metric, "points": [[stamp, 0.5]], "tags": ["env:prod", "standalone"], "host": host,
                        "type": "gauge", "interval": 10}]}  # fmt: skip


def test_datadog_v1_with_a_user_key_and_deflate(server: RunningServer, client: httpx.Client, fresh_db: str) -> None:
    key = f"admin:{server.password}"
    host = unique("dd")
    body = zlib.compress(orjson.dumps(dd_series("system.load.1", host, 1700000000.25)))
    with httpx.Client(base_url=server.url) as agent:
        r = agent.post(
            "/datadog/api/v1/series",
            params={"api_key": key, "db": fresh_db},
            content=body,
            headers={"Content-Encoding": "deflate", "Content-Type": "application/json"},
        )
        assert (r.status_code, r.json()) == (200, {"succ": 1, "fail": 0, "msg": "received"})
        assert agent.get("/datadog/api/v1/validate", headers={"DD-API-KEY": key}).json() == {"valid": True}
        r = agent.get("/datadog/api/v1/validate", params={"api_key": "wrong"})
        assert (r.status_code, r.json()) == (403, {"errors": ["Forbidden"]})
        r = agent.post("/datadog/api/v1/series", params={"api_key": "wrong"}, json=dd_series("m", host, 1))
        assert r.status_code == 403
        for path in ("/datadog/api/v1/check_run", "/datadog/intake/", "/datadog/api/v1/metadata"):
            assert agent.post(path, params={"api_key": key}, json=[]).status_code == 202
    got = sql(client, 'SELECT time, env, ident, value FROM "system.load.1"', fresh_db)
    assert got == [{"time": "2023-11-14T22:13:20.250000000", "env": "prod", "ident": host, "value": 0.5}]
    assert server_named(client, host) is not None


def test_datadog_v2_json(client: httpx.Client, fresh_db: str) -> None:
    body = {"series": [
        {"metric": "system.load.5", "type": 3, "points": [{"timestamp": 1700000000, "value": 0.7}],
         "resources": [{"type": "host", "name": "dd-v2"}], "tags": ["role:db"]},
        {"metric": "system.load.5", "points": [{"timestamp": 0, "value": 1}]},
    ]}  # fmt: skip
    r = client.post("/datadog/api/v2/series", params={"db": fresh_db}, json=body)
    assert r.status_code == 202
    assert r.json()["errors"] == [
        "series 2: point 1: timestamp must be positive Unix seconds "
        '(expected {"timestamp": ..., "value": ...}, got {"timestamp":0,"value":1})'
    ]
    assert sql(client, 'SELECT role, ident, value FROM "system.load.5"', fresh_db) == [
        {"role": "db", "ident": "dd-v2", "value": 0.7}
    ]
    r = client.post("/datadog/api/v2/series", content=b"\x0a\x00", headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400 and "use_v2_api.series" in r.json()["err"]


# --- categraf's heartbeat -----------------------------------------------------------------------


def test_a_heartbeat_registers_the_host_with_meta_and_clock_offset(client: httpx.Client) -> None:
    name = unique("categraf")
    beat = {
        "agent_version": "v0.3.80", "os": "linux", "arch": "amd64", "hostname": name, "cpu_num": 8,
        "cpu_util": 12.5, "mem_util": 41.2, "unixtime": time.time_ns() // 1_000_000 - 5000,
        "host_ip": "10.0.0.5", "global_labels": {"region": "eu"}, "extend_info": {"cpu": {}},
    }  # fmt: skip
    r = client.post(
        "/v1/n9e/heartbeat", content=gzip.compress(orjson.dumps(beat)), headers={"Content-Encoding": "gzip"}
    )
    assert (r.status_code, r.json()) == (200, {"dat": None, "err": ""})
    found = server_named(client, name)
    assert found is not None and found["source"] == "heartbeat"
    host = found["host"]
    assert (host["platform"], host["arch"], host["version"]) == ("linux", "amd64", "v0.3.80")
    assert found["geoip"]["ip"]["ipv4_addr"] == "10.0.0.5"
    assert found["labels"] == {"region": "eu"}
    assert 5000 <= found["clock_offset_ms"] < 15000


def test_a_heartbeat_without_hostname_is_400(client: httpx.Client) -> None:
    r = client.post("/v1/n9e/heartbeat", json={"os": "linux"})
    assert (r.status_code, r.json()) == (400, {"dat": None, "err": "hostname is required"})


@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"hostname": 5}', b'{"hostname": "h", "cpu_num": "8"}', b'{"hostname": "h", "global_labels": []}'],
)
def test_heartbeat_fields_of_the_wrong_type_are_parse_errors(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_heartbeat(body, now_ms=0)


def test_heartbeat_offset_is_server_time_minus_agent_time() -> None:
    beat = parse_heartbeat(b'{"hostname": " h1 ", "unixtime": 1000, "cpu_num": 4.0}', now_ms=3500)
    assert (beat.hostname, beat.clock_offset_ms, beat.cpu_num) == ("h1", 2500, 4)
    assert parse_heartbeat(b'{"hostname": "h1"}', now_ms=3500).clock_offset_ms == 0


@given(
    st.binary()
    | json_values().map(orjson.dumps)
    | st.dictionaries(st.just("hostname"), json_values()).map(orjson.dumps)
)
def test_any_heartbeat_bytes_give_a_heartbeat_or_a_parse_error(body: bytes) -> None:
    try:
        beat = parse_heartbeat(body, now_ms=1)
    except ParseError:
        return
    assert beat.hostname


# --- CnosDB's OpenTSDB routes -------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_cnosdb_curl_example_works_as_written(server: RunningServer, client: httpx.Client) -> None:
    client.post("/api/v1/sql", content="DROP DATABASE IF EXISTS example")
    assert client.post("/api/v1/sql", content="CREATE DATABASE example").status_code == 200
    out = subprocess.run(
        ["curl", "-s", "-i", "-u", f"admin:{server.password}", "-XPOST",
         f"{server.url}/api/v1/opentsdb/write?db=example",
         "-d", "sys.if.bytes.out 1666165200290401000 1 host=web01 interface=eth0"],
        capture_output=True, check=True, timeout=30,
    ).stdout.decode()  # fmt: skip
    assert out.startswith("HTTP/1.1 200") and "content-length: 0" in out.lower()
    assert sql(client, 'SELECT * FROM "sys.if.bytes.out"', "example") == [
        {"time": "2022-10-19T07:40:00.290401000", "host": "web01", "interface": "eth0", "value": 1.0}
    ]


def test_cnosdb_text_lines_are_all_or_nothing(client: httpx.Client, fresh_db: str) -> None:
    r = client.post(
        "/api/v1/opentsdb/write", params={"db": fresh_db, "precision": "s"}, content="m 1700000000 1 a=b\nm x 2 a=c\n"
    )
    assert r.status_code == 422
    assert set(r.json()) == {"error_code", "error_message"}
    assert r.json()["error_message"].startswith("line 2, column 3: invalid timestamp")
    assert sql(client, "SHOW TABLES", fresh_db) == []
    r = client.post("/api/v1/opentsdb/write", params={"db": fresh_db, "precision": "s"}, content="m 1700000000 1 a=b")
    assert (r.status_code, r.content) == (200, b"")
    assert sql(client, "SELECT time, a, value FROM m", fresh_db) == [
        {"time": "2023-11-14T22:13:20.000000000", "a": "b", "value": 1.0}
    ]


def test_cnosdb_json_put_needs_tags_and_answers_like_cnosdb(client: httpx.Client, fresh_db: str) -> None:
    point = {"metric": "sys.cpu.nice", "timestamp": 1346846400000, "value": 18, "tags": {"host": "web01"}}
    r = client.post("/api/v1/opentsdb/put", params={"db": fresh_db, "precision": "ms"}, json=[point])
    assert (r.status_code, r.content) == (200, b"")
    untagged = {k: v for k, v in point.items() if k != "tags"}
    r = client.post("/api/v1/opentsdb/put", params={"db": fresh_db, "precision": "ms"}, json=[point, untagged])
    assert r.status_code == 422 and r.json()["error_message"].startswith("data point 2: missing field 'tags'")
    assert sql(client, 'SELECT host, value FROM "sys.cpu.nice"', fresh_db) == [{"host": "web01", "value": 18.0}]


def test_cnosdb_routes_need_a_user(server: RunningServer) -> None:
    for path in ("/api/v1/opentsdb/write", "/api/v1/opentsdb/put"):
        r = httpx.post(f"{server.url}{path}", content=b"m 1 1")
        assert r.status_code == 401 and set(r.json()) == {"error_code", "error_message"}


# --- who may push -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def push_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningServer]]:
    configs = {
        "disabled": {"HERON_PUSH_ENABLED": "false"},
        "open": {"HERON_PUSH_OPEN": "true"},
        "agents": {"HERON_PUSH_BASIC_AUTH": "user001:Pa55word01,user002:Pa55word02"},
    }
    started: dict[str, RunningServer] = {}
    try:
        for name, env in configs.items():
            started[name] = start_server(Path(tmp_path_factory.mktemp(f"push-{name}")), env=env)
        yield started
    finally:
        for srv in started.values():
            srv.stop()


PUSHES = [
    ("post", "/opentsdb/put", {"metric": "m", "value": 1}),
    ("post", "/api/put", {"metric": "m", "value": 1}),
    ("post", "/openfalcon/push", {"metric": "m", "value": 1}),
    ("post", "/v1/n9e/heartbeat", {"hostname": "h"}),
    ("post", "/datadog/api/v1/series", dd_series("m", "h", 1)),
    ("get", "/datadog/api/v1/validate", None),
]


def test_disabled_push_routes_do_not_exist(push_servers: dict[str, RunningServer]) -> None:
    srv = push_servers["disabled"]
    with srv.client() as c:
        for method, path, body in PUSHES:
            r = c.request(method, path, json=body)
            assert r.status_code == 404, path
            assert r.json()["dat"] is None and "disabled" in r.json()["err"]
        assert c.post("/api/v1/opentsdb/write", content="m 1 1").status_code == 200


def test_open_push_needs_no_credentials(push_servers: dict[str, RunningServer]) -> None:
    srv = push_servers["open"]
    with httpx.Client(base_url=srv.url) as anonymous:
        for method, path, body in PUSHES:
            r = anonymous.request(method, path, json=body)
            assert r.status_code == 200, (path, r.text)
        assert anonymous.post("/api/v1/opentsdb/write", content="m 1 1").status_code == 401


def test_configured_agents_push_with_basic_auth_or_their_password_as_api_key(
    push_servers: dict[str, RunningServer],
) -> None:
    srv = push_servers["agents"]
    with httpx.Client(base_url=srv.url) as c:
        assert c.post("/opentsdb/put", json={"metric": "m", "value": 1}).status_code == 401
        r = c.post("/opentsdb/put", json={"metric": "m", "value": 1}, auth=("user001", "Pa55word01"))
        assert r.status_code == 200 and r.json()["succ"] == 1
        r = c.post("/openfalcon/push", json={"metric": "m", "value": 1}, auth=("user002", "wrong"))
        assert r.status_code == 401 and r.json()["dat"] is None
        assert c.post("/opentsdb/put", json={"metric": "m", "value": 1}, auth=srv.auth).status_code == 200
        assert c.get("/datadog/api/v1/validate", params={"api_key": "Pa55word02"}).json() == {"valid": True}
        assert c.get("/datadog/api/v1/validate", params={"api_key": "user002"}).status_code == 403
        assert c.get("/datadog/api/v1/validate").status_code == 403
        r = c.post("/datadog/api/v1/series", params={"api_key": "Pa55word01"}, json=dd_series("m", "h", 1))
        assert r.json() == {"succ": 1, "fail": 0, "msg": "received"}
