"""Every credential form reaches the same principal; sessions, refresh, logout, CSRF; nothing secret at rest."""

from __future__ import annotations

import base64
import sqlite3
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.cast import Cast
from tests.conftest import RunningServer


def _login(url: str, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/login", json={"username": username, "password": password}, timeout=30)


def _apikey(url: str, token: str) -> str:
    r = httpx.post(f"{url}/api/v1/apikey", json={"description": "ci"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    key: str = r.json()["data"]["key"]
    return key


def test_login_answers_nezha_v1_shape_and_sets_the_ui_cookies(cast: Cast) -> None:
    r = _login(cast.url, cast.bob.username, cast.bob.password)
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and set(body["data"]) == {"token", "expire"}
    expire = datetime.fromisoformat(body["data"]["expire"])
    assert expire.tzinfo is not None and expire > datetime.now(UTC)
    cookie = r.headers.get_list("set-cookie")
    session = next(c for c in cookie if c.startswith("heron_session="))
    assert "HttpOnly" in session and "SameSite=lax" in session.replace("Lax", "lax")
    assert any(c.startswith("heron_csrf=") and "HttpOnly" not in c for c in cookie)


@pytest.mark.parametrize(
    "form", ["jwt", "bearer", "token", "bare", "x-user-token", "x-oitc-api", "cookie", "basic", "basic-token", "query"]
)
def test_each_credential_form_reaches_the_same_principal(cast: Cast, form: str) -> None:
    bob = cast.bob
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    cookies: dict[str, str] = {}
    if form == "jwt":
        headers["Authorization"] = "Bearer " + _login(cast.url, bob.username, bob.password).json()["data"]["token"]
    elif form == "bearer":
        headers["Authorization"] = f"Bearer {bob.token}"
    elif form == "token":
        headers["Authorization"] = f"Token {bob.token}"
    elif form == "bare":
        headers["Authorization"] = bob.token
    elif form == "x-user-token":
        headers["X-User-Token"] = bob.token
    elif form == "x-oitc-api":
        headers["Authorization"] = "X-OITC-API " + _apikey(cast.url, bob.token)
    elif form == "cookie":
        cookies = dict(_login(cast.url, bob.username, bob.password).cookies)
    elif form == "basic":
        headers["Authorization"] = "Basic " + base64.b64encode(f"{bob.username}:{bob.password}".encode()).decode()
    elif form == "basic-token":
        headers["Authorization"] = "Basic " + base64.b64encode(f"{bob.username}:{bob.token}".encode()).decode()
    else:
        params = {"u": bob.username, "p": bob.password}
    with httpx.Client(base_url=cast.url, cookies=cookies, timeout=30) as client:
        r = client.get("/api/v1/profile", headers=headers, params=params)
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["id"], r.json()["data"]["username"]) == (bob.id, bob.username)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer heron_not-a-real-token"},
        {"Authorization": "Token heron_not-a-real-token"},
        {"X-User-Token": "e6897d32-c237-4d27-a0fc-786345b682ea"},
        {"Authorization": "X-OITC-API " + "ab" * 80},
        {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"},
        {"Authorization": "Digest username=x"},
    ],
)
def test_a_wrong_credential_is_401_never_a_guest(cast: Cast, headers: dict[str, str]) -> None:
    headers = {**headers, "X-Real-IP": "192.0.2.77"}
    r = httpx.get(f"{cast.url}/api/v1/setting", headers=headers)
    assert r.status_code == 401 and r.json()["success"] is False


def test_cookie_writes_need_the_csrf_header(cast: Cast) -> None:
    login = _login(cast.url, cast.charlie.username, cast.charlie.password)
    with httpx.Client(base_url=cast.url, cookies=dict(login.cookies), timeout=30) as client:
        assert client.get("/api/v1/profile").status_code == 200
        r = client.patch("/api/v1/profile", json={"nickname": "C"})
        assert r.status_code == 403 and "X-CSRF-Token" in r.json()["error"]
        r = client.patch("/api/v1/profile", json={"nickname": "C"}, headers={"X-CSRF-Token": "wrong"})
        assert r.status_code == 403
        csrf = login.cookies["heron_csrf"]
        r = client.patch("/api/v1/profile", json={"nickname": "C"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json()["data"]["nickname"] == "C"


def test_refresh_extends_and_logout_ends_the_session(cast: Cast) -> None:
    token = _login(cast.url, cast.bob.username, cast.bob.password).json()["data"]["token"]
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.post(f"{cast.url}/api/v1/refresh-token", headers=auth)
    assert r.status_code == 200 and r.json()["data"]["token"] != token
    fresh = {"Authorization": "Bearer " + r.json()["data"]["token"]}
    online = httpx.get(f"{cast.url}/api/v1/online-user", headers=cast.alice.bearer).json()["data"]
    assert any(s["username"] == cast.bob.username for s in online["value"])
    assert httpx.post(f"{cast.url}/api/v1/logout", headers=fresh).status_code == 200
    assert httpx.get(f"{cast.url}/api/v1/profile", headers=fresh).status_code == 401
    assert httpx.get(f"{cast.url}/api/v1/profile", headers=auth).status_code == 401
    r = httpx.post(f"{cast.url}/api/v1/refresh-token", headers=cast.bob.bearer)
    assert r.status_code == 400, "a personal token is not a session"


def test_tokens_expire_and_revoke(cast: Cast) -> None:
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = httpx.post(f"{cast.url}/api/v1/token", json={"note": "short", "expires_at": soon}, headers=cast.bob.bearer)
    assert r.status_code == 201
    created = r.json()["data"]
    assert httpx.get(f"{cast.url}/api/v1/profile", headers={"X-User-Token": created["token"]}).status_code == 200
    listed = httpx.get(f"{cast.url}/api/v1/token", headers=cast.bob.bearer).json()["data"]["value"]
    mine = next(t for t in listed if t["id"] == created["id"])
    assert "token" not in mine and mine["last_used_at"] is not None and created["token"].startswith(mine["hint"])
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert httpx.post(f"{cast.url}/api/v1/token", json={"expires_at": past}, headers=cast.bob.bearer).status_code == 400
    assert httpx.delete(f"{cast.url}/api/v1/token/{created['id']}", headers=cast.bob.bearer).status_code == 200
    r = httpx.get(f"{cast.url}/api/v1/profile", headers={"X-User-Token": created["token"], "X-Real-IP": "192.0.2.78"})
    assert r.status_code == 401


def test_password_change_ends_other_sessions(auth_server: RunningServer, cast: Cast) -> None:
    r = httpx.post(
        f"{cast.url}/api/v1/user", json={"username": "dora", "password": "first-password"}, headers=cast.alice.bearer
    )
    assert r.status_code == 201
    old = _login(cast.url, "dora", "first-password").json()["data"]["token"]
    mine = _login(cast.url, "dora", "first-password").json()["data"]["token"]
    r = httpx.patch(
        f"{cast.url}/api/v1/profile",
        json={"original_password": "wrong-password", "new_password": "second-password"},
        headers={"Authorization": f"Bearer {mine}"},
    )
    assert r.status_code == 401
    r = httpx.patch(
        f"{cast.url}/api/v1/profile",
        json={"original_password": "first-password", "new_password": "second-password"},
        headers={"Authorization": f"Bearer {mine}"},
    )
    assert r.status_code == 200
    assert httpx.get(f"{cast.url}/api/v1/profile", headers={"Authorization": f"Bearer {mine}"}).status_code == 200
    assert httpx.get(f"{cast.url}/api/v1/profile", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert _login(cast.url, "dora", "second-password").status_code == 200


def test_no_plaintext_secret_is_stored_or_logged(auth_server: RunningServer, cast: Cast) -> None:
    login = _login(cast.url, cast.bob.username, cast.bob.password).json()["data"]["token"]
    key = _apikey(cast.url, cast.bob.token)
    staged = httpx.get(f"{cast.url}/profile/create_apikey.json", headers=cast.bob.bearer).json()["apikey"]
    import jwt as pyjwt

    session_secret = pyjwt.decode(login, options={"verify_signature": False})["sid"]
    secrets_ = {
        "password": cast.bob.password,
        "admin password": auth_server.password,
        "token": cast.bob.token,
        "api key": key,
        "staged api key": staged,
        "login token": login,
        "session id": session_secret,
    }
    con = sqlite3.connect(auth_server.data_dir / "meta.sqlite3")
    try:
        dump = "\n".join(con.iterdump())
    finally:
        con.close()
    assert "argon2" in dump
    found = [name for name, value in secrets_.items() if value in dump]
    assert not found, f"stored in clear: {found}"
    log = "\n".join(auth_server.log_lines)
    assert not [name for name, value in secrets_.items() if value in log]


def test_a_stale_session_cookie_makes_a_guest_not_an_error(cast: Cast) -> None:
    login = _login(cast.url, cast.charlie.username, cast.charlie.password)
    cookies = dict(login.cookies)
    csrf = {"X-CSRF-Token": login.cookies["heron_csrf"]}
    with httpx.Client(base_url=cast.url, cookies=cookies, timeout=30) as browser:
        assert browser.post("/api/v1/logout", headers=csrf).status_code == 200
    with httpx.Client(base_url=cast.url, cookies=cookies, timeout=30) as browser:
        r = browser.get("/api/v1/setting")
        assert r.status_code == 200 and "install_host" not in r.json()["data"]["config"]
        assert browser.get("/api/v1/profile").status_code == 401
