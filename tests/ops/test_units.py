"""The pure parts of remote operations: scopes, names, addresses, provider requests, schedules, paths, options."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from heron.agent.commands import CommandChannel, OpError
from heron.agent.operations import confine
from heron.agent.options import AgentOptions
from heron.auth.scopes import ADMIN, covers, invalid_scopes, matches, required_scopes
from heron.core.errors import BadRequest, HeronError
from heron.ops import ddns_providers as providers
from heron.ops.cron import CronForm, check_form, next_fire
from heron.ops.ddns import pick_address
from heron.ops.nat import check_domain, check_host, hostname_of


@pytest.mark.parametrize(
    ("owned", "wanted", "ok"),
    [
        ("nezha:server:exec", "nezha:server:exec", True),
        ("nezha:server:*", "nezha:server:exec", True),
        ("nezha:server:*", "nezha:serverx:read", False),
        ("nezha:*", "nezha:cron:write", True),
        ("nezha:server:read", "nezha:server:exec", False),
        ("nezha:cron:*", "nezha:server:read", False),
    ],
)
def test_scope_matching(owned: str, wanted: str, ok: bool) -> None:
    assert matches(owned, wanted) is ok


def test_only_admins_may_hold_admin_scopes_and_unknown_scopes_are_refused() -> None:
    assert invalid_scopes(["nezha:admin:*", "nezha:*"], is_admin=False) == ["nezha:admin:*", "nezha:*"]
    assert invalid_scopes(["nezha:admin:*"], is_admin=True) == []
    assert invalid_scopes(["mcp:fs:write", "nezha:server:read"], is_admin=True) == ["mcp:fs:write"]


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("POST", "/api/v1/terminal", ("nezha:server:exec",)),
        ("GET", "/api/v1/cron", ("nezha:cron:read",)),
        ("POST", "/api/v1/cron/{cron_id}/manual", ("nezha:cron:exec",)),
        ("POST", "/api/v1/batch-delete/nat", ("nezha:nat:delete",)),
        ("PATCH", "/api/v1/ddns/{ddns_id}", ("nezha:ddns:write",)),
        ("GET", "/api/v1/server", ("nezha:inventory:read",)),
        ("GET", "/api/v1/audit", (ADMIN,)),
        ("POST", "/write", ("nezha:tsdb:write",)),
        ("POST", "/api/v1/sql", ("nezha:tsdb:read",)),
    ],
)
def test_each_route_names_its_scope(method: str, path: str, needed: tuple[str, ...]) -> None:
    assert required_scopes(method, path) == needed
    assert covers(["nezha:*"], needed[0]) or needed == (ADMIN,)


@pytest.mark.parametrize(
    ("domain", "ok"),
    [("app.example.com", True), ("App.Example.COM.", True), ("http://x.com", False), ("x.com:80", False),
     ("-bad.com", False), ("a b.com", False), ("", False), ("heron.local", False)],
)  # fmt: skip
def test_nat_domains_are_bare_host_names_and_not_herons_own(domain: str, ok: bool) -> None:
    if ok:
        assert check_domain(domain, {"heron.local"}) == domain.lower().rstrip(".")
    else:
        with pytest.raises(BadRequest, match=r"^domain:"):
            check_domain(domain, {"heron.local"})


def test_host_names_are_compared_without_port_case_or_trailing_dot() -> None:
    assert hostname_of("App.Test.:8080") == "app.test"
    assert hostname_of("[::1]:8902") == "::1"
    assert hostname_of("0:0:0:0:0:0:0:1") == "::1"
    assert check_host("10.0.0.2:80") == "10.0.0.2:80"
    with pytest.raises(BadRequest, match=r"^host:"):
        check_host("no-port")


@pytest.mark.parametrize(
    ("reported", "peer", "version", "chosen"),
    [
        ("8.8.4.4", "127.0.0.1", 4, "8.8.4.4"),  # a global report wins
        ("192.168.1.5", "81.2.69.142", 4, "81.2.69.142"),  # behind NAT: the public address it connects from
        ("192.168.1.5", "127.0.0.1", 4, "192.168.1.5"),  # a LAN: what it reports
        ("", "2001:4860:4860::8888", 6, "2001:4860:4860::8888"),
        ("", "127.0.0.1", 6, ""),
    ],
)
def test_the_address_dns_points_at(reported: str, peer: str, version: int, chosen: str) -> None:
    assert pick_address(reported, peer, version) == chosen


def _profile(**kw: object) -> dict[str, object]:
    base = {"id": 1, "provider": "webhook", "access_id": "id", "access_secret": "sec", "webhook_url": "",
            "webhook_method": 1, "webhook_request_type": 1, "webhook_request_body": "", "webhook_headers": "",
            "zone": ""}  # fmt: skip
    return {**base, **kw}


def test_the_webhook_request_fills_nezhas_placeholders() -> None:
    profile = _profile(
        webhook_url="https://dns.example/update?h=#domain#&ip=#ip#",
        webhook_method=2,
        webhook_request_type=2,
        webhook_request_body='{"type": "#type#", "rec": "#record#", "key": "#access_secret#"}',
        webhook_headers='{"X-Id": "#access_id#"}',
    )
    request = providers.webhook_request(profile, domain="a.example", record="AAAA", ip="2001:db8::1")
    assert request.method == "POST"
    assert str(request.url) == "https://dns.example/update?h=a.example&ip=2001%3Adb8%3A%3A1"
    assert request.headers["X-Id"] == "id"
    assert request.content == b"type=ipv6&rec=AAAA&key=sec"


def test_cloudflare_updates_an_existing_record_or_creates_one() -> None:
    seen: list[tuple[str, str, object]] = []
    records: dict[str, list[dict[str, str]]] = {"a.example.com": [{"id": "r1"}], "b.example.com": []}

    def api(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer tok"
        body = json.loads(request.content) if request.content else None
        seen.append((request.method, request.url.path, body))
        if request.url.path.endswith("/zones"):
            found = request.url.params["name"] == "example.com"
            return httpx.Response(200, json={"success": True, "result": [{"id": "z1"}] if found else []})
        if request.method == "GET":
            return httpx.Response(200, json={"success": True, "result": records[request.url.params["name"]]})
        return httpx.Response(200, json={"success": True, "result": {}})

    transport = httpx.MockTransport(api)
    asyncio.run(
        providers.set_cloudflare(_profile(access_secret="tok"), "a.example.com", "A", "1.2.3.4", transport=transport)
    )
    asyncio.run(
        providers.set_cloudflare(_profile(access_secret="tok"), "b.example.com", "A", "1.2.3.4", transport=transport)
    )
    writes = [(m, p) for m, p, _ in seen if m in ("PUT", "POST")]
    assert writes == [("PUT", "/client/v4/zones/z1/dns_records/r1"), ("POST", "/client/v4/zones/z1/dns_records")]
    assert seen[-1][2] == {"type": "A", "name": "b.example.com", "content": "1.2.3.4", "ttl": 60, "proxied": False}


def test_a_refusing_cloudflare_is_reported_without_the_token() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"success": False, "errors": [{"message": "Authentication error"}]})

    with pytest.raises(providers.DdnsFailed, match="HTTP 403: Authentication error") as caught:
        asyncio.run(providers.set_cloudflare(_profile(access_secret="tok"), "a.example.com", "A", "1.2.3.4",
                                             transport=httpx.MockTransport(api)))  # fmt: skip
    assert "tok" not in str(caught.value)


def _cron(**kw: object) -> CronForm:
    base = {"name": "t", "task_type": 0, "scheduler": "*/5 * * * * *", "command": "true", "servers": [], "cover": 0,
            "push_successful": False, "notification_group_id": 0}  # fmt: skip
    return CronForm(**{**base, **kw})  # type: ignore[arg-type]


def test_schedules_have_a_seconds_field_first() -> None:
    after = datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert next_fire("*/5 * * * * *", after) == datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert next_fire("0 30 * * * *", after) == datetime(2026, 1, 1, 0, 30, 0, tzinfo=UTC)
    check_form(_cron())
    check_form(_cron(scheduler="@hourly"))
    check_form(_cron(task_type=1, cover=2, scheduler=""))
    for bad, field in [({"scheduler": "*/5 * * * *"}, "scheduler"), ({"scheduler": "a b c d e f"}, "scheduler"),
                       ({"cover": 2}, "cover"), ({"task_type": 5}, "task_type"), ({"name": " "}, "name")]:  # fmt: skip
        with pytest.raises(BadRequest, match=f"^{field}:"):
            check_form(_cron(**bad))


def test_paths_are_confined_to_the_served_roots(tmp_path: Path) -> None:
    root = (tmp_path / "served").resolve()
    (root / "sub").mkdir(parents=True)
    (tmp_path / "secret").write_text("no")
    (root / "link").symlink_to(tmp_path / "secret")
    roots = (root,)
    assert confine("sub", roots) == root / "sub"
    assert confine("", roots) == root
    assert confine(str(root / "sub" / ".." / "x"), roots) == root / "x"
    for outside in ("../secret", "/etc/passwd", "link", str(root) + "-other"):
        with pytest.raises(OpError) as caught:
            confine(outside, roots)
        assert caught.value.code == "outside"


def test_capabilities_can_be_narrowed_remotely_but_never_widened(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('allow = ["exec", "files"]\ninterval = 5\n')
    options = AgentOptions.build(allow=None, files_roots=[str(tmp_path)], interval_seconds=None,
                                 disabled_collectors=None, config_path=config)  # fmt: skip
    assert options.allow == {"exec", "files"} and options.interval_seconds == 5.0
    with pytest.raises(HeronError, match="only be narrowed"):
        options.apply_remote({"allow": ["exec", "terminal"]})
    assert options.apply_remote({"allow": ["exec"], "disabled_collectors": ["temperature"]})["allow"] == ["exec"]
    again = AgentOptions.build(allow=None, files_roots=[str(tmp_path)], interval_seconds=None,
                               disabled_collectors=None, config_path=config)  # fmt: skip
    assert again.allow == {"exec"} and again.disabled_collectors == {"temperature"}, "the change was written back"


def test_the_agent_refuses_what_its_owner_did_not_allow(tmp_path: Path) -> None:
    channel = CommandChannel(AgentOptions(allow=frozenset({"files"}), files_roots=(tmp_path,)))
    assert channel.on_message('{"type":"op.open","id":1,"kind":"exec","args":{"command":"id"}}')
    assert channel.on_message('{"type":"status","seq":1}') is False
    (refusal,) = channel.outgoing()
    assert json.loads(refusal) == {
        "type": "op.error", "id": 1, "code": "refused",
        "error": "this agent does not allow exec; its owner can start it with --allow exec",
    }  # fmt: skip


@pytest.mark.parametrize("size", [0, 1, 3, 4095, 4096, 4097, 65_537, 262_144])
def test_both_masking_routes_xor_with_the_repeated_key(size: int) -> None:
    from heron.agent.websocket import mask_payload

    payload, key = bytes(range(256)) * (size // 256 + 1), b"\x9a\x01\xff\x42"
    payload = payload[:size]
    assert mask_payload(payload, key) == bytes(b ^ key[i % 4] for i, b in enumerate(payload))
