"""Prometheus remote write on the real server: encoded requests, and Prometheus itself."""

from __future__ import annotations

import gzip
import http.server
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cramjam
import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.protocols.test_remote_write import T0, Series, encode_v1, encode_v2, varint

HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
V2_HEADERS = {**HEADERS, "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"}
PROMETHEUS = shutil.which("prometheus")


def snappy(body: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(body))


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def sql(client: httpx.Client, query: str, db: str = "public") -> list[dict[str, Any]]:
    r = client.post("/api/v1/sql", params={"db": db}, content=query, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


def server_named(client: httpx.Client, name: str, *, timeout_s: float = 5.0) -> dict[str, Any] | None:
    """Poll the inventory until ``name`` shows up (sightings are flushed about once a second)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [s for s in client.get("/api/v1/server").json()["data"] if s["name"] == name]
        if found or time.monotonic() > deadline:
            return found[0] if found else None
        time.sleep(0.2)


def test_a_request_is_stored_and_reads_back_through_sql(client: httpx.Client) -> None:
    metric = unique("rw_up")
    body = encode_v1(
        [
            Series([("__name__", metric), ("instance", "a:9100"), ("job", "node")], [(1.0, T0), (0.0, T0 + 15_000)]),
            Series([("__name__", metric), ("instance", "b:9100"), ("job", "node")], [(1.0, T0)]),
        ]
    )
    r = client.post("/prometheus/v1/write", content=snappy(body), headers=HEADERS)
    assert r.status_code == 204 and r.content == b""
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "3"
    assert sql(client, f"SELECT time, instance, job, value FROM {metric} ORDER BY instance, time") == [
        {"time": "2023-11-14T22:13:20.000000000", "instance": "a:9100", "job": "node", "value": 1.0},
        {"time": "2023-11-14T22:13:35.000000000", "instance": "a:9100", "job": "node", "value": 0.0},
        {"time": "2023-11-14T22:13:20.000000000", "instance": "b:9100", "job": "node", "value": 1.0},
    ]


def test_cnosdb_route_writes_to_the_named_database_for_a_user(
    client: httpx.Client, fresh_db: str, server: RunningServer
) -> None:
    metric = unique("rw_cnosdb")
    body = snappy(encode_v1([Series([("__name__", metric), ("host", "h1")], [(2.5, T0)])]))
    anonymous = httpx.post(f"{server.url}/api/v1/prom/write", params={"db": fresh_db}, content=body, headers=HEADERS)
    assert anonymous.status_code == 401
    r = client.post("/api/v1/prom/write", params={"db": fresh_db}, content=body, headers=HEADERS)
    assert r.status_code == 204, r.text
    assert sql(client, f"SELECT host, value FROM {metric}", fresh_db) == [{"host": "h1", "value": 2.5}]


def test_version_2_requests_are_told_apart_by_content_type(client: httpx.Client) -> None:
    metric = unique("rw_v2")
    body = snappy(encode_v2([Series([("__name__", metric), ("code", "200")], [(7.0, T0)])]))
    r = client.post("/prometheus/v1/write", content=body, headers=V2_HEADERS)
    assert r.status_code == 204, r.text
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"
    assert sql(client, f"SELECT code, value FROM {metric}") == [{"code": "200", "value": 7.0}]
    r = client.post(
        "/prometheus/v1/write", content=body, headers={**HEADERS, "Content-Type": "application/x-protobuf;proto=x.Y"}
    )
    assert r.status_code == 415 and "x.Y" in r.json()["err"]


@pytest.mark.parametrize("encoding", ["gzip", "identity", None])
def test_other_encodings_and_a_missing_content_encoding(client: httpx.Client, encoding: str | None) -> None:
    metric = unique("rw_enc")
    raw = encode_v1([Series([("__name__", metric)], [(1.0, T0)])])
    body = {"gzip": gzip.compress(raw), "identity": raw, None: snappy(raw)}[encoding]
    headers = {k: v for k, v in HEADERS.items() if k != "Content-Encoding"}
    if encoding:
        headers["Content-Encoding"] = encoding
    assert client.post("/prometheus/v1/write", content=body, headers=headers).status_code == 204
    assert sql(client, f"SELECT value FROM {metric}") == [{"value": 1.0}]


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/prometheus/v1/write", snappy(b"\x0a\x05abc"), "not a valid prometheus.WriteRequest"),
        ("/api/v1/prom/write", snappy(b"\x0a\x05abc"), "not a valid prometheus.WriteRequest"),
        ("/prometheus/v1/write", b"\xff\xff\xff\xff\xff\xff", "not valid snappy"),
        ("/prometheus/v1/write", snappy(encode_v1([Series([("job", "x")], [(1.0, T0)])])), "has no __name__ label"),
    ],
)
def test_what_cannot_be_decoded_or_stored_is_400_with_the_reason(
    client: httpx.Client, path: str, body: bytes, words: str
) -> None:
    r = client.post(path, content=body, headers=HEADERS)
    assert r.status_code == 400, r.text
    message = r.json()["err"] if path.startswith("/prometheus") else r.json()["error_message"]
    assert words in message


def test_a_body_announcing_more_than_the_limit_is_413_before_decoding(client: httpx.Client) -> None:
    r = client.post("/prometheus/v1/write", content=varint(2**31) + bytes(16), headers=HEADERS)
    assert r.status_code == 413 and "exceeds the limit" in r.json()["err"]


def test_an_unknown_content_encoding_or_database(client: httpx.Client) -> None:
    body = snappy(encode_v1([]))
    r = client.post("/prometheus/v1/write", content=body, headers={**HEADERS, "Content-Encoding": "br"})
    assert r.status_code == 400 and "snappy" in r.json()["err"]
    r = client.post("/prometheus/v1/write", params={"db": "nosuchdb"}, content=body, headers=HEADERS)
    assert r.status_code == 422 and "nosuchdb" in r.json()["err"]


def test_metadata_only_requests_are_accepted(client: httpx.Client) -> None:
    r = client.post("/prometheus/v1/write", content=snappy(encode_v1([], metadata=3)), headers=HEADERS)
    assert r.status_code == 204 and r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "0"


def test_an_ident_label_registers_its_host_and_agent_hostname_stands_in(client: httpx.Client) -> None:
    metric, web01, agent, skipped = unique("rw_ident"), unique("web01"), unique("agent"), unique("skipped")
    body = encode_v1(
        [
            Series([("__name__", metric), ("ident", web01)], [(1.0, T0)]),
            Series([("__name__", metric), ("agent_hostname", agent)], [(2.0, T0)]),
        ]
    )
    assert client.post("/prometheus/v1/write", content=snappy(body), headers=HEADERS).status_code == 204
    for name in (web01, agent):
        found = server_named(client, name)
        assert found is not None and found["source"] == "ident" and found["last_active"] is not None
    assert sql(client, f"SELECT ident, value FROM {metric} ORDER BY value") == [
        {"ident": web01, "value": 1.0},
        {"ident": agent, "value": 2.0},
    ]
    quiet = snappy(encode_v1([Series([("__name__", metric), ("ident", skipped)], [(3.0, T0)])]))
    assert client.post("/prometheus/v1/write?ignore_ident=true", content=quiet, headers=HEADERS).status_code == 204
    assert server_named(client, skipped, timeout_s=1.5) is None


def test_type_conflicts_drop_series_and_only_a_request_with_nothing_written_is_400(client: httpx.Client) -> None:
    clash, fine = unique("rw_clash"), unique("rw_fine")
    assert client.post("/api/v1/write", content=f'{clash},host=a value="text"'.encode()).status_code == 200
    both = encode_v1([Series([("__name__", clash)], [(1.0, T0)]), Series([("__name__", fine)], [(2.0, T0)])])
    r = client.post("/prometheus/v1/write", content=snappy(both), headers=HEADERS)
    assert r.status_code == 204 and r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"
    assert sql(client, f"SELECT value FROM {fine}") == [{"value": 2.0}]
    only = snappy(encode_v1([Series([("__name__", clash)], [(1.0, T0)])]))
    r = client.post("/prometheus/v1/write", content=only, headers=HEADERS)
    assert r.status_code == 400
    assert "no sample was written" in r.json()["err"] and "type conflict" in r.json()["err"]


@pytest.fixture(scope="module")
def tiny_queue_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-tiny-queue"), env={"HERON_MAX_WRITE_QUEUE_ROWS": "1"})
    yield srv
    srv.stop()


def test_a_full_write_queue_is_429_with_retry_after_and_acknowledged_samples_stay(
    tiny_queue_server: RunningServer,
) -> None:
    """With room for one request in the queue, concurrent requests must meet a full queue."""
    series = [Series([("__name__", "rw_busy"), ("shard", str(i))], [(1.0, T0)]) for i in range(2_000)]
    statuses: list[httpx.Response] = []
    with tiny_queue_server.client() as c, ThreadPoolExecutor(8) as pool:
        for round_ in range(20):
            bodies = [
                snappy(encode_v1([Series(s.labels, [(1.0, T0 + 1000 * (round_ * 8 + k))]) for s in series]))
                for k in range(8)
            ]
            statuses += pool.map(lambda b: c.post("/prometheus/v1/write", content=b, headers=HEADERS), bodies)
            if any(r.status_code == 429 for r in statuses):
                break
        busy = [r for r in statuses if r.status_code == 429]
        assert busy, "no request met a full queue"
        assert busy[0].headers["Retry-After"] == "1" and "queue is full" in busy[0].json()["err"]
        assert {r.status_code for r in statuses} <= {204, 429}
        acknowledged = sum(2_000 for r in statuses if r.status_code == 204)
        assert sql(c, "SELECT count(*) AS n FROM rw_busy") == [{"n": acknowledged}]


# --- Prometheus itself ------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a child process to bind)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def exposition(metric: str) -> bytes:
    return (
        f"# HELP {metric} A gauge for Heron's remote-write test.\n# TYPE {metric} gauge\n"
        f'{metric}{{shard="a"}} 1.5\n{metric}{{shard="b"}} 2.5\n'
    ).encode()


@pytest.fixture
def exporter() -> Iterator[tuple[str, str]]:
    """A static exposition page on 127.0.0.1: (address, metric name)."""
    metric = unique("rw_prom_gauge")
    page = exposition(metric)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}", metric
    httpd.shutdown()
    httpd.server_close()


def prometheus_config(server: RunningServer, target: str, ident: str, db: str) -> str:
    user, password = server.auth
    remote = []
    for path in ("/prometheus/v1/write", f"/api/v1/prom/write?db={db}"):
        remote.append(
            f"""  - url: "{server.url}{path}"
    basic_auth: {{username: "{user}", password: "{password}"}}
    queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s, retry_on_http_429: true}}
    metadata_config: {{send_interval: 1s}}
