"""/api/v1/sql: formats chosen by Accept, catalog statements, streaming, errors, retention."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import orjson
import pytest

from tests.conftest import RunningServer


@pytest.fixture
def loaded(client: httpx.Client, fresh_db: str) -> str:
    body = "cpu,host=a v=1.5,n=1i 1000000000\ncpu,host=b v=2.5,n=2i 2000000000\n"
    assert client.post("/api/v1/write", params={"db": fresh_db}, content=body).status_code == 200
    return fresh_db


def _sql(client: httpx.Client, db: str, sql: str, accept: str | None = None, **params: str) -> httpx.Response:
    headers = {"Accept": accept} if accept is not None else {}
    return client.post("/api/v1/sql", params={"db": db, **params}, content=sql, headers=headers)


FORMATS = [
    (None, "text/csv", "host,v,n\na,1.5,1\nb,2.5,2\n"),
    ("*/*", "text/csv", "host,v,n\na,1.5,1\nb,2.5,2\n"),
    ("text/csv", "text/csv", "host,v,n\na,1.5,1\nb,2.5,2\n"),
    ("text/tsv", "text/tsv", "host\tv\tn\na\t1.5\t1\nb\t2.5\t2\n"),
    ("application/json", "application/json", '[{"host":"a","v":1.5,"n":1},{"host":"b","v":2.5,"n":2}]'),
    ("application/nd-json", "application/nd-json", '{"host":"a","v":1.5,"n":1}\n{"host":"b","v":2.5,"n":2}\n'),
    ("application/x-ndjson", "application/nd-json", '{"host":"a","v":1.5,"n":1}\n{"host":"b","v":2.5,"n":2}\n'),
    (
        "text/table",
        "text/table",
        "+------+-----+---+\n| host | v   | n |\n+------+-----+---+\n| a    | 1.5 | 1 |\n"
        "| b    | 2.5 | 2 |\n+------+-----+---+\n",
    ),
]


@pytest.mark.parametrize(("accept", "content_type", "expected"), FORMATS)
@pytest.mark.parametrize("chunked", ["false", "true"])
def test_accept_chooses_the_format(
    client: httpx.Client, loaded: str, accept: str | None, content_type: str, expected: str, chunked: str
) -> None:
    r = _sql(client, loaded, "SELECT host, v, n FROM cpu ORDER BY host", accept, chunked=chunked)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(content_type)
    assert r.text == expected


def test_unknown_accept_is_400(client: httpx.Client, loaded: str) -> None:
    r = _sql(client, loaded, "SELECT 1", "image/png")
    assert r.status_code == 400 and "unsupported Accept" in r.json()["error_message"]


def test_more_than_one_statement_is_422(client: httpx.Client, loaded: str) -> None:
    r = _sql(client, loaded, "SELECT 1; SELECT 2")
    assert r.status_code == 422 and "exactly one statement" in r.json()["error_message"]


def test_sql_errors_are_422_with_cnosdb_shape(client: httpx.Client, loaded: str) -> None:
    r = _sql(client, loaded, "SELECT nosuchcolumn FROM cpu")
    assert r.status_code == 422
    assert set(r.json()) == {"error_code", "error_message"} and "nosuchcolumn" in r.json()["error_message"]
    r = _sql(client, loaded, "SELEC 1")
    assert r.status_code == 422 and "syntax" in r.json()["error_message"].lower()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "COPY cpu TO '/tmp/heron-out.csv'",
        "ATTACH '/tmp/x.duckdb'",
        "INSTALL httpfs",
        "SET threads = 1",
        "SELECT * FROM duckdb_tables()",
        "SELECT * FROM information_schema.tables",
        'SELECT * FROM "cnosdb/public".cpu',
        "DELETE FROM cpu",
    ],
)
def test_sql_escapes_are_refused_with_4xx(client: httpx.Client, loaded: str, sql: str) -> None:
    r = _sql(client, loaded, sql)
    assert 400 <= r.status_code < 500, r.text
    assert _sql(client, loaded, "SELECT count(*) AS n FROM cpu", "application/json").json() == [{"n": 2}]


def test_chunked_streams_and_reports_late_errors_in_the_body(client: httpx.Client, loaded: str) -> None:
    sql = "SELECT CAST(CASE WHEN i < 3000000 THEN '1' ELSE 'x' END AS INTEGER) AS v FROM range(4000000) t(i)"
    with client.stream(
        "POST",
        "/api/v1/sql",
        params={"db": loaded, "chunked": "true"},
        content=sql,
        headers={"Accept": "application/nd-json"},
    ) as r:
        assert r.status_code == 200
        text = r.read().decode()
    lines = text.strip().split("\n")
    assert lines[0] == '{"v":1}' and len(lines) > 1000
    assert lines[-1].startswith("error:") and "Could not convert string 'x'" in lines[-1]


def test_catalog_statements(client: httpx.Client) -> None:
    name = "catalog_test"
    _sql(client, "public", f"DROP DATABASE IF EXISTS {name}")
    assert _sql(client, "public", f"CREATE DATABASE {name} WITH TTL '30d'").status_code == 200
    r = _sql(client, "public", f"CREATE DATABASE {name}")
    assert r.status_code == 422 and "already exists" in r.json()["error_message"]
    assert _sql(client, "public", f"CREATE DATABASE IF NOT EXISTS {name}").status_code == 200
    dbs = [d["database_name"] for d in _sql(client, "public", "SHOW DATABASES", "application/json").json()]
    assert name in dbs and "public" in dbs
    assert _sql(client, name, f"DESCRIBE DATABASE {name}", "application/json").json()[0]["ttl"] == "30d"
    assert _sql(client, name, f"ALTER DATABASE {name} SET TTL '7d'").status_code == 200
    assert _sql(client, name, f"DESCRIBE DATABASE {name}", "application/json").json()[0]["ttl"] == "1w"
    assert client.post("/api/v1/write", params={"db": name}, content="t1,foo=a v=1i").status_code == 200
    assert _sql(client, name, "SHOW TABLES", "application/json").json() == [{"table_name": "t1"}]
    assert _sql(client, name, "DESCRIBE TABLE t1", "application/json").json() == [
        {"column_name": "time", "data_type": "TIMESTAMP_NS", "column_type": "TIME"},
        {"column_name": "foo", "data_type": "VARCHAR", "column_type": "TAG"},
        {"column_name": "v", "data_type": "BIGINT", "column_type": "FIELD"},
    ]
    assert _sql(client, "public", f"DROP DATABASE {name}").status_code == 200
    r = client.post("/api/v1/write", params={"db": name}, content="t1 v=1i")
    assert r.status_code == 422 and "does not exist" in r.json()["error_message"]
    assert _sql(client, "public", "DROP DATABASE nosuch").status_code == 422
    assert _sql(client, "public", "DROP DATABASE public").status_code == 422


def test_members_cannot_change_databases(server: RunningServer, client: httpx.Client) -> None:
    created = subprocess.run(
        [sys.executable, "-m", "heron", "user", "create", "member1", "--data-dir", str(server.data_dir)],
        input=b"member-password\n",
        check=False,
        capture_output=True,
    )
    assert created.returncode == 0, created.stderr
    with httpx.Client(base_url=server.url, auth=("member1", "member-password")) as member:
        r = member.post("/api/v1/sql", content="CREATE DATABASE forbidden_db")
        assert r.status_code == 403 and "admin role" in r.json()["error_message"]
        assert member.post("/api/v1/write", content="m v=1").status_code == 200


def test_ttl_retention_deletes_old_points(client: httpx.Client) -> None:
    name = "short_lived"
    _sql(client, "public", f"DROP DATABASE IF EXISTS {name}")
    assert _sql(client, "public", f"CREATE DATABASE {name} WITH TTL '1h'").status_code == 200
    now = time.time_ns()
    body = f"r v=1 {now - 2 * 3600 * 10**9}\nr v=2 {now}\n"
    assert client.post("/api/v1/write", params={"db": name}, content=body).status_code == 200
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = orjson.loads(_sql(client, name, "SELECT v FROM r", "application/json").content)
        if rows == [{"v": 2.0}]:
            break
        time.sleep(0.2)
    assert rows == [{"v": 2.0}]
    _sql(client, "public", f"DROP DATABASE {name}")
