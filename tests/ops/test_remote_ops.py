"""Remote operations end to end: real ``heron serve``, real ``heron agent --allow ...``, real clients."""

from __future__ import annotations

import http.server
import secrets
import socket
import struct
import threading
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from tests.ops.conftest import Fleet, wait_for


def _runs(fleet: Fleet, task_id: int) -> list[dict]:
    with fleet.client() as c:
        return c.get(f"/api/v1/cron/{task_id}/runs").json()["data"]["value"]


def _audit(fleet: Fleet, **params: object) -> list[dict]:
    with fleet.client() as c:
        r = c.get("/api/v1/audit", params={"limit": 100, **params})
        assert r.status_code == 200, r.text
        return r.json()["data"]["value"]


def test_a_cron_task_with_a_seconds_schedule_runs_and_its_output_is_stored(fleet: Fleet) -> None:
    with fleet.client() as c:
        body = {"name": "every second", "scheduler": "*/1 * * * * *", "command": "echo cron-$((40+2))",
                "servers": [fleet.allowed_id], "cover": 0}  # fmt: skip
        r = c.post("/api/v1/cron", json=body)
        assert r.status_code == 200, r.text
        task_id = r.json()["data"]
    try:
        runs = wait_for(lambda: [x for x in _runs(fleet, task_id) if x["trigger"] == "schedule"], "a scheduled run")
        run = runs[0]
        assert run["status"] == "ok" and run["exit_code"] == 0 and run["output"] == "cron-42\n"
        assert run["server_id"] == fleet.allowed_id and run["duration_ms"] > 0
        with fleet.client() as c:
            listed = c.get("/api/v1/cron").json()["data"]
            assert task_id in [t["id"] for t in listed["value"]] and listed["pagination"]["total"] >= 1
    finally:
        with fleet.client() as c:
            assert c.post("/api/v1/batch-delete/cron", json=[task_id]).json()["data"] == [task_id]


def test_a_manual_trigger_runs_and_an_agent_without_exec_refuses_and_is_audited(fleet: Fleet) -> None:
    with fleet.client() as c:
        body = {"name": "manual", "task_type": 1, "command": "exit 3", "servers": [fleet.allowed_id, fleet.plain_id]}
        task_id = c.post("/api/v1/cron", json=body).json()["data"]
        assert c.post(f"/api/v1/cron/{task_id}/manual").status_code == 200
    runs = wait_for(lambda: (r := _runs(fleet, task_id)) and len(r) == 2 and r, "two runs")
    by_server = {r["server_id"]: r for r in runs}
    assert by_server[fleet.allowed_id]["status"] == "failed" and by_server[fleet.allowed_id]["exit_code"] == 3
    assert by_server[fleet.plain_id]["status"] == "refused" and "--allow exec" in by_server[fleet.plain_id]["error"]
    # The audit log is written in batches beside the runs: wait for it rather than race it.
    refused = wait_for(
        lambda: _audit(fleet, action="cron.run", server_id=fleet.plain_id, outcome="refused"), "the audit record"
    )
    assert refused[0]["detail"]["trigger"] == "manual"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scheduler": "* * * * *"}, "scheduler"),
        ({"scheduler": "99 * * * * *"}, "scheduler"),
        ({"command": ""}, "command"),
        ({"servers": [999999]}, "servers"),
        ({"cover": 7}, "cover"),
    ],
)
def test_bad_cron_tasks_are_refused_naming_the_field(fleet: Fleet, change: dict, field: str) -> None:
    body = {"name": "bad", "scheduler": "0 0 * * * *", "command": "true", "servers": [fleet.allowed_id], **change}
    with fleet.client() as c:
        r = c.post("/api/v1/cron", json=body)
    assert r.status_code in (400, 404) and r.json()["error"].startswith(f"{field}:"), r.text


def _terminal(fleet: Fleet, server_id: int) -> str:
    with fleet.client() as c:
        r = c.post("/api/v1/terminal", json={"server_id": server_id})
        assert r.status_code == 200, r.text
        return str(r.json()["data"]["session_id"])


def test_a_terminal_session_runs_echo_and_reads_it_back(fleet: Fleet) -> None:
    session = _terminal(fleet, fleet.allowed_id)
    url = fleet.server.url.replace("http://", "ws://") + f"/api/v1/ws/terminal/{session}"
    seen = b""
    with connect(url, additional_headers=fleet.headers, open_timeout=30) as ws:
        ws.send(b"\x01" + b'{"Cols": 100, "Rows": 30}')
        ws.send(b"\x00" + b"echo heron-$((6*7))-ok\n")
        while b"heron-42-ok" not in seen:
            seen += ws.recv(timeout=30)  # type: ignore[operator]
        ws.send(b"\x00" + b"exit\n")
    ended = wait_for(lambda: _audit(fleet, action="terminal.end", server_id=fleet.allowed_id), "the end record")
    assert ended[0]["detail"]["bytes_in"] > 0 and ended[0]["detail"]["bytes_out"] > 0
    assert "heron-42" not in str(ended[0]), "terminal contents never reach the audit log"


