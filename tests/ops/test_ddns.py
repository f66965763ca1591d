"""DDNS against a real BIND9 (RFC 2136 with TSIG, read back with dig) and a local webhook receiver."""

from __future__ import annotations

import base64
import http.server
import json
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.ops.conftest import Fleet, wait_for

ZONE = "example.test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def bind9(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    named = shutil.which("named") or "/usr/sbin/named"
    if not Path(named).exists():
        pytest.fail("BIND9 is missing: make test-deps installs Debian's bind9 and dnsutils")
    work = tmp_path_factory.mktemp("bind9")
    port = _free_port()
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    (work / f"{ZONE}.zone").write_text(
        f"$TTL 60\n@ IN SOA ns.{ZONE}. admin.{ZONE}. 1 60 60 600 60\n@ IN NS ns.{ZONE}.\nns IN A 127.0.0.1\n"
    )
    (work / "named.conf").write_text(
        f'options {{ directory "{work}"; pid-file "{work}/named.pid"; listen-on port {port} {{ 127.0.0.1; }};\n'
        "  listen-on-v6 { none; }; recursion no; dnssec-validation no; allow-query { any; }; };\n"
        f'key "heron-ddns" {{ algorithm hmac-sha256; secret "{secret}"; }};\n'
        "controls { };\n"
        f'zone "{ZONE}" {{ type primary; file "{work}/{ZONE}.zone"; allow-update {{ key "heron-ddns"; }}; }};\n'
    )
    process = subprocess.Popen(
        [named, "-g", "-c", str(work / "named.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for(lambda: _dig(port, f"ns.{ZONE}") == ["127.0.0.1"], "named to answer")
        yield {"port": port, "secret": secret}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def _dig(port: int, name: str, kind: str = "A") -> list[str]:
    done = subprocess.run(
        ["dig", "@127.0.0.1", "-p", str(port), "+short", "+time=2", "+tries=1", name, kind],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return done.stdout.split()


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.append({"path": self.path, "body": body.decode(), "token": self.headers.get("X-Token")})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", got
    server.shutdown()
    server.server_close()


def _agent_reports(fleet: Fleet, ipv4: str) -> None:
    """Connect as an agent with ``ipv4`` in its host block (the wire protocol of heron agent), then leave."""
    url = fleet.server.url.replace("http://", "ws://") + "/api/v1/agent/ws"
    with connect(url, additional_headers=fleet.headers, open_timeout=30) as ws:
        ws.send(json.dumps({"type": "host", "agent_id": "ddns-home", "name": "home", "host": {"IPv4": ipv4}}))
        welcome = json.loads(ws.recv(timeout=30))
        assert welcome["type"] == "welcome"
        ws.send(json.dumps({"type": "status", "seq": 1, "ts": time.time(), "status": {}}))
        assert json.loads(ws.recv(timeout=30))["type"] == "ack"


def test_ddns_updates_bind9_and_the_webhook_when_the_reported_address_changes(
    fleet: Fleet, bind9: dict[str, Any], receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    hook_url, got = receiver
    _agent_reports(fleet, "198.51.100.1")
    with fleet.client() as c:
        server_id = next(s["id"] for s in c.get("/api/v1/server").json()["data"] if s["name"] == "home")
        rfc = {"name": "bind", "provider": "rfc2136", "enable_ipv4": True, "domains": [f"home.{ZONE}"],
               "dns_server": f"127.0.0.1:{bind9['port']}", "access_id": "heron-ddns",
               "access_secret": bind9["secret"], "max_retries": 3}  # fmt: skip
        r = c.post("/api/v1/ddns", json=rfc)
        assert r.status_code == 200, r.text
        hook = {"name": "hook", "provider": "webhook", "enable_ipv4": True, "domains": [f"home.{ZONE}"],
                "webhook_url": hook_url + "/update?ip=#ip#&domain=#domain#", "webhook_method": 2,
                "webhook_request_type": 1, "webhook_request_body": '{"ip": "#ip#", "record": "#record#"}',
                "webhook_headers": '{"X-Token": "#access_secret#"}', "access_secret": "s3cret"}  # fmt: skip
        r2 = c.post("/api/v1/ddns", json=hook)
        assert r2.status_code == 200, r2.text
        listed = c.get("/api/v1/ddns").json()["data"]["value"]
        assert {p["access_secret"] for p in listed} == {"********"}, "secrets are shown masked"
        r = c.patch(
            f"/api/v1/server/{server_id}",
            json={"enable_ddns": True, "ddns_profiles": [r.json()["data"], r2.json()["data"]]},
        )
        assert r.status_code == 200 and r.json()["data"]["enable_ddns"] is True, r.text

    _agent_reports(fleet, "203.0.113.7")
    wait_for(lambda: _dig(bind9["port"], f"home.{ZONE}") == ["203.0.113.7"], "the first record")
    _agent_reports(fleet, "203.0.113.8")
    wait_for(lambda: _dig(bind9["port"], f"home.{ZONE}") == ["203.0.113.8"], "the changed record")
    wait_for(lambda: len(got) >= 2, "two webhook calls")
    assert got[-1]["path"] == f"/update?ip=203.0.113.8&domain=home.{ZONE}"
    assert json.loads(got[-1]["body"]) == {"ip": "203.0.113.8", "record": "A"}
    assert got[-1]["token"] == "s3cret"
    with fleet.client() as c:
        audit = c.get("/api/v1/audit", params={"action": "ddns.update", "server_id": server_id}).json()["data"]["value"]
    assert audit and all(a["outcome"] == "ok" for a in audit)
    assert all("s3cret" not in str(a) and bind9["secret"] not in str(a) for a in audit)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"provider": "rfc2136", "access_secret": ""}, "access_secret"),
        ({"provider": "rfc2136", "dns_server": ""}, "dns_server"),
        ({"provider": "cloudflare", "access_secret": ""}, "access_secret"),
        ({"provider": "webhook", "webhook_url": "ftp://x"}, "webhook_url"),
        ({"provider": "nope"}, "provider"),
        ({"domains": []}, "domains"),
        ({"domains": ["bad domain"]}, "domain"),
        ({"max_retries": 0}, "max_retries"),
    ],
)
def test_a_profile_that_cannot_work_is_refused_naming_the_field(
    fleet: Fleet, change: dict[str, Any], field: str
) -> None:
    body = {"name": "x", "provider": "rfc2136", "enable_ipv4": True, "domains": ["a.example.test"],
            "dns_server": "127.0.0.1:53", "access_id": "k", "access_secret": "c2VjcmV0", **change}  # fmt: skip
    r = httpx.post(f"{fleet.server.url}/api/v1/ddns", json=body, headers=fleet.headers, timeout=30)
    assert r.status_code == 400 and r.json()["error"].startswith(f"{field}:"), r.text


def test_the_providers_are_listed(fleet: Fleet) -> None:
    r = httpx.get(f"{fleet.server.url}/api/v1/ddns/providers", headers=fleet.headers, timeout=30)
    assert r.json()["data"] == ["webhook", "rfc2136", "cloudflare"]
