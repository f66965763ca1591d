"""No write can take the store down.

* Names the store cannot hold (a NUL in a key, an empty or overlong name, keys differing only
  in case) are refused in each dialect's way, naming the key; nothing of them is logged.
* A Hypothesis property over every write route: whatever a route acknowledges can be read
  by SQL right after, and ``SELECT 1`` and an unrelated table keep answering.
* Admission control: past the in-flight byte budget (held on purpose by writes whose bodies
  stall), a write waits and then gets 429 with ``Retry-After`` (503 on remote write); under
  many clients no connection is reset and every 2xx is stored.
"""

from __future__ import annotations

import base64
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import cramjam
import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import RunningServer, start_server
from tests.protocols.test_remote_write import Series, encode_v1

NOW_NS = 1_700_000_000_000_000_000
SENTINEL = "sentinel"


def _sql(client: httpx.Client, query: str, db: str) -> httpx.Response:
    return client.post(f"/api/v1/sql?db={db}", content=query, headers={"Accept": "application/json"})


def _new_db(client: httpx.Client) -> str:
    """A database with one table no test writes to, so its reads show the store is answering."""
    db = "w_" + secrets.token_hex(4)
    assert client.post("/api/v1/sql", content=f"CREATE DATABASE {db}").status_code == 200
    assert client.post(f"/api/v1/write?db={db}", content=f"{SENTINEL},host=a v=1 {NOW_NS}").status_code == 200
    return db


def assert_store_answers(client: httpx.Client, db: str) -> None:
    """``SELECT 1``, the sentinel table, and every table of ``db`` read without error."""
    one = _sql(client, "SELECT 1 AS one", db)
    assert one.status_code == 200, one.text
    sentinel = _sql(client, f"SELECT count(*) AS n FROM {SENTINEL}", db)
    assert sentinel.status_code == 200 and sentinel.json() == [{"n": 1}], sentinel.text
    tables = _sql(client, "SHOW TABLES", db)
    assert tables.status_code == 200, tables.text
    for row in tables.json():
        name = next(iter(row.values()))
        quoted = '"' + name.replace('"', '""') + '"'
        r = _sql(client, f"SELECT count(*) AS n FROM {quoted}", db)
        assert r.status_code == 200, f"table {name!r} is not readable: {r.text}"


# --- the reproductions ---------------------------------------------------------------------------


def test_a_nul_in_a_line_protocol_field_key_is_refused_naming_the_key(client: httpx.Client) -> None:
    db = _new_db(client)
    body = f"nul1,host=b \x00sed=12i {NOW_NS}\nok1,host=a v=1 {NOW_NS}".encode()
    influx = client.post(f"/write?db={db}", content=body)
    assert influx.status_code == 400
    assert "field key '\\x00sed' contains the control character U+0000" in influx.json()["error"]
    assert "dropped=1" in influx.json()["error"]
    cnosdb = client.post(f"/api/v1/write?db={db}", content=body)
    assert cnosdb.status_code == 422 and "line 1, column 13" in cnosdb.json()["error_message"]
    assert _sql(client, "SELECT count(*) AS n FROM ok1", db).json() == [{"n": 1}]  # InfluxDB's partial write
    assert _sql(client, "SHOW TABLES", db).json() == [{"table_name": "ok1"}, {"table_name": SENTINEL}]
    assert_store_answers(client, db)


def test_a_nul_in_a_line_protocol_tag_key_is_refused_on_every_route(client: httpx.Client) -> None:
    db = _new_db(client)
    body = f"p1,h\x00st=b v=1 {NOW_NS}".encode()
    assert client.post(f"/write?db={db}", content=body).status_code == 400
    v2 = client.post(f"/api/v2/write?bucket={db}", content=body)
    assert v2.status_code == 400 and "tag key 'h\\x00st'" in v2.json()["message"]
    assert client.post(f"/api/v1/write?db={db}", content=body).status_code == 422
    assert_store_answers(client, db)


