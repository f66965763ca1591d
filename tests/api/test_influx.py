"""InfluxDB 1.x and 2.x compatibility, driven by the official Python clients."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from influxdb import InfluxDBClient
from influxdb_client import InfluxDBClient as InfluxDBClientV2
from influxdb_client import Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from tests.conftest import RunningServer


def _rows(client: httpx.Client, db: str, sql: str) -> list[dict[str, object]]:
    r = client.post("/api/v1/sql", params={"db": db}, content=sql, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_influxdb_1x_client_writes_and_reads_back_exactly(
    server: RunningServer, client: httpx.Client, fresh_db: str
) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    influx = InfluxDBClient(host=host, port=int(port), username="admin", password=server.password, database=fresh_db)
    assert influx.ping()
    points = [
        {
            "measurement": "cpu_load",
            "tags": {"host": "server01", "region": "us west"},
            "time": 1709287200123456789,
            "fields": {"value": 0.64, "count": 3, "ok": True, "note": 'say "hi", ok=1'},
        },
        {
            "measurement": "cpu_load",
            "tags": {"host": "server02", "region": "eu,central"},
            "time": 1709287201000000000,
            "fields": {"value": 1.5, "count": -7, "ok": False, "note": "back\\slash"},
        },
    ]
    assert influx.write_points(points, time_precision="n")
    rows = _rows(client, fresh_db, "SELECT * FROM cpu_load ORDER BY time")
    assert rows == [
        {
            "time": "2024-03-01T10:00:00.123456789",
            "host": "server01",
            "region": "us west",
            "value": 0.64,
            "count": 3,
            "ok": True,
            "note": 'say "hi", ok=1',
        },
        {
            "time": "2024-03-01T10:00:01.000000000",
            "host": "server02",
            "region": "eu,central",
            "value": 1.5,
            "count": -7,
            "ok": False,
            "note": "back\\slash",
        },
    ]
    influx.close()


def test_influxdb_2x_client_writes_and_reads_back_exactly(
    server: RunningServer, client: httpx.Client, fresh_db: str
) -> None:
    with InfluxDBClientV2(url=server.url, token=f"admin:{server.password}", org="-") as influx:
        assert influx.ping()
        write = influx.write_api(write_options=SYNCHRONOUS)
        stamp = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
        write.write(
            bucket=f"{fresh_db}/autogen",
            record=[
                Point("mem").tag("host", "a b").field("used", 42.5).field("pages", 10).time(stamp, WritePrecision.S),
                Point("mem").tag("host", "c").field("used", 1.0).field("pages", 11).time(stamp, WritePrecision.S),
            ],
            write_precision=WritePrecision.S,
        )
    rows = _rows(client, fresh_db, "SELECT host, used, pages, time FROM mem ORDER BY host")
    assert rows == [
        {"host": "a b", "used": 42.5, "pages": 10, "time": "2024-03-01T12:00:00.000000000"},
        {"host": "c", "used": 1.0, "pages": 11, "time": "2024-03-01T12:00:00.000000000"},
    ]


def test_v1_partial_write_keeps_valid_points(client: httpx.Client, fresh_db: str) -> None:
    body = "w v=1 1\nw v=oops 2\nw v=3 3\n"
    r = client.post("/write", params={"db": fresh_db}, content=body)
    assert r.status_code == 400
    assert r.json()["error"].startswith("partial write:") and "dropped=1" in r.json()["error"]
    assert _rows(client, fresh_db, "SELECT count(*) AS n FROM w") == [{"n": 2}]


def test_v1_type_conflict_is_a_partial_write(client: httpx.Client, fresh_db: str) -> None:
    assert client.post("/write", params={"db": fresh_db}, content="c v=1 1").status_code == 204
    r = client.post("/write", params={"db": fresh_db}, content="c v=2i 2\nc v=3 3")
    assert r.status_code == 400
    assert 'field type conflict: input field "v" on measurement "c"' in r.json()["error"]
    assert _rows(client, fresh_db, "SELECT count(*) AS n FROM c") == [{"n": 2}]


def test_v2_errors_use_the_v2_shape(client: httpx.Client, fresh_db: str) -> None:
    r = client.post("/api/v2/write", params={"bucket": fresh_db, "org": "x"}, content="w v=1 1\nw v= 2")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "invalid" and body["line"] == 2 and "1 written" in body["message"]
    r = client.post("/api/v2/write", params={"bucket": "missing", "org": "x"}, content="w v=1")
    assert r.status_code == 404 and r.json()["code"] == "not found"


def test_v1_unknown_database_is_404(client: httpx.Client) -> None:
    r = client.post("/write", params={"db": "missing"}, content="w v=1")
    assert r.status_code == 404 and r.json() == {"error": 'database not found: "missing"'}
    r = client.post("/write", content="w v=1")
    assert r.status_code == 400 and "database is required" in r.json()["error"]


@pytest.mark.parametrize("path", ["/ping", "/health"])
def test_ping_and_health_need_no_credentials(server: RunningServer, path: str) -> None:
    r = httpx.get(server.url + path)
    assert r.status_code in (200, 204)
    assert r.headers["x-influxdb-version"]
    if path == "/health":
        assert r.json()["status"] == "pass"


def test_v1_query_string_credentials_work(server: RunningServer, fresh_db: str) -> None:
    r = httpx.post(f"{server.url}/write", params={"db": fresh_db, "u": "admin", "p": server.password}, content="q v=1")
    assert r.status_code == 204
    r = httpx.post(f"{server.url}/write", params={"db": fresh_db, "u": "admin", "p": "nope"}, content="q v=1")
    assert r.status_code == 401 and "error" in r.json()
