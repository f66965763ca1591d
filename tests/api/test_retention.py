"""Retention takes series with their last samples; DROP TABLE leaves nothing of a table behind."""

from __future__ import annotations

import time

import httpx

from tests.api.test_metric_store import push
from tests.api.test_remote_write import sql, unique
from tests.protocols.test_remote_write import Series


def _until(check: object, what: str) -> None:
    deadline = time.monotonic() + 20
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_retention_deletes_series_rows_with_their_last_samples(client: httpx.Client, fresh_db: str) -> None:
    metric = unique("rt_load")
    now_ms = time.time_ns() // 10**6
    old_ms = now_ms - 3 * 86_400_000
    r = push(
        client,
        [
            Series([("__name__", metric), ("host", "gone")], [(1.0, old_ms)]),
            Series([("__name__", metric), ("host", "kept")], [(2.0, old_ms), (3.0, now_ms)]),
        ],
        fresh_db,
    )
    assert r.status_code == 204, r.text
    assert sql(client, "SELECT count(*) AS n FROM _heron_series", fresh_db) == [{"n": 2}]
    r = client.post("/api/v1/sql", params={"db": fresh_db}, content=f"ALTER DATABASE {fresh_db} SET TTL '1d'")
    assert r.status_code == 200, r.text
    _until(
        lambda: sql(client, "SELECT host FROM _heron_series ORDER BY host", fresh_db) == [{"host": "kept"}],
        "the expired series' row outlived its last sample",
    )
    assert sql(client, f"SELECT host, value FROM {metric}", fresh_db) == [{"host": "kept", "value": 3.0}]
    # The series comes back: a new row, read through the metric as before.
    assert (
        push(client, [Series([("__name__", metric), ("host", "gone")], [(4.0, now_ms)])], fresh_db).status_code == 204
    )
    rows = sql(client, f"SELECT host, value FROM {metric} ORDER BY host", fresh_db)
    assert rows == [{"host": "gone", "value": 4.0}, {"host": "kept", "value": 3.0}]


def test_drop_table_takes_a_metric_with_its_series_and_definition(client: httpx.Client, fresh_db: str) -> None:
    metric, other = unique("rt_drop"), unique("rt_other")
    now_ms = time.time_ns() // 10**6
    series = [
        Series([("__name__", metric), ("host", "a")], [(1.0, now_ms)]),
        Series([("__name__", other), ("host", "a")], [(9.0, now_ms)]),
    ]
    assert push(client, series, fresh_db).status_code == 204
    assert client.post("/api/v1/write", params={"db": fresh_db}, content="plain,host=a v=1").status_code == 200
    for name in (metric, "plain"):
        r = client.post("/api/v1/sql", params={"db": fresh_db}, content=f"DROP TABLE {name}")
        assert r.status_code == 200, r.text
    assert [t["table_name"] for t in sql(client, "SHOW TABLES", fresh_db)] == [other]
    assert sql(client, "SELECT name FROM _heron_metrics", fresh_db) == [{"name": other}]
    assert sql(client, "SELECT count(*) AS n FROM _heron_series", fresh_db) == [{"n": 1}]
    assert sql(client, "SELECT count(*) AS n FROM _heron_samples", fresh_db) == [{"n": 1}]
    r = client.post("/api/v1/sql", params={"db": fresh_db}, content=f"DROP TABLE {metric}")
    assert r.status_code == 422 and "does not exist" in r.text
    assert (
        client.post("/api/v1/sql", params={"db": fresh_db}, content=f"DROP TABLE IF EXISTS {metric}").status_code == 200
    )
    r = client.post("/api/v1/sql", params={"db": fresh_db}, content="DROP TABLE _heron_samples")
    assert r.status_code == 422 and "metric store" in r.text
    # Written again, the metric starts afresh.
    assert push(client, [Series([("__name__", metric), ("zone", "z")], [(5.0, now_ms)])], fresh_db).status_code == 204
    assert sql(client, f"SELECT * EXCLUDE (time) FROM {metric}", fresh_db) == [{"zone": "z", "value": 5.0}]
