"""Status pages through the real server: the admin API, the public HTML, caching, guests' view, the UI's files."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.cast import Cast, make_cast
from tests.conftest import RunningServer, start_server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-status"), env={"HERON_STATUS_CACHE_SECONDS": "0"})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cast(site: RunningServer) -> Cast:
    return make_cast(site)


def _server(admin: httpx.Client, name: str, *, hidden: bool = False) -> int:
    r = admin.post("/api/v1/server", json={"name": name, "hide_for_guest": hidden, "public_note": f"note of {name}"})
    assert r.status_code == 200, r.text
    server_id: int = r.json()["data"]["id"]
    return server_id


def test_admins_manage_status_pages_and_others_may_not(site: RunningServer, cast: Cast) -> None:
    with site.client() as admin:
        shown = _server(admin, "page-web")
        r = admin.post("/api/v1/status-page", json={"slug": "shop", "title": "Shop", "servers": [shown]})
        assert r.status_code == 201, r.text
        page = r.json()["data"]
        assert page["url"] == "/status/shop" and page["servers"] == [shown]
        r = admin.patch(f"/api/v1/status-page/{page['id']}", json={"title": "Our shop", "description": "Orders"})
        assert r.json()["data"]["title"] == "Our shop" and r.json()["data"]["servers"] == [shown]
        assert [p["slug"] for p in admin.get("/api/v1/status-page").json()["data"]] == ["shop"]

        r = admin.post("/api/v1/status-page", json={"slug": "Bad Slug!", "title": "x"})
        assert r.status_code == 400 and "slug" in r.json()["error"]
        r = admin.post("/api/v1/status-page", json={"slug": "shop", "title": "again"})
        assert r.status_code == 400 and "already used" in r.json()["error"]
        r = admin.post("/api/v1/status-page", json={"slug": "ghost", "title": "x", "servers": [987654]})
        assert r.status_code == 404 and "987654" in r.json()["error"]

    bob = httpx.get(f"{site.url}/api/v1/status-page", headers=cast.bob.bearer)
    assert bob.status_code == 403
    assert httpx.get(f"{site.url}/api/v1/status-page").status_code == 401


def test_the_status_page_shows_the_guests_view_without_javascript(site: RunningServer) -> None:
    with site.client() as admin:
        visible = _server(admin, "visible-db")
        hidden = _server(admin, "secret-db", hidden=True)
        admin.post("/api/v1/status-page", json={"slug": "db", "title": "Databases", "servers": [hidden, visible]})
    everything = httpx.get(f"{site.url}/status")
    assert everything.status_code == 200
    assert everything.headers["content-type"].startswith("text/html")
    assert "visible-db" in everything.text and "note of visible-db" in everything.text
    assert "secret-db" not in everything.text
    assert 'role="img"' in everything.text and "no data" in everything.text  # a 90-day bar, no history yet

    page = httpx.get(f"{site.url}/status/db")
    assert page.status_code == 200
    assert "<h1>Databases</h1>" in page.text and 'property="og:title"' in page.text
    assert "visible-db" in page.text and "secret-db" not in page.text and "page-web" not in page.text
    part = httpx.get(f"{site.url}/status/db", params={"part": "main"})
    assert part.status_code == 200 and "<html" not in part.text and "visible-db" in part.text

    assert httpx.get(f"{site.url}/status/no-such-page").status_code == 404
    assert httpx.get(f"{site.url}/status/db", params={"part": "nope"}).status_code == 400


def test_a_status_page_is_cached_and_revalidated(site: RunningServer) -> None:
    first = httpx.get(f"{site.url}/status")
    assert first.headers["cache-control"].startswith("public, max-age=")
    again = httpx.get(f"{site.url}/status", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code in (200, 304)
    if again.status_code == 200:  # drawn anew (cache of 0 s here), and something changed: a new tag
        assert again.headers["etag"] != first.headers["etag"] or again.text == first.text


def test_the_page_speaks_the_browsers_language(site: RunningServer) -> None:
    page = httpx.get(f"{site.url}/status", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in page.text and "近期事件" in page.text


def test_force_auth_closes_the_status_page_to_guests(site: RunningServer) -> None:
    with site.client() as admin:
        assert admin.patch("/api/v1/setting", json={"force_auth": True}).status_code == 200
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # site settings are re-read every few seconds
                guest = httpx.get(f"{site.url}/status")
                if guest.status_code == 401:
                    break
                time.sleep(0.2)
            assert guest.status_code == 401 and "/login?next=" in guest.text
            assert guest.headers["cache-control"] == "no-store"
            assert admin.get("/status").status_code == 200
        finally:
            admin.patch("/api/v1/setting", json={"force_auth": False})


def test_the_ui_is_served_at_its_addresses_and_leaves_the_api_alone(site: RunningServer) -> None:
    for path in ("/", "/servers", "/servers/12", "/admin/users", "/login"):
        r = httpx.get(f"{site.url}{path}")
        assert r.status_code == 200 and '<div id="app">' in r.text, path
        assert r.headers["cache-control"] == "no-cache"
    script = r.text.split('<script type="module" src="')[1].split('"')[0]
    zipped = httpx.get(f"{site.url}{script}", headers={"Accept-Encoding": "gzip"})
    assert zipped.status_code == 200 and zipped.headers["content-encoding"] == "gzip"
    assert "immutable" in zipped.headers["cache-control"]
    assert zipped.headers["content-type"].startswith("text/javascript")
    missing = httpx.get(f"{site.url}/no-such-page")
    assert missing.status_code == 404 and missing.json()["success"] is False
    assert httpx.get(f"{site.url}/assets/..%2Fmanifest.json").status_code == 404
    assert httpx.get(f"{site.url}/api/v1/login").status_code == 405


def test_a_401_to_the_ui_carries_no_basic_challenge(site: RunningServer) -> None:
    script = httpx.get(f"{site.url}/api/v1/profile")
    assert script.status_code == 401 and script.headers["www-authenticate"].startswith("Basic")
    ui = httpx.get(f"{site.url}/api/v1/profile", headers={"X-Requested-With": "XMLHttpRequest"})
    assert ui.status_code == 401 and "www-authenticate" not in ui.headers


def test_websockets_are_in_the_openapi_document(site: RunningServer) -> None:
    doc = httpx.get(f"{site.url}/openapi.json").json()
    stream = doc["paths"]["/api/v1/ws/server"]["get"]
    assert stream["x-heron-websocket"] is True and stream["x-heron-access"] == "guest"
    assert doc["paths"]["/api/v1/status-page"]["post"]["x-heron-access"] == "admin"