def test_names_that_are_too_long_empty_or_differ_only_in_case_are_refused(client: httpx.Client) -> None:
    db = _new_db(client)
    cases = {
        f"m,a=1 {'k' * 300}=1 {NOW_NS}": "is 300 characters long; at most 256",
        f"m,Host=a,host=b v=1 {NOW_NS}": "differ only in case",
        f"m,a=1 V=1,v=2 {NOW_NS}": "differ only in case",
        f"{'m' * 257} v=1 {NOW_NS}": "measurement",
    }
    for line, words in cases.items():
        r = client.post(f"/api/v1/write?db={db}", content=line)
        assert r.status_code == 422 and words in r.json()["error_message"], (line[:40], r.text)
    assert_store_answers(client, db)


def test_a_nul_in_an_opentsdb_tag_key_fails_the_item_and_keeps_the_others(client: httpx.Client) -> None:
    db = _new_db(client)
    items = [
        {"metric": "m1", "value": 1, "tags": {"h\u0000st": "a"}},
        {"metric": "m1", "value": 2, "timestamp": NOW_NS // 10**9, "tags": {"host": "a"}},
    ]
    r = client.post(f"/opentsdb/put?db={db}", content=orjson.dumps(items))
    assert r.status_code == 200
    assert (r.json()["succ"], r.json()["fail"]) == (1, 1)
    assert "tag name 'h\\x00st' contains the control character U+0000" in r.json()["msg"]
    cnosdb = client.post(f"/api/v1/opentsdb/put?db={db}", content=orjson.dumps({**items[0], "timestamp": NOW_NS}))
    assert cnosdb.status_code == 422
    assert_store_answers(client, db)


def test_a_nul_in_an_es_bulk_field_name_fails_that_document_alone(client: httpx.Client) -> None:
    db = _new_db(client)
    body = b'{"index":{}}\n{"m\\u0000sg":"x"}\n{"index":{}}\n{"msg":"y"}\n'
    r = client.post(f"/api/v1/es/_bulk?db={db}&table=eslogs", content=body)
    assert r.status_code == 200 and r.json()["errors"] is True
    first, second = (item["index"] for item in r.json()["items"])
    assert first["status"] == 400 and "the key 'm\\x00sg' cannot be a column" in first["error"]["reason"]
    assert second["status"] == 201
    assert _sql(client, "SELECT msg FROM eslogs", db).json() == [{"msg": "y"}]
    assert_store_answers(client, db)


def test_a_remote_write_series_with_a_bad_label_name_is_dropped_and_the_rest_written(client: httpx.Client) -> None:
    db = _new_db(client)
    body = encode_v1(
        [
            Series([("__name__", "rw_ok"), ("job", "a")], [(1.0, NOW_NS // 10**6)]),
            Series([("__name__", "rw_ok"), ("j\x00b", "a")], [(2.0, NOW_NS // 10**6)]),
            Series([("__name__", "rw\x01bad")], [(3.0, NOW_NS // 10**6)]),
        ]
    )
    r = client.post(
        f"/api/v1/prom/write?db={db}",
        content=bytes(cramjam.snappy.compress_raw(body)),
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"},
    )
    assert r.status_code == 204 and r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"
    assert _sql(client, "SELECT job, value FROM rw_ok", db).json() == [{"job": "a", "value": 1.0}]
    assert_store_answers(client, db)


# --- every route, any body -----------------------------------------------------------------------

# Names a client might send: ordinary, unicode, quotes and escapes, control characters, names
# the store reserves, one far too long, and the empty name.
_NAME_CHARS = st.sampled_from(
    [*"abcXYZ09_-.:/ ,=", '"', "'", "\\", "é", "日", "\u212a", "\x00", "\x01", "\x7f", "\x85"]
)
NAMES = (
    st.text(_NAME_CHARS, min_size=0, max_size=6)
    | st.sampled_from(["time", "TIME", "value", "Value", "_heron_x", "__series", "label_time", "ident"])
    | st.just("n" * 300)
)
VALUES = st.text(st.characters(codec="utf-8"), max_size=6)


def _lp_escape(text: str, specials: str) -> str:
    out = text.replace("\\", "\\\\")
    for char in specials:
        out = out.replace(char, "\\" + char)
    return out.replace("\n", "")


@st.composite
def line_protocol_bodies(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        table = _lp_escape(draw(NAMES), ", ")
        tags = "".join(f",{_lp_escape(k, ',= ')}={_lp_escape(v or 'v', ',= ')}" for k, v in draw(_pairs()))
        fields = ",".join(f"{_lp_escape(k, ',= ')}={draw(st.integers(-5, 5))}i" for k, _ in draw(_pairs(min_size=1)))
        lines.append(f"{table}{tags} {fields} {NOW_NS}")
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def _pairs(min_size: int = 0) -> st.SearchStrategy[list[tuple[str, str]]]:
    return st.lists(st.tuples(NAMES, VALUES), min_size=min_size, max_size=3)


@st.composite
def opentsdb_items(draw: st.DrawFn) -> bytes:
    items = [
        {
            "metric": draw(NAMES),
            "value": draw(st.integers(0, 9)),
            "timestamp": NOW_NS // 10**9,
            "tags": dict(draw(_pairs())),
        }
        for _ in range(draw(st.integers(1, 4)))
    ]
    return orjson.dumps(items)


@st.composite
def cnosdb_opentsdb_lines(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        tags = " ".join(f"{k}={v}" for k, v in draw(_pairs()))
        lines.append(f"{draw(NAMES)} {NOW_NS} {draw(st.integers(0, 9))} {tags}")
    return "\n".join(lines).encode("utf-8", "surrogatepass")


@st.composite
def openfalcon_items(draw: st.DrawFn) -> bytes:
    items = [
        {
            "metric": draw(NAMES),
            "endpoint": draw(NAMES),
            "value": 1,
            "timestamp": NOW_NS // 10**9,
            "step": 60,
            "counterType": "GAUGE",
            "tags": ",".join(f"{k}={v}" for k, v in draw(_pairs())),
        }
        for _ in range(draw(st.integers(1, 3)))
    ]
    return orjson.dumps(items)


@st.composite
def datadog_series(draw: st.DrawFn) -> bytes:
    series = [
        {"metric": draw(NAMES), "points": [[NOW_NS // 10**9, 1.0]], "tags": [f"{k}:{v}" for k, v in draw(_pairs())]}
        for _ in range(draw(st.integers(1, 3)))
    ]
    return orjson.dumps({"series": series})


@st.composite
def remote_write_bodies(draw: st.DrawFn) -> bytes:
    series = [
        Series([("__name__", draw(NAMES)), *draw(_pairs())], [(1.0, NOW_NS // 10**6)])
        for _ in range(draw(st.integers(1, 3)))
    ]
    return bytes(cramjam.snappy.compress_raw(encode_v1(series)))


@st.composite
def documents(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [
        {**dict(draw(_pairs(min_size=1))), "nested": {draw(NAMES): draw(VALUES)}}
        for _ in range(draw(st.integers(1, 3)))
    ]


def _bulk(docs: list[dict[str, Any]]) -> bytes:
    return b"".join(b'{"index":{}}\n' + orjson.dumps(d) + b"\n" for d in docs)


def _ndjson(docs: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(d) + b"\n" for d in docs)


@st.composite
def loki_bodies(draw: st.DrawFn) -> bytes:
    streams = [
        {"stream": dict(draw(_pairs())), "values": [[str(NOW_NS), draw(VALUES)]]}
        for _ in range(draw(st.integers(1, 3)))
    ]
    return orjson.dumps({"streams": streams})


SNAPPY = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}
#: route -> (path with {db}, body strategy, headers)
ROUTES: dict[str, tuple[str, st.SearchStrategy[bytes], dict[str, str]]] = {
    "cnosdb line protocol": ("/api/v1/write?db={db}", line_protocol_bodies(), {}),
    "influxdb 1 line protocol": ("/write?db={db}", line_protocol_bodies(), {}),
    "influxdb 2 line protocol": ("/api/v2/write?bucket={db}", line_protocol_bodies(), {}),
    "opentsdb put (n9e)": ("/opentsdb/put?db={db}", opentsdb_items(), {}),
    "opentsdb put (cnosdb)": ("/api/v1/opentsdb/put?db={db}", opentsdb_items(), {}),
    "opentsdb lines (cnosdb)": ("/api/v1/opentsdb/write?db={db}", cnosdb_opentsdb_lines(), {}),
    "open-falcon": ("/openfalcon/push?db={db}", openfalcon_items(), {}),
    "datadog v1": ("/datadog/api/v1/series?db={db}", datadog_series(), {}),
    "remote write (n9e)": ("/prometheus/v1/write?db={db}", remote_write_bodies(), SNAPPY),
    "remote write (cnosdb)": ("/api/v1/prom/write?db={db}", remote_write_bodies(), SNAPPY),
    "es bulk": ("/api/v1/es/_bulk?db={db}&table=docs", documents().map(_bulk), {}),
    "ndjson": ("/api/v1/es/_bulk?db={db}&table=docs&log_type=ndjson", documents().map(_ndjson), {}),
    "loki json (cnosdb)": ("/api/v1/es/_bulk?db={db}&table=docs&log_type=loki", loki_bodies(), {}),
    "loki push": ("/loki/api/v1/push?db={db}&table=docs", loki_bodies(), {"Content-Type": "application/json"}),
}


@pytest.mark.slow
@pytest.mark.parametrize("route", list(ROUTES))
def test_whatever_a_route_acknowledges_is_readable_and_the_store_keeps_answering(
    server: RunningServer, route: str
) -> None:
    path, bodies, headers = ROUTES[route]
    with server.client() as client:
        db = _new_db(client)

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(body=bodies)
        def run(body: bytes) -> None:
            r = client.post(path.format(db=db), content=body, headers=headers)
            assert r.status_code < 500, r.text
            assert_store_answers(client, db)

        run()


def test_a_table_name_from_a_parameter_or_header_follows_the_rule(client: httpx.Client) -> None:
    db = _new_db(client)
    bad = client.post(f"/api/v1/es/_bulk?db={db}&table=a%00b", content=b'{"index":{}}\n{"a":1}\n')
    assert bad.status_code == 400 and "the table name 'a\\x00b'" in bad.json()["error_message"]
    traces = client.post("/api/v1/traces", content=b"{}", headers={"table": "x" * 300, "db": db})
    assert traces.status_code == 400 and "300 characters" in traces.text
    assert_store_answers(client, db)


# --- admission control -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Room for about two bodies in flight, and little patience: overload is easy to reach."""
    env = {"HERON_MAX_INFLIGHT_WRITE_BYTES": "1000000", "HERON_WRITE_ADMISSION_WAIT_SECONDS": "0.2"}
    srv = start_server(tmp_path_factory.mktemp("heron-tight"), env=env)
    yield srv
    srv.stop()


def _hammer(
    srv: RunningServer, send: Callable[[httpx.Client, int], httpx.Response], *, clients: int, each: int
) -> tuple[Counter[int], list[httpx.Response], list[str]]:
    statuses: Counter[int] = Counter()
    refused: list[httpx.Response] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(worker: int) -> None:
        with httpx.Client(base_url=srv.url, auth=srv.auth, timeout=60) as c:
            for i in range(each):
                try:
                    r = send(c, worker * each + i)
                except httpx.TransportError as exc:
                    with lock:
                        errors.append(repr(exc))
                    continue
                with lock:
                    statuses[r.status_code] += 1
                    if r.status_code in (429, 503):
                        refused.append(r)

    threads = [threading.Thread(target=one, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses, refused, errors


class StalledWrite:
    """A write whose headers are sent and whose body stops after a few bytes, over a raw
    socket: its reservation is held, deterministically, until :meth:`finish`."""

    def __init__(self, srv: RunningServer, path: str, body: bytes) -> None:
        host, port = srv.url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.body = body
        token = base64.b64encode(f"{srv.auth[0]}:{srv.auth[1]}".encode()).decode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {token}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.sock.sendall(head.encode() + body[:64])

    def finish(self) -> int:
        """Send the rest of the body; the answer's status code."""
        self.sock.sendall(self.body[64:])
        reply = b""
        while b"\r\n" not in reply:
            chunk = self.sock.recv(4096)
            assert chunk, f"connection closed before an answer: {reply!r}"
            reply += chunk
        self.sock.close()
        return int(reply.split(b" ", 2)[1])


def _admission(client: httpx.Client) -> dict[str, int]:
    return dict(client.get("/api/v1/health").json()["admission"])


def _wait_held(client: httpx.Client, at_least: int) -> None:
    """Poll the health report until the budget holds ``at_least`` bytes (no fixed sleep)."""
    for _ in range(600):
        if _admission(client)["held_bytes"] >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError(f"the stalled writes never held {at_least} bytes: {_admission(client)}")


def _lines(batch: str, rows: int) -> bytes:
    return "\n".join(f"adm,batch={batch} v={i}i {NOW_NS + i}" for i in range(rows)).encode()


def test_past_the_byte_budget_a_write_waits_then_gets_429_and_the_connection_stays_usable(
    tight_server: RunningServer,
) -> None:
    with tight_server.client() as client:
        db = _new_db(client)
        bodies = [_lines(f"held{n}", 10_000) for n in range(2)]  # about 450 KB each
        assert 2 * len(bodies[0]) <= 1_000_000 < 3 * len(bodies[0])  # no room for a third
        stalled = [StalledWrite(tight_server, f"/write?db={db}", b) for b in bodies]
        _wait_held(client, 2 * len(bodies[0]))
        refused_before = _admission(client)["refused"]

        third = _lines("third", 10_000)
        r = client.post(f"/write?db={db}", content=third)
        assert r.status_code == 429, r.text
        assert r.headers["Retry-After"] == "1"
        assert "too many writes in progress" in r.json()["error"]
        assert _admission(client)["refused"] == refused_before + 1

        assert [s.finish() for s in stalled] == [204, 204]
        again = client.post(f"/write?db={db}", content=third)  # the same keep-alive connection
        assert again.status_code == 204, again.text
        stored = _sql(client, "SELECT batch, count(*) AS n FROM adm GROUP BY batch ORDER BY batch", db).json()
        assert stored == [{"batch": b, "n": 10_000} for b in ("held0", "held1", "third")]
        assert _admission(client)["held_bytes"] == 0
        assert client.get("/api/v1/health").json()["status"] == "healthy"


def test_under_many_clients_every_answer_is_204_or_429_and_every_204_is_stored(
    tight_server: RunningServer,
) -> None:
    rows = 10_000
    with tight_server.client() as client:
        db = _new_db(client)

    def send(c: httpx.Client, n: int) -> httpx.Response:
        return c.post(f"/write?db={db}", content=_lines(f"b{n}", rows))

    statuses, refused, errors = _hammer(tight_server, send, clients=24, each=3)
    assert errors == []  # no connection reset or dropped
    assert set(statuses) <= {204, 429}, statuses
    for r in refused:
        assert r.headers["Retry-After"] == "1" and "too many writes in progress" in r.json()["error"]
    with tight_server.client() as client:
        stored = _sql(client, "SELECT count(*) AS n FROM adm", db).json()
        assert stored == [{"n": statuses[204] * rows}]
        assert client.get("/api/v1/health").json()["status"] == "healthy"


def test_remote_write_past_the_budget_is_503_which_prometheus_retries(tight_server: RunningServer) -> None:
    with tight_server.client() as client:
        db = _new_db(client)
        body = _lines("held", 10_800)  # two of these leave under 20 KB of the 1 MB budget
        stalled = [StalledWrite(tight_server, f"/write?db={db}", body) for _ in range(2)]
        _wait_held(client, 2 * len(body))
        series = [Series([("__name__", "rw_load"), ("i", str(i))], [(1.0, NOW_NS // 10**6)]) for i in range(2_000)]
        rw = bytes(cramjam.snappy.compress_raw(encode_v1(series)))
        assert len(rw) * 8 > 1_000_000 - 2 * len(body)  # a compressed body counts 8 times its size

        r = client.post(f"/api/v1/prom/write?db={db}", content=rw, headers=SNAPPY)
        assert r.status_code == 503 and r.headers["Retry-After"] == "1", r.text
        assert [s.finish() for s in stalled] == [204, 204]
        assert client.post(f"/api/v1/prom/write?db={db}", content=rw, headers=SNAPPY).status_code == 204