"""
        )
    return f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: heron_rw_test
    static_configs:
      - targets: ["{target}"]
        labels: {{ident: "{ident}"}}
remote_write:
{"".join(remote)}"""


@pytest.mark.slow
@pytest.mark.skipif(PROMETHEUS is None, reason="the prometheus binary is not installed (bench/install-peers.sh)")
def test_prometheus_scrapes_and_remote_writes_to_both_routes(
    server: RunningServer, client: httpx.Client, fresh_db: str, exporter: tuple[str, str], tmp_path: Path
) -> None:
    assert PROMETHEUS is not None
    target, metric = exporter
    ident = unique("prom-host")
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus_config(server, target, ident, fresh_db))
    listen = f"127.0.0.1:{free_port()}"
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={listen}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        query = f"SELECT DISTINCT shard, ident, job, instance, value FROM {metric} ORDER BY shard"
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            r = client.post(
                "/api/v1/sql", params={"db": fresh_db}, content=query, headers={"Accept": "application/json"}
            )
            if r.status_code == 200 and len(r.json()) == 2:
                got = r.json()
                break
            time.sleep(0.5)
        assert process.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
        expected = [
            {"shard": "a", "ident": ident, "job": "heron_rw_test", "instance": target, "value": 1.5},
            {"shard": "b", "ident": ident, "job": "heron_rw_test", "instance": target, "value": 2.5},
        ]
        assert got == expected, (tmp_path / "prometheus.log").read_text()[-3000:]
        found = server_named(client, ident, timeout_s=10)
        assert found is not None and found["source"] == "ident"
        assert sql(client, f"SELECT count(*) > 0 AS ok FROM up WHERE ident = '{ident}'", fresh_db) == [{"ok": True}]
        failures = sql(client, f"SELECT count(*) AS n FROM {metric} WHERE value NOT IN (1.5, 2.5)")
        assert failures == [{"n": 0}]
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
