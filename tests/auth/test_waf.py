"""Login rate limits per address and per username, bans after repeated failures, and lifting them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server

ATTACKER = "203.0.113.9"
ADMIN = "198.51.100.1"


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {
        "HERON_REAL_IP_HEADER": "X-Real-IP",
        "HERON_LOGIN_ATTEMPTS_PER_MINUTE": "4",
        "HERON_AUTH_MAX_FAILURES": "6",
        "HERON_AUTH_FAILURE_WINDOW_SECONDS": "600",
        "HERON_AUTH_BAN_SECONDS": "3",
    }
    srv = start_server(tmp_path_factory.mktemp("heron-waf"), env=env)
    yield srv
    srv.stop()


def _login(srv: RunningServer, ip: str, password: str, username: str = "admin") -> httpx.Response:
    return httpx.post(
        f"{srv.url}/api/v1/login", json={"username": username, "password": password}, headers={"X-Real-IP": ip}
    )


def test_repeated_wrong_passwords_are_rate_limited_then_banned_then_lifted(strict_server: RunningServer) -> None:
    srv = strict_server
    assert [_login(srv, ATTACKER, f"guess-{i}").status_code for i in range(4)] == [401] * 4
    limited = _login(srv, ATTACKER, "guess-4")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "too many login attempts" in limited.json()["error"]
    # Basic credentials are not rate limited (push agents send them every few seconds) but failures count.
    for i in range(2):
        r = httpx.get(f"{srv.url}/api/v1/profile", auth=("admin", f"basic-{i}"), headers={"X-Real-IP": ATTACKER})
        assert r.status_code == 401
    banned = httpx.get(f"{srv.url}/api/v1/profile", auth=srv.auth, headers={"X-Real-IP": ATTACKER})
    assert banned.status_code == 403 and "blocked" in banned.json()["error"]
    # Everyone else is unaffected, and the admin sees the ban in Nezha's WAF shape.
    with httpx.Client(base_url=srv.url, auth=srv.auth, headers={"X-Real-IP": ADMIN}) as admin:
        entries = admin.get("/api/v1/waf").json()["data"]
        entry = next(e for e in entries["value"] if e["ip"] == ATTACKER)
        assert entry["count"] >= 6 and entry["block_reason"] == 1 and entry["blocked_until"]
        assert entry["block_identifier"] == admin.get("/api/v1/profile").json()["data"]["id"]
        assert entries["pagination"]["total"] >= 1
        lifted = admin.delete("/api/v1/waf", params={"ip": ATTACKER})
        assert lifted.status_code == 200 and lifted.json()["data"] == 1
    r = httpx.get(f"{srv.url}/api/v1/profile", auth=srv.auth, headers={"X-Real-IP": ATTACKER})
    assert r.status_code == 200


def test_a_ban_ends_by_itself(strict_server: RunningServer) -> None:
    srv = strict_server
    ip = "203.0.113.10"
    for i in range(6):
        r = httpx.get(f"{srv.url}/api/v1/profile", headers={"X-User-Token": f"heron_guess{i}", "X-Real-IP": ip})
        assert r.status_code == 401
    assert httpx.get(f"{srv.url}/api/v1/profile", auth=srv.auth, headers={"X-Real-IP": ip}).status_code == 403
    deadline = time.monotonic() + 20
    status = 403
    while status == 403 and time.monotonic() < deadline:
        time.sleep(0.25)
        status = httpx.get(f"{srv.url}/api/v1/profile", auth=srv.auth, headers={"X-Real-IP": ip}).status_code
    assert status == 200


def test_one_username_is_rate_limited_across_addresses(strict_server: RunningServer) -> None:
    srv = strict_server
    codes = [_login(srv, f"192.0.2.{i}", "wrong-password", username="nobody").status_code for i in range(5)]
    assert codes == [401, 401, 401, 401, 429]


def test_admins_block_and_lift_addresses_by_hand(strict_server: RunningServer) -> None:
    srv = strict_server
    with httpx.Client(base_url=srv.url, auth=srv.auth, headers={"X-Real-IP": ADMIN}) as admin:
        assert admin.post("/api/v1/online-user/batch-block", json=[ADMIN]).status_code == 400
        assert admin.post("/api/v1/online-user/batch-block", json=["203.0.113.50"]).status_code == 200
        r = httpx.get(f"{srv.url}/api/v1/profile", auth=srv.auth, headers={"X-Real-IP": "203.0.113.50"})
        assert r.status_code == 403 and "until an admin lifts it" in r.json()["error"]
        assert admin.post("/api/v1/batch-delete/waf", json=["203.0.113.50"]).json() == {"success": True, "data": 1}
    r = httpx.get(f"{srv.url}/api/v1/profile", auth=srv.auth, headers={"X-Real-IP": "203.0.113.50"})
    assert r.status_code == 200
