"""The cast of the access tests: Alice (admin), Bob (member), Charlie (a member who cannot see Bob's things)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx

from tests.conftest import RunningServer


@dataclass
class Person:
    id: int
    username: str
    password: str
    token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Cast:
    url: str
    alice: Person
    bob: Person
    charlie: Person


def _token(url: str, username: str, password: str, note: str) -> str:
    r = httpx.post(f"{url}/api/v1/token", json={"note": note}, auth=(username, password), timeout=30)
    assert r.status_code == 201, r.text
    token: str = r.json()["data"]["token"]
    return token


def make_cast(server: RunningServer) -> Cast:
    """Create Bob and Charlie (members) through the API, and a token for each of the three."""
    people = {}
    for name in ("bob", "charlie"):
        username = f"{name}_{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        r = httpx.post(
            f"{server.url}/api/v1/user",
            json={"username": username, "password": password, "role": "member", "nickname": name.title()},
            auth=server.auth,
            timeout=30,
        )
        assert r.status_code == 201, r.text
        people[name] = Person(r.json()["data"]["id"], username, password, _token(server.url, username, password, name))
    me = httpx.get(f"{server.url}/api/v1/profile", auth=server.auth, timeout=30).json()["data"]
    alice = Person(me["id"], "admin", server.password, _token(server.url, "admin", server.password, "alice"))
    return Cast(server.url, alice, people["bob"], people["charlie"])
