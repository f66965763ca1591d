"""netdata's exporting engine (``opentsdb:http``) writes to Heron, bare-LF header line and all.

netdata 1.37 ends its ``Authorization`` header line with a bare LF. The daemon runs here
with a minimal configuration in a temporary directory: no collectors but its own
statistics, no web server, exporting to Heron's OpenTSDB route every second.
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer

NETDATA = shutil.which("netdata") or "/usr/sbin/netdata"


def _raw(server: RunningServer, request: bytes) -> bytes:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(request)
        return s.recv(65536)


def test_a_header_line_ending_in_a_bare_lf_is_accepted(server: RunningServer) -> None:
    body = b'[{"metric":"bare_lf_metric","timestamp":1700000000,"value":1,"tags":{"host":"nd"}}]'
    auth = base64.b64encode(f"admin:{server.password}".encode())
    request = (
        b"POST /api/put HTTP/1.1\r\nHost: heron\r\nAuthorization: Basic " + auth + b"\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )
    answer = _raw(server, request)
    assert answer.startswith(b"HTTP/1.1 2"), answer


def test_other_malformed_header_lines_are_still_refused(server: RunningServer) -> None:
    answer = _raw(server, b"GET /api/v1/ping HTTP/1.1\r\nHost: heron\r\nBad Header: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer


@pytest.fixture
def netdata_dir(tmp_path: Path) -> Path:
    for name in ("etc", "log", "cache", "lib", "plugins"):
        (tmp_path / name).mkdir()
    return tmp_path


def _write_config(root: Path, server: RunningServer) -> Path:
    destination = server.url.removeprefix("http://")
    (root / "etc" / "netdata.conf").write_text(
        f"""[global]
    run as user = root
[directories]
    config = {root}/etc
    stock config = /usr/lib/netdata/conf.d
    log = {root}/log
    cache = {root}/cache
    lib = {root}/lib
    plugins = {root}/plugins
    home = {root}
[logs]
    debug log = {root}/log/debug.log
    error log = {root}/log/error.log
    access log = none
[db]
    mode = ram
    update every = 1
[web]
    mode = none
[health]
    enabled = no
[ml]
    enabled = no
[registry]
    enabled = no
[plugins]
    enable running new plugins = no
    proc = no
    diskspace = no
    cgroups = no
    tc = no
    idlejitter = no
    checks = no
    statsd = no
    timex = no
    netdata monitoring = yes
"""
    )
    (root / "etc" / "exporting.conf").write_text(
        f"""[exporting:global]
    enabled = yes
[opentsdb:http:heron]
    enabled = yes
    destination = {destination}
    username = admin
    password = {server.password}
    data source = as collected
    update every = 1
    prefix = nd
"""
    )
    return root / "etc" / "netdata.conf"


def test_netdatas_opentsdb_http_exporter_writes_and_promql_reads_it_back(
    server: RunningServer, client: httpx.Client, netdata_dir: Path
) -> None:
    config = _write_config(netdata_dir, server)
    out = (netdata_dir / "netdata.out").open("wb")
    proc = subprocess.Popen([NETDATA, "-D", "-c", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        found: list[dict[str, object]] = []
        while time.monotonic() < deadline and not found:
            assert proc.poll() is None, (netdata_dir / "netdata.out").read_text()[-2000:]
            r = client.get("/api/v1/query", params={"query": '{"nd.netdata.server_cpu.user"}'})
            assert r.status_code == 200, r.text
            found = r.json()["data"]["result"]
            time.sleep(0.5)
        assert found, "netdata's samples never arrived:\n" + (netdata_dir / "netdata.out").read_text()[-2000:]
        assert found[0]["metric"]["__name__"] == "nd.netdata.server_cpu.user"
        assert found[0]["metric"]["ident"]  # Nightingale's push routes name the host "ident"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        out.close()