def test_a_session_is_attached_once_and_only_by_its_user(fleet: Fleet) -> None:
    session = _terminal(fleet, fleet.allowed_id)
    url = fleet.server.url.replace("http://", "ws://") + f"/api/v1/ws/terminal/{session}"
    with connect(url, additional_headers=fleet.headers, open_timeout=30):
        pass
    with pytest.raises(Exception), connect(url, additional_headers=fleet.headers, open_timeout=30) as ws:  # noqa: B017
        ws.recv(timeout=10)


def test_a_file_is_uploaded_listed_and_downloaded_byte_exact(fleet: Fleet) -> None:
    payload = secrets.token_bytes(3 * 1024 * 1024 + 17)
    with fleet.client() as c:
        r = c.put(f"/api/v1/server/{fleet.allowed_id}/file", params={"path": "up/../data.bin"}, content=payload)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["bytes"] == len(payload)
        r = c.post("/api/v1/file", params={"id": fleet.allowed_id})
        session = r.json()["data"]["session_id"]
    url = fleet.server.url.replace("http://", "ws://") + f"/api/v1/ws/file/{session}"
    with connect(url, additional_headers=fleet.headers, open_timeout=30, max_size=None) as ws:
        ws.send(b"\x00" + str(fleet.files_root).encode())
        frame = ws.recv(timeout=30)
        assert isinstance(frame, bytes) and frame[:4] == b"NZFN"
        (length,) = struct.unpack("!I", frame[4:8])
        assert frame[8 : 8 + length].decode() == str(fleet.files_root.resolve())
        names, rest = [], frame[8 + length :]
        while rest:
            size = rest[1]
            names.append(rest[2 : 2 + size].decode())
            rest = rest[2 + size :]
        assert "data.bin" in names
        ws.send(b"\x01" + str(fleet.files_root / "data.bin").encode())
        head = ws.recv(timeout=30)
        assert head[:4] == b"NZTD" and struct.unpack("!Q", head[4:12])[0] == len(payload)
        got = b""
        while len(got) < len(payload):
            got += ws.recv(timeout=30)  # type: ignore[operator]
        assert got == payload
        small = b"hello from the file manager\n"
        ws.send(b"\x02" + struct.pack("!Q", len(small)) + b"small.txt")
        ws.send(small)
        assert ws.recv(timeout=30) == b"NZUP"
        ws.send(b"\x01/etc/passwd")
        assert ws.recv(timeout=30)[:4] == b"NERR"
    with fleet.client() as c:
        r = c.get(f"/api/v1/server/{fleet.allowed_id}/file", params={"path": "data.bin"})
        assert r.status_code == 200 and r.content == payload
        assert c.get(f"/api/v1/server/{fleet.allowed_id}/file", params={"path": "small.txt"}).content == small
        r = c.get(f"/api/v1/server/{fleet.allowed_id}/file", params={"path": "/etc/passwd"})
        assert r.status_code == 403 and "path /etc/passwd is outside" in r.json()["error"]
        r = c.put(f"/api/v1/server/{fleet.allowed_id}/file", params={"path": "/tmp/escape.txt"}, content=b"x")
        assert r.status_code == 403, r.text
    outside = _audit(fleet, action="file.download", server_id=fleet.allowed_id, outcome="refused")
    assert outside and outside[0]["target"] == "/etc/passwd"


@pytest.fixture(scope="module")
def backend() -> Iterator[str]:
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"hello through the tunnel, path={self.path}, host={self.headers['Host']}".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(201)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[::-1])

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_nat_domain_reaches_an_http_server_behind_the_agent(fleet: Fleet, backend: str) -> None:
    with fleet.client() as c:
        body = {
            "name": "app",
            "enabled": True,
            "server_id": fleet.allowed_id,
            "host": backend,
            "domain": "app.nat.test",
        }
        r = c.post("/api/v1/nat", json=body)
        assert r.status_code == 200, r.text
        r = c.get("/hello?x=1", headers={"Host": "app.nat.test"})
        assert r.status_code == 200 and r.text == "hello through the tunnel, path=/hello?x=1, host=app.nat.test"
        r = c.post("/echo", headers={"Host": "app.nat.test"}, content=b"abc" * 100_000)
        assert r.status_code == 201 and r.content == b"cba" * 100_000
        taken = c.post("/api/v1/nat", json={**body, "name": "again"})
        assert taken.status_code == 422 and taken.json()["error"].startswith("domain:")
        own = c.post("/api/v1/nat", json={**body, "domain": "127.0.0.1"})
        assert own.status_code == 400 and "Heron's own host name" in own.json()["error"]
        bad = c.post("/api/v1/nat", json={**body, "domain": "http://x.test/"})
        assert bad.status_code == 400 and bad.json()["error"].startswith("domain:")
        plain = c.post("/api/v1/nat", json={**body, "server_id": fleet.plain_id, "domain": "plain.nat.test"})
        assert plain.status_code == 200
        r = c.get("/", headers={"Host": "plain.nat.test"})
        assert r.status_code == 502 and "does not allow nat" in r.text
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))  # bound, never listening: the agent's connection is refused
            dead = {**body, "domain": "dead.nat.test", "host": f"127.0.0.1:{unused.getsockname()[1]}"}
            assert c.post("/api/v1/nat", json=dead).status_code == 200
            r = c.get("/", headers={"Host": "dead.nat.test"})
        assert r.status_code == 502 and "cannot connect to 127.0.0.1" in r.text
    assert _audit(fleet, action="nat.request", server_id=fleet.plain_id, outcome="refused")
    ok = _audit(fleet, action="nat.request", server_id=fleet.allowed_id, outcome="ok")
    assert ok and ok[0]["detail"]["status"] in (200, 201)


