"""Every route of the application, enumerated at run time, against who may call it.

The routes come from the application object itself (``create_app``), so a route added
tomorrow is tested tomorrow without editing this file: without credentials it must answer
``401``, unless it is on the short allow-list of public routes below. Then the cast: a member
cannot reach admin routes nor another member's tokens and keys, and a guest sees only what
guests may.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from heron.api.app import create_app
from heron.api.docs import access_of, api_routes
from heron.api.services import open_services
from heron.api.web.assets import UI_SECTIONS
from heron.auth.scopes import ADMIN, covers, required_scopes
from heron.config import Settings
from tests.cast import Cast, make_cast
from tests.conftest import RunningServer, start_server

#: Routes anyone may call without credentials: liveness, logging in, the docs, the site settings,
#: and the server lists, which show guests the servers not hidden from them (unless ``force_auth``).
PUBLIC = {
    ("GET", "/api/v1/server"),
    ("GET", "/api/v1/server/list"),
    ("GET", "/api/v1/server/details"),
    ("GET", "/api/v1/server/{server_id}/metrics"),
    ("GET", "/api/v1/ping"),
    ("HEAD", "/api/v1/ping"),
    ("GET", "/ping"),
    ("HEAD", "/ping"),
    ("GET", "/health"),
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/login"),
    ("GET", "/api/v1/setting"),
    ("GET", "/swagger/index.html"),
    ("GET", "/swagger/{asset}"),
    ("GET", "/docs"),
    # Service monitors: Nezha's guest routes (force_auth off), and push URLs whose token is the credential.
    ("GET", "/api/v1/service"),
    ("GET", "/api/v1/service/server"),
    ("GET", "/api/v1/service/{service_id}"),
    ("GET", "/api/v1/service/{service_id}/history"),
    ("GET", "/api/v1/service/{service_id}/server"),
    ("GET", "/api/v1/service/daily"),
    ("GET", "/api/v1/service/{service_id}/event"),
    ("GET", "/api/v1/server/{server_id}/service"),
    ("GET", "/api/v1/monitor/{server_id}"),
    ("GET", "/api/v1/push/{token}"),
    ("POST", "/api/v1/push/{token}"),
    ("GET", "/api/v1/push/{token}/{signal}"),
    ("POST", "/api/v1/push/{token}/{signal}"),
}
#: The web UI's pages and files, and the public status pages: HTML for browsers (heron.api.web).
PUBLIC |= {("GET", "/"), ("GET", "/assets/{name}"), ("GET", "/status"), ("GET", "/status/{slug}")}
PUBLIC |= {("GET", f"/{section}") for section in UI_SECTIONS} | {("GET", f"/{s}/{{rest}}") for s in UI_SECTIONS}
#: Peers that refuse a missing credential with their own status (Datadog's intake answers 403).
PEER_REFUSAL = {"/datadog/": 403}


def _routes() -> list[tuple[str, str, str]]:
    """(method, path, access) of every API route, read from a freshly built application."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        svc = open_services(Settings(data_dir=Path(tmp), admin_password="unused-password"))
        try:
            app = create_app(svc)
            found = {(m, r.path_format, access_of(r)) for r in api_routes(app) for m in (r.methods or ())}
        finally:
            svc.close()
    return sorted(found)


ROUTES = _routes()


