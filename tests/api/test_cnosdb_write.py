"""CnosDB's /api/v1/write, /api/v1/sql and /api/v1/ping, starting from the seed's curl examples."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import zlib

import httpx
import orjson
import pytest
import zstandard

from tests.conftest import RunningServer


def _sql(client: httpx.Client, sql: str, db: str = "public", accept: str = "application/json") -> httpx.Response:
    return client.post("/api/v1/sql", params={"db": db}, content=sql, headers={"Accept": accept})


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_seed_curl_examples_work_as_written(server: RunningServer, client: httpx.Client) -> None:
    user = f"admin:{server.password}"
    client.post("/api/v1/sql", content="DROP DATABASE IF EXISTS example")
    assert client.post("/api/v1/sql", content="CREATE DATABASE example").status_code == 200

    def curl(*args: str) -> str:
        out = subprocess.run(["curl", "-s", "-i", *args], capture_output=True, check=True, timeout=30)
        return out.stdout.decode()

    wrote = curl("-u", user, "-XPOST", f"{server.url}/api/v1/write?db=example", "-d", "t1,foo=a,bar=b v=1")
    assert wrote.startswith("HTTP/1.1 200")
    assert "content-length: 0" in wrote.lower()
    answer = curl(
        "-u",
        user,
        "-H",
        "Accept: application/json",
        "-XPOST",
        f"{server.url}/api/v1/sql?db=example",
        "-d",
        "SELECT * from t1",
    )
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200") and "content-type: application/json" in head.lower()
    rows = orjson.loads(body)
    assert [(r["foo"], r["bar"], r["v"]) for r in rows] == [("a", "b", 1.0)]
    ping = curl("-G", f"{server.url}/api/v1/ping")
    assert orjson.loads(ping.partition("\r\n\r\n")[2])["status"] == "healthy"
    assert curl("-I", f"{server.url}/api/v1/ping").startswith("HTTP/1.1 200")


def test_a_malformed_line_rejects_the_whole_body(client: httpx.Client, fresh_db: str) -> None:
    body = "m,host=a v=1 1\nm,host=b v=oops 2\nm,host=c v=3 3\n"
    r = client.post("/api/v1/write", params={"db": fresh_db}, content=body)
    assert r.status_code == 422
    err = r.json()
    assert set(err) == {"error_code", "error_message"}
    assert "line 2, column" in err["error_message"]
    r = _sql(client, "SHOW TABLES", db=fresh_db)
    assert r.json() == []


def test_a_type_conflict_names_the_column_and_both_types(client: httpx.Client, fresh_db: str) -> None:
    assert client.post("/api/v1/write", params={"db": fresh_db}, content="m v=1.5 1").status_code == 200
    r = client.post("/api/v1/write", params={"db": fresh_db}, content="m v=2.5 2\nm v=7i 3")
    assert r.status_code == 422
    message = r.json()["error_message"]
    assert "'v'" in message and "float" in message and "integer" in message
    assert _sql(client, "SELECT count(*) AS n FROM m", db=fresh_db).json() == [{"n": 1}]


def test_an_unknown_database_says_how_to_create_it(client: httpx.Client) -> None:
    r = client.post("/api/v1/write", params={"db": "nosuchdb"}, content="m v=1")
    assert r.status_code == 422
    assert "CREATE DATABASE nosuchdb" in r.json()["error_message"]


@pytest.mark.parametrize(
    ("precision", "stamp", "expected"),
    [
        ("s", "1700000000", "2023-11-14T22:13:20.000000000"),
        ("ms", "1700000000123", "2023-11-14T22:13:20.123000000"),
        ("us", "1700000000123456", "2023-11-14T22:13:20.123456000"),
        ("ns", "1700000000123456789", "2023-11-14T22:13:20.123456789"),
    ],
)
def test_precision_scales_timestamps(
    client: httpx.Client, fresh_db: str, precision: str, stamp: str, expected: str
) -> None:
    r = client.post("/api/v1/write", params={"db": fresh_db, "precision": precision}, content=f"p v=1 {stamp}")
    assert r.status_code == 200, r.text
    assert _sql(client, "SELECT time FROM p", db=fresh_db).json() == [{"time": expected}]


def test_bad_precision_is_a_400(client: httpx.Client) -> None:
    r = client.post("/api/v1/write", params={"precision": "fortnight"}, content="m v=1")
    assert r.status_code == 400 and "invalid precision" in r.json()["error_message"]


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_compressed_bodies_are_accepted(client: httpx.Client, fresh_db: str, encoding: str, encode: object) -> None:
    body = "\n".join(f"z,host=h{i} v={i} {i}" for i in range(100)).encode()
    r = client.post(
        "/api/v1/write",
        params={"db": fresh_db},
        content=encode(body),  # type: ignore[operator]
        headers={"Content-Encoding": encoding},
    )
    assert r.status_code == 200, r.text
    assert _sql(client, "SELECT count(*) AS n FROM z", db=fresh_db).json() == [{"n": 100}]


def test_unknown_encoding_and_corrupt_gzip_are_400(client: httpx.Client) -> None:
    r = client.post("/api/v1/write", content=b"m v=1", headers={"Content-Encoding": "br"})
    assert r.status_code == 400 and "Content-Encoding 'br'" in r.json()["error_message"]
    r = client.post("/api/v1/write", content=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400 and "not valid gzip" in r.json()["error_message"]


def test_non_utf8_body_names_the_line(client: httpx.Client) -> None:
    r = client.post("/api/v1/write", content=b"m v=1 1\nm,host=\xff\xfe v=1 2\n")
    assert r.status_code == 422
    assert "line 2" in r.json()["error_message"]


def test_credentials_are_required(server: RunningServer) -> None:
    r = httpx.post(f"{server.url}/api/v1/write", content="m v=1")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert set(r.json()) == {"error_code", "error_message"}
    r = httpx.post(f"{server.url}/api/v1/write", content="m v=1", auth=("admin", "wrong"))
    assert r.status_code == 401
