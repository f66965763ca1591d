"""The monitor API: bad input named, who sees and changes what, push URLs, and arbitrary bodies."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron.auth.users import Principal
from heron.core.errors import Forbidden
from heron.probes.targets import check_target
from tests.cast import Cast
from tests.conftest import RunningServer
from tests.probes.conftest import wait_for
from tests.probes.test_state import monitor


@pytest.fixture
def admin(probes_server: RunningServer) -> Iterator[httpx.Client]:
    with probes_server.client() as c:
        yield c


def create(client: httpx.Client, **body: Any) -> int:
    r = client.post("/api/v1/service", json={"duration": 60, "enabled": False, **body})
    assert r.status_code == 200, r.text
    ident: int = r.json()["data"]
    return ident


def delete(client: httpx.Client, *ids: int) -> None:
    r = client.post("/api/v1/batch-delete/service", json=list(ids))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "type": 9, "target": "127.0.0.1:80"}, "type: unknown monitor type 9"),
        ({"name": "x", "type": "gopher", "target": "127.0.0.1:80"}, "type: unknown monitor type 'gopher'"),
        ({"name": "x", "type": 1, "target": "example.com/health"}, "target: expected a URL starting with http://"),
        ({"name": "x", "type": 3, "target": "127.0.0.1:70000"}, "target: port out of range"),
        ({"name": "x", "type": 3, "target": "127.0.0.1:80", "duration": 0}, "body.duration"),
        ({"name": "x", "type": 3, "target": "127.0.0.1:80", "duration": -30}, "body.duration"),
        (
            {"name": "x", "type": 3, "target": "no-such-host.invalid:80"},
            "target: 'no-such-host.invalid' does not resolve",
        ),
        ({"name": "x", "type": 2}, "target: required"),
        ({"type": 2, "target": "127.0.0.1"}, "name: required"),
        ({"name": "x", "type": 1, "target": "http://127.0.0.1/", "options": {"keyword": 5}}, "options.keyword"),
        ({"name": "x", "type": 3, "target": "127.0.0.1:80", "cover": 3}, "body.cover"),
        ({"name": "x", "type": 3, "target": "127.0.0.1:80", "skip_servers": {"a": True}}, "skip_servers: keys"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(admin: httpx.Client, body: dict[str, Any], field: str) -> None:
    r = admin.post("/api/v1/service", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["success"] is False and field in r.json()["error"]


def test_members_manage_their_own_monitors_and_guests_see_the_public_ones(
    probes_server: RunningServer, cast: Cast
) -> None:
    url = probes_server.url
    with (
        httpx.Client(base_url=url, headers=cast.bob.bearer, timeout=30) as bob,
        httpx.Client(base_url=url, headers=cast.charlie.bearer, timeout=30) as charlie,
        httpx.Client(base_url=url, timeout=30) as guest,
        probes_server.client() as alice,
    ):
        mine = create(bob, name="bob's api", type="tcp", target="127.0.0.1:9")
        hidden = create(bob, name="bob's secret", type="tcp", target="127.0.0.1:9", hide_for_guest=True)
        try:
            listed = {s["id"] for s in bob.get("/api/v1/service/list").json()["data"]}
            assert {mine, hidden} <= listed
            assert not {mine, hidden} & {s["id"] for s in charlie.get("/api/v1/service/list").json()["data"]}
            assert {mine, hidden} <= {s["id"] for s in alice.get("/api/v1/service/list").json()["data"]}
            refused = charlie.patch(f"/api/v1/service/{mine}", json={"name": "taken"})
            assert refused.status_code == 403, refused.text
            assert charlie.post("/api/v1/batch-delete/service", json=[mine]).status_code == 403
            assert bob.patch(f"/api/v1/service/{mine}", json={"name": "bob's api v2", "retries": 3}).status_code == 200
            item = bob.get(f"/api/v1/service/{mine}").json()["data"]
            assert (item["name"], item["retries"], item["target"], item["type"]) == (
                "bob's api v2",
                3,
                "127.0.0.1:9",
                3,
            )
            shown = guest.get(f"/api/v1/service/{mine}").json()["data"]
            assert (shown["target"], shown["options"]) == ("", {})  # targets and headers may hold secrets
            assert bob.get(f"/api/v1/service/{mine}").json()["data"]["target"] == "127.0.0.1:9"
            overview = guest.get("/api/v1/service").json()["data"]["services"]
            assert str(mine) in overview and str(hidden) not in overview
            assert guest.get(f"/api/v1/service/{hidden}/history").status_code == 404
            assert guest.get(f"/api/v1/service/{mine}/history?period=1d").status_code == 200
            too_long = guest.get(f"/api/v1/service/{mine}/history?period=30d")
            assert too_long.status_code == 401 and "1d" in too_long.json()["error"]
            assert bob.get(f"/api/v1/service/{mine}/history?period=30d").status_code == 200
            assert (
                guest.post("/api/v1/service", json={"name": "g", "type": 3, "target": "127.0.0.1:9"}).status_code == 401
            )
            assert guest.get("/api/v1/service/scheduler").status_code == 401
            assert bob.get("/api/v1/service/scheduler").status_code == 403
        finally:
            delete(bob, mine, hidden)
        assert bob.get(f"/api/v1/service/{mine}").status_code == 404


def test_a_push_monitor_takes_success_start_and_failure_calls(
    admin: httpx.Client, probes_server: RunningServer
) -> None:
    ident = create(admin, name="nightly backup", type="push", duration=3600, enabled=True)
    try:
        item = admin.get(f"/api/v1/service/{ident}").json()["data"]
        path = item["push_url"]
        assert path.startswith("/api/v1/push/") and item["type"] == 21
        with httpx.Client(base_url=probes_server.url, timeout=30) as anyone:
            assert anyone.get(f"{path}/start").json()["data"]["state"] == "started"
            assert anyone.post(path, params={"msg": "42 files"}).json()["data"] == {"monitor_id": ident, "state": "up"}
            assert anyone.get(f"{path}/3").json()["data"]["state"] == "down"
            assert anyone.get(path, params={"status": "down", "msg": "disk full"}).json()["data"]["state"] == "down"
            assert anyone.get(path, params={"status": "maybe"}).status_code == 400
            assert anyone.get("/api/v1/push/not-a-token").status_code == 404
            guest_view = anyone.get(f"/api/v1/service/{ident}").json()["data"]
            assert guest_view["push_url"] is None  # the URL is a secret of those who manage the monitor

        def state() -> dict[str, Any] | None:
            found = admin.get(f"/api/v1/service/{ident}").json()["data"]["states"]
            return found[0] if found and found[0]["state"] == "down" and found[0]["reason"] == "disk full" else None

        assert wait_for(state, timeout_s=30, what="the push failure")["server_name"] == "heron-node"

        def uptime() -> dict[str, Any] | None:
            found = admin.get(f"/api/v1/service/{ident}").json()["data"]["uptime"]
            return found if found["24h"] is not None else None

        assert wait_for(uptime, timeout_s=30, what="uptime from history")["24h"] == pytest.approx(100 / 3, abs=0.01)
    finally:
        delete(admin, ident)


def test_members_may_be_kept_off_private_addresses() -> None:
    member = Principal(5, "bob", "member")
    admin = Principal(1, "admin", "admin")
    loopback = monitor(kind="tcp", target="127.0.0.1:22")
    asyncio.run(check_target(loopback, member, private_for_members=True))
    asyncio.run(check_target(loopback, admin, private_for_members=False))
    with pytest.raises(Forbidden, match=r"private address 127\.0\.0\.1"):
        asyncio.run(check_target(loopback, member, private_for_members=False))


#: Targets limited to loopback forms and malformed text, so no arbitrary body makes Heron
#: resolve or contact an outside name; every other field is drawn freely.
TARGETS = st.one_of(
    st.sampled_from(
        ["127.0.0.1:9", "http://127.0.0.1:9/", "https://[::1]:9/x", "127.0.0.1", "[::1]:9", "localhost:9",
         "127.0.0.1:0", "127.0.0.1:99999", "http://", "://", "", " ", "[", "http://127.0.0.1:abc/", "heron.test"]
    ),
    st.text(alphabet="[]:/% \t\x00", max_size=20),
)  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
JSON = st.recursive(
    SCALARS | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
FIELDS = ["name", "type", "duration", "timeout", "retries", "cover", "skip_servers", "heron_vantage", "notify",
          "notification_group_id", "min_latency", "max_latency", "latency_notify", "display_index", "hide_for_guest",
          "options"]  # fmt: skip
BODIES = st.one_of(
    st.fixed_dictionaries(
        {"target": TARGETS},
        optional={
            **{name: JSON for name in FIELDS},
            "type": st.one_of(st.sampled_from([1, 2, 3, 20, 21, "http", "tcp", "icmp", "dns", "push", 0, 99]), JSON),
            "options": st.one_of(
                st.dictionaries(
                    st.sampled_from(["method", "keyword", "regex", "expected_status", "count", "record_type",
                                     "resolver", "grace_seconds", "headers", "tls_ca", "max_redirects", "junk"]),
                    JSON, max_size=4,
                ),
                JSON,
            ),
        },
    ),
    JSON,
)  # fmt: skip


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_arbitrary_bodies_get_only_2xx_or_4xx(admin: httpx.Client, body: Any) -> None:
    if isinstance(body, dict):
        body = {**body, "enabled": False}  # nothing created here runs a check
    r = admin.post("/api/v1/service", json=body)
    assert r.status_code in (200, 400, 403, 422), r.text
    if r.status_code == 200:
        delete(admin, r.json()["data"])
    else:
        assert r.json()["success"] is False and r.json()["error"]