def _fill(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return "swagger-ui.css" if name == "asset" else "x" if name == "name" else "1"

    return re.sub(r"{(\w+)(?::\w+)?}", value, path)


@pytest.fixture(scope="module")
def access_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-access"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cast(access_server: RunningServer) -> Cast:
    return make_cast(access_server)


def test_the_route_table_is_not_empty_and_the_allow_list_is_current() -> None:
    present = {(m, p) for m, p, _ in ROUTES}
    assert len(ROUTES) > 40
    assert present >= PUBLIC, f"allow-listed routes that no longer exist: {PUBLIC - present}"


@pytest.mark.parametrize(("method", "path", "access"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_without_credentials_only_public_routes_answer(
    access_server: RunningServer, method: str, path: str, access: str
) -> None:
    r = httpx.request(method, access_server.url + _fill(path), timeout=30)
    refusal = next((status for prefix, status in PEER_REFUSAL.items() if path.startswith(prefix)), 401)
    if (method, path) in PUBLIC:
        assert r.status_code not in (401, 403), f"{method} {path} is public but answered {r.status_code}"
        assert access in ("public", "guest")
    else:
        assert r.status_code == refusal, f"{method} {path} answered {r.status_code} without credentials: {r.text[:200]}"
        if method != "HEAD":
            assert r.headers["content-type"].startswith("application/json")


ADMIN_ROUTES = [(m, p) for m, p, a in ROUTES if a == "admin"]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES, ids=[f"{m} {p}" for m, p in ADMIN_ROUTES])
def test_members_cannot_use_admin_routes(cast: Cast, method: str, path: str) -> None:
    r = httpx.request(method, cast.url + _fill(path), headers=cast.bob.bearer, json=None, timeout=30)
    assert r.status_code == 403, f"{method} {path}: {r.status_code} {r.text[:200]}"


SIGNED_IN_LISTS = [p for m, p, a in ROUTES if m == "GET" and a in ("user", "admin") and "{" not in p]


@pytest.mark.parametrize("path", SIGNED_IN_LISTS)
def test_an_admin_token_opens_every_signed_in_read(cast: Cast, path: str) -> None:
    r = httpx.get(cast.url + path, headers=cast.alice.bearer, timeout=30)
    assert r.status_code in (200, 400, 404, 422), f"GET {path}: {r.status_code} {r.text[:200]}"
    assert r.status_code != 401


def _bobs(cast: Cast) -> tuple[int, int]:
    token = httpx.post(f"{cast.url}/api/v1/token", json={"note": "bob's"}, headers=cast.bob.bearer).json()["data"]
    key = httpx.post(f"{cast.url}/api/v1/apikey", json={"description": "bob's"}, headers=cast.bob.bearer).json()["data"]
    return token["id"], key["id"]


def test_a_member_cannot_read_or_change_another_members_tokens_and_keys(cast: Cast) -> None:
    token_id, key_id = _bobs(cast)
    with httpx.Client(base_url=cast.url, headers=cast.charlie.bearer, timeout=30) as charlie:
        assert token_id not in [t["id"] for t in charlie.get("/api/v1/token").json()["data"]["value"]]
        assert key_id not in [k["id"] for k in charlie.get("/api/v1/apikey").json()["data"]["value"]]
        assert key_id not in [k["id"] for k in charlie.get("/profile/apikey.json").json()["apikeys"]]
        assert charlie.get("/profile/apikey.json", params={"id": key_id}).status_code == 404
        assert charlie.delete(f"/api/v1/token/{token_id}").status_code == 403
        assert charlie.delete(f"/api/n9e/self/token/{token_id}").status_code == 403
        assert charlie.patch(f"/api/v1/apikey/{key_id}", json={"description": "mine"}).status_code == 403
        assert charlie.post(f"/api/v1/apikey/{key_id}/regenerate").status_code == 403
        assert charlie.delete(f"/api/v1/apikey/{key_id}").status_code == 403
        assert charlie.post(f"/profile/delete_apikey/{key_id}.json").status_code == 404
        r = charlie.post("/profile/apikey.json", json={"Apikey": {"id": key_id, "description": "mine"}})
        assert r.status_code == 403 and r.json()["message"]
    with httpx.Client(base_url=cast.url, headers=cast.bob.bearer, timeout=30) as bob:
        assert token_id in [t["id"] for t in bob.get("/api/v1/token").json()["data"]["value"]]
        assert bob.get("/api/v1/apikey?limit=1000").json()["data"]["value"][-1]["description"] == "bob's"
    everything = httpx.get(f"{cast.url}/api/v1/token?limit=1000", headers=cast.alice.bearer).json()["data"]["value"]
    assert token_id in [t["id"] for t in everything], "admins see every user's tokens"


def test_a_guest_sees_only_what_guests_may(cast: Cast) -> None:
    guest = httpx.get(f"{cast.url}/api/v1/setting").json()["data"]
    member = httpx.get(f"{cast.url}/api/v1/setting", headers=cast.bob.bearer).json()["data"]
    admin = httpx.get(f"{cast.url}/api/v1/setting", headers=cast.alice.bearer).json()["data"]
    assert set(guest["config"]) == {"site_name", "language", "custom_code", "force_auth"}
    assert "version" not in guest and "version" not in member and admin["version"]
    assert set(member["config"]) == set(guest["config"]) | {"install_host"}
    assert "custom_code_dashboard" in admin["config"]


def test_force_auth_turns_guests_away_but_keeps_the_login_page(cast: Cast) -> None:
    with httpx.Client(base_url=cast.url, headers=cast.alice.bearer, timeout=30) as alice:
        assert alice.patch("/api/v1/setting", json={"site_name": "Ops", "force_auth": True}).status_code == 200
        try:
            r = httpx.get(f"{cast.url}/api/v1/setting")
            assert r.status_code == 200 and r.json()["data"]["config"] == {
                "site_name": "Ops",
                "language": "en",
                "custom_code": "",
                "force_auth": True,
            }
            assert httpx.get(f"{cast.url}/api/v1/server").status_code == 401
            assert httpx.get(f"{cast.url}/api/v1/ping").status_code == 200
            assert httpx.get(f"{cast.url}/api/v1/server", headers=cast.bob.bearer).status_code == 200
        finally:
            assert alice.patch("/api/v1/setting", json={"force_auth": False}).status_code == 200
    assert (
        httpx.patch(f"{cast.url}/api/v1/setting", json={"force_auth": True}, headers=cast.bob.bearer).status_code == 403
    )


# -- the scope axis: a scoped token does no more than its scopes allow ---------------------------

SCOPED_ROUTES = [(m, p) for m, p, a in ROUTES if (m, p) not in PUBLIC and a != "push" and m != "HEAD"]


def _scoped_token(cast: Cast, scopes: list[str]) -> dict[str, str]:
    r = httpx.post(f"{cast.url}/api/v1/token", json={"note": "scoped", "scopes": scopes}, headers=cast.alice.bearer)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['data']['token']}"}


@pytest.fixture(scope="module")
def ddns_reader(cast: Cast) -> dict[str, str]:
    return _scoped_token(cast, ["nezha:ddns:read"])


@pytest.mark.parametrize(("method", "path"), SCOPED_ROUTES, ids=[f"{m} {p}" for m, p in SCOPED_ROUTES])
def test_a_scoped_token_is_refused_every_route_its_scopes_do_not_cover(
    cast: Cast, ddns_reader: dict[str, str], method: str, path: str
) -> None:
    """An admin's token limited to ``nezha:ddns:read`` reads DDNS profiles and nothing else."""
    needed = required_scopes(method, path)
    needed = needed if needed is not None else (ADMIN,)
    r = httpx.request(method, cast.url + _fill(path), headers=ddns_reader, timeout=30)
    if all(covers(["nezha:ddns:read"], n) for n in needed):
        assert r.status_code != 403, f"{method} {path}: {r.text[:200]}"
    else:
        assert r.status_code == 403, f"{method} {path} answered {r.status_code}: {r.text[:200]}"


@pytest.mark.parametrize(("method", "path"), SCOPED_ROUTES, ids=[f"{m} {p}" for m, p in SCOPED_ROUTES])
def test_a_token_with_the_scopes_a_route_needs_passes_the_scope_check(cast: Cast, method: str, path: str) -> None:
    needed = required_scopes(method, path)
    assert needed is not None, f"{method} {path} is not in heron.auth.scopes' table: name its scope there"
    if not needed or needed == ("heron:unscoped-token-only",):
        return
    r = httpx.request(method, cast.url + _fill(path), headers=_scoped_token(cast, list(needed)), timeout=30)
    assert "lacks the scope" not in r.text, f"{method} {path}: {r.text[:200]}"


def test_scoped_tokens_cannot_mint_tokens_and_members_cannot_take_admin_scopes(cast: Cast) -> None:
    scoped = _scoped_token(cast, ["nezha:server:*"])
    r = httpx.post(f"{cast.url}/api/v1/token", json={"note": "escalate"}, headers=scoped)
    assert r.status_code == 403 and "scoped token" in r.json()["error"]
    r = httpx.post(f"{cast.url}/api/v1/token", json={"note": "x", "scopes": ["nezha:admin:*"]}, headers=cast.bob.bearer)
    assert r.status_code == 400 and r.json()["error"].startswith("scopes:")
    bogus = {"note": "x", "scopes": ["nezha:bogus:read"]}
    r = httpx.post(f"{cast.url}/api/v1/token", json=bogus, headers=cast.bob.bearer)
    assert r.status_code == 400