def test_an_agent_without_allow_is_refused_everything_and_it_is_audited(fleet: Fleet) -> None:
    with fleet.client() as c:
        r = c.post("/api/v1/terminal", json={"server_id": fleet.plain_id})
        assert r.status_code == 403 and "--allow terminal" in r.json()["error"]
        r = c.post("/api/v1/file", params={"id": fleet.plain_id})
        assert r.status_code == 403 and "--allow files" in r.json()["error"]
        r = c.get(f"/api/v1/server/{fleet.plain_id}/file", params={"path": "x"})
        assert r.status_code == 403
        assert c.post("/api/v1/terminal", json={"server_id": 999999}).status_code == 404
    actions = {a["action"] for a in _audit(fleet, server_id=fleet.plain_id, outcome="refused")}
    assert {"terminal.create", "file.session", "file.download"} <= actions


def test_agent_settings_are_read_and_narrowed_but_never_widened(fleet: Fleet) -> None:
    with fleet.client() as c:
        config = c.get(f"/api/v1/server/config/{fleet.plain_id}").json()["data"]
        assert '"allow":[]' in config.replace(" ", "")
        r = c.post("/api/v1/server/config", json={"servers": [fleet.plain_id], "config": '{"allow": ["exec"]}'})
        data = r.json()["data"]
        assert data["failure"] == [fleet.plain_id] and "only be narrowed" in data["errors"][str(fleet.plain_id)]
        r = c.post("/api/v1/server/config", json={"servers": [fleet.plain_id], "config": '{"interval": 2}'})
        assert r.json()["data"]["success"] == [fleet.plain_id]
        assert '"interval":2.0' in c.get(f"/api/v1/server/config/{fleet.plain_id}").json()["data"].replace(" ", "")
        r = c.post("/api/v1/force-update/server", json=[fleet.plain_id])
        assert r.json()["data"]["servers"][0]["online"] is True


def test_a_websocket_upgrade_passes_through_a_nat_domain(fleet: Fleet) -> None:
    from urllib.parse import urlsplit

    from websockets.sync.server import ServerConnection, serve

    def echo(conn: ServerConnection) -> None:
        conn.send("hello from behind the agent")
        for message in conn:
            conn.send(message[::-1] if isinstance(message, str) else bytes(reversed(message)))

    with serve(echo, "127.0.0.1", 0) as backend:
        threading.Thread(target=backend.serve_forever, daemon=True).start()
        port = backend.socket.getsockname()[1]
        with fleet.client() as c:
            body = {"name": "ws", "enabled": True, "server_id": fleet.allowed_id, "host": f"127.0.0.1:{port}",
                    "domain": "ws.nat.test"}  # fmt: skip
            assert c.post("/api/v1/nat", json=body).status_code == 200
        heron = urlsplit(fleet.server.url)
        sock = socket.create_connection((heron.hostname, heron.port))
        with connect(f"ws://ws.nat.test:{heron.port}/chat", sock=sock, open_timeout=30) as ws:
            assert ws.recv(timeout=30) == "hello from behind the agent"
            ws.send("abc")
            assert ws.recv(timeout=30) == "cba"
            ws.send(b"\x01\x02\x03")
            assert ws.recv(timeout=30) == b"\x03\x02\x01"
        backend.shutdown()


def test_an_offline_server_is_a_409_and_maintenance_reports_what_it_did(fleet: Fleet) -> None:
    with fleet.client() as c:
        created = c.post("/api/v1/server", json={"name": "never-connected"})
        assert created.status_code == 200, created.text
        offline_id = created.json()["data"]["id"]
        r = c.post("/api/v1/terminal", json={"server_id": offline_id})
        assert r.status_code == 409 and "offline" in r.json()["error"]
        r = c.get(f"/api/v1/server/config/{offline_id}")
        assert r.status_code == 409
    with fleet.server.client() as admin:
        r = admin.post("/api/v1/maintenance")
        assert r.status_code == 200, r.text
        done = r.json()["data"]
        assert done["metadata"]["database"] == "sqlite" and "VACUUM" in done["metadata"]["steps"]
        assert done["metadata"]["bytes_after"] > 0 and "CHECKPOINT" in done["tsdb"]["steps"]
    assert _audit(fleet, action="maintenance")
