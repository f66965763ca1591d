"""The metric store on the real server: metrics read as tables, survive restarts and kills,
and share one namespace with line protocol."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_crash import acknowledged_until_killed
from tests.api.test_remote_write import HEADERS, snappy, sql, unique
from tests.conftest import start_server
from tests.protocols.test_remote_write import T0, Series, encode_v1


def push(client: httpx.Client, series: list[Series], db: str = "public") -> httpx.Response:
    return client.post("/prometheus/v1/write", params={"db": db}, content=snappy(encode_v1(series)), headers=HEADERS)


def test_a_metric_is_a_table_to_sql_show_and_describe(client: httpx.Client, fresh_db: str) -> None:
    metric = unique("ms_cpu")
    r = push(
        client,
        [
            Series([("__name__", metric), ("host", "a")], [(1.0, T0)]),
            Series([("__name__", metric), ("host", "b"), ("zone", "z1")], [(2.0, T0 + 1000)]),
        ],
        fresh_db,
    )
    assert r.status_code == 204, r.text
    rows = sql(client, f"SELECT * FROM {metric} ORDER BY time", fresh_db)
    assert [(x["host"], x["zone"], x["value"]) for x in rows] == [("a", None, 1.0), ("b", "z1", 2.0)]
    assert list(rows[0]) == ["time", "host", "zone", "value"]
    shown = sql(client, "SHOW TABLES", fresh_db)
    assert [t["table_name"] for t in shown] == [metric]  # the store's own tables are not listed
    described = [
        (c["column_name"], c["data_type"], c["column_type"]) for c in sql(client, f"DESCRIBE TABLE {metric}", fresh_db)
    ]
    assert described == [
        ("time", "TIMESTAMP_NS", "TIME"),
        ("host", "VARCHAR", "TAG"),
        ("zone", "VARCHAR", "TAG"),
        ("value", "DOUBLE", "FIELD"),
    ]


def test_one_metric_from_every_metric_protocol_is_one_table(client: httpx.Client) -> None:
    metric = unique("ms_shared")
    assert push(client, [Series([("__name__", metric), ("ident", "h1")], [(1.0, T0)])]).status_code == 204
    r = client.post(
        "/opentsdb/put", json={"metric": metric, "timestamp": T0 // 1000 + 1, "value": 2, "tags": {"ident": "h1"}}
    )
    assert r.status_code == 200 and r.json()["succ"] == 1, r.text
    # Line protocol in the metric shape (one float field "value") lands in the same table.
    assert client.post("/api/v1/write", content=f"{metric},ident=h2 value=3.5 {(T0 + 2000) * 10**6}").status_code == 200
    rows = sql(client, f"SELECT ident, value FROM {metric} ORDER BY time")
    assert rows == [{"ident": "h1", "value": 1.0}, {"ident": "h1", "value": 2.0}, {"ident": "h2", "value": 3.5}]
    # One series for h1, whichever protocol sent it.
    assert sql(client, f"SELECT count(DISTINCT ident) AS n FROM {metric}") == [{"n": 2}]


def test_line_protocol_that_does_not_fit_a_metric_is_refused_by_name(client: httpx.Client) -> None:
    metric = unique("ms_strict")
    assert push(client, [Series([("__name__", metric)], [(1.0, T0)])]).status_code == 204
    r = client.post("/api/v1/write", content=f"{metric},host=a used=3i {T0 * 10**6}")
    assert r.status_code == 422, r.text
    assert metric in r.text and "used" in r.text
    r = client.post("/api/v1/write", content="_heron_samples value=1")
    assert r.status_code == 422 and "reserved" in r.text


def test_a_metric_that_is_already_an_ordinary_table_keeps_its_table(client: httpx.Client) -> None:
    metric = unique("ms_legacy")
    assert client.post("/api/v1/write", content=f"{metric},host=a value=1,extra=2 {T0 * 10**6}").status_code == 200
    assert push(client, [Series([("__name__", metric), ("host", "b")], [(5.0, T0 + 1000)])]).status_code == 204
    rows = sql(client, f"SELECT host, value, extra FROM {metric} ORDER BY time")
    assert rows == [{"host": "a", "value": 1.0, "extra": 2.0}, {"host": "b", "value": 5.0, "extra": None}]


def test_labels_added_later_widen_the_table_and_retention_expires_samples(client: httpx.Client, fresh_db: str) -> None:
    metric = unique("ms_wide")
    assert push(client, [Series([("__name__", metric), ("a", "1")], [(1.0, T0)])], fresh_db).status_code == 204
    assert (
        push(client, [Series([("__name__", metric), ("A", "2"), ("b", "x")], [(2.0, T0)])], fresh_db).status_code == 204
    )
    rows = sql(client, f"SELECT a, b, value FROM {metric} ORDER BY value", fresh_db)
    assert rows == [{"a": "1", "b": None, "value": 1.0}, {"a": "2", "b": "x", "value": 2.0}]
    r = client.post("/api/v1/sql", params={"db": fresh_db}, content=f"ALTER DATABASE {fresh_db} SET TTL '1d'")
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 10
    while sql(client, f"SELECT count(*) AS n FROM {metric}", fresh_db) != [{"n": 0}]:
        assert time.monotonic() < deadline, "samples from 2023 outlived a one-day TTL"
        time.sleep(0.3)


@pytest.mark.slow
@pytest.mark.parametrize("flush_interval", ["0.2", "3600"])
def test_acknowledged_samples_and_new_series_survive_sigkill(tmp_path: Path, flush_interval: str) -> None:
    """Every request brings new series and new metrics, so the log holds series and metric
    definitions as well as samples; after a kill all of them come back, and series sent
    again after the restart are not duplicated."""
    env = {"HERON_TSDB_FLUSH_INTERVAL_SECONDS": flush_interval}
    srv = start_server(tmp_path / "data", password="crash-test-password", env=env)

    def series_for(worker: int, seq: int) -> Series:
        return Series(
            [("__name__", f"crash_m{seq % 40}"), ("seq", str(seq)), ("worker", f"w{worker}")], [(seq, T0 + seq)]
        )

    def post(c: httpx.Client, worker: int, ids: range) -> bool:
        return push(c, [series_for(worker, i) for i in ids]).status_code == 204

    acked = acknowledged_until_killed(srv, post, workers=2, per_request=100, target=8_000, minimum=1_000)

    again = start_server(tmp_path / "data", password="crash-test-password", env=env)
    try:
        with again.client() as c:
            union = " UNION ALL ".join(f"SELECT worker, seq, value FROM crash_m{m}" for m in range(40))
            rows: list[dict[str, Any]] = sql(c, union)
            stored: list[set[int]] = [set(), set()]
            for row in rows:
                assert float(row["seq"]) == row["value"]
                stored[int(row["worker"][1:])].add(int(row["seq"]))
            for w in range(2):
                missing = acked[w] - stored[w]
                assert not missing, f"worker {w}: {len(missing)} acknowledged samples lost"
            before = sql(c, "SELECT count(*) AS n FROM _heron_series")[0]["n"]
            resent = sorted(acked[0])[:100]
            assert push(c, [series_for(0, i) for i in resent]).status_code == 204
            assert sql(c, "SELECT count(*) AS n FROM _heron_series")[0]["n"] == before
            assert 0 in acked[0]  # the first request of worker 0, sent again: stored twice
            assert sql(c, "SELECT count(*) AS n FROM crash_m0 WHERE worker = 'w0' AND seq = '0'") == [{"n": 2}]
    finally:
        again.stop()


def test_labels_named_like_store_columns_are_renamed_and_reserved_metrics_refused(client: httpx.Client) -> None:
    metric = unique("ms_reserved")
    r = push(client, [Series([("__key", "k"), ("__name__", metric), ("value", "v")], [(1.0, T0)])])
    assert r.status_code == 204, r.text
    assert sql(client, f"SELECT label___key, label_value, value FROM {metric}") == [
        {"label___key": "k", "label_value": "v", "value": 1.0}
    ]
    r = push(client, [Series([("__name__", "_heron_series")], [(1.0, T0)])])
    assert r.status_code == 400 and "reserved" in r.json()["err"]
