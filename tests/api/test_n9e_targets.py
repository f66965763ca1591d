"""Nightingale's targets: hosts from pushed data and from the API, filters, tags and notes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.cast import Cast, make_cast
from tests.conftest import RunningServer, start_server


@pytest.fixture(scope="module")
def targets_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("heron-n9e-targets"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cast(targets_server: RunningServer) -> Cast:
    return make_cast(targets_server)


def _targets(cast: Cast, token: str, **params: Any) -> dict[str, Any]:
    r = httpx.get(f"{cast.url}/api/n9e/targets", params=params, headers={"X-User-Token": token}, timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["err"] == "" and set(body["dat"]) == {"list", "total"}
    dat: dict[str, Any] = body["dat"]
    return dat


def _wait_for(cast: Cast, ident: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [t for t in _targets(cast, cast.alice.token, query=ident)["list"] if t["ident"] == ident]
        if found:
            first: dict[str, Any] = found[0]
            return first
        time.sleep(0.2)
    raise AssertionError(f"{ident} never appeared")


def test_an_ident_host_from_pushed_data_is_a_target(cast: Cast) -> None:
    r = httpx.post(
        f"{cast.url}/opentsdb/put",
        json={"metric": "cpu_usage_idle", "timestamp": int(time.time()), "tags": {"ident": "c3-ceph01.bj"}, "value": 3},
        headers=cast.alice.bearer,
    )
    assert r.status_code == 200, r.text
    target = _wait_for(cast, "c3-ceph01.bj")
    assert target["target_up"] == 1 and target["update_at"] > 0 and target["tags"] == []
    assert target["group_id"] == 0 and target["group_objs"] is None


def test_tags_and_notes_are_kept_and_filtered_on(cast: Cast) -> None:
    for name, ip in (("web-1", "10.1.0.1"), ("web-2", "10.1.0.2"), ("db-1", "10.2.0.1")):
        r = httpx.post(
            f"{cast.url}/hosts/add.json", json={"Host": {"name": name, "address": ip}}, headers=cast.bob.bearer
        )
        assert r.status_code == 200, r.text
    with httpx.Client(base_url=cast.url, headers={"X-User-Token": cast.bob.token}, timeout=30) as n9e:
        ok = {"dat": None, "err": ""}
        assert (
            n9e.post(
                "/api/n9e/targets/tags", json={"idents": ["web-1", "web-2"], "tags": ["env=prod", "role=web"]}
            ).json()
            == ok
        )
        assert (
            n9e.request("DELETE", "/api/n9e/targets/tags", json={"idents": ["web-2"], "tags": ["role=web"]}).json()
            == ok
        )
        assert n9e.put("/api/n9e/targets/note", json={"idents": ["db-1"], "note": "primary"}).json() == ok
        bad = n9e.post("/api/n9e/targets/tags", json={"idents": ["web-1"], "tags": ["no-equals"]})
        assert bad.status_code == 400 and bad.json()["dat"] is None and "no-equals" in bad.json()["err"]
        missing = n9e.put("/api/n9e/targets/note", json={"idents": ["nowhere"], "note": "x"})
        assert missing.status_code == 404 and "nowhere" in missing.json()["err"]

    mine = _targets(cast, cast.bob.token)
    assert mine["total"] == 3 and [t["ident"] for t in mine["list"]] == ["db-1", "web-1", "web-2"]
    by_ident = {t["ident"]: t for t in mine["list"]}
    assert by_ident["web-1"]["tags"] == ["env=prod", "role=web"] and by_ident["web-2"]["tags"] == ["env=prod"]
    assert by_ident["db-1"]["note"] == "primary" and by_ident["db-1"]["host_ip"] == "10.2.0.1"
    assert by_ident["web-1"]["target_up"] == 0

    assert [t["ident"] for t in _targets(cast, cast.bob.token, query="role=web")["list"]] == ["web-1"]
    assert [t["ident"] for t in _targets(cast, cast.bob.token, query="prod 10.1.0.2")["list"]] == ["web-2"]
    assert [t["ident"] for t in _targets(cast, cast.bob.token, query="primary")["list"]] == ["db-1"]
    page2 = _targets(cast, cast.bob.token, limit=2, p=2)
    assert page2["total"] == 3 and [t["ident"] for t in page2["list"]] == ["web-2"]

    # Charlie sees none of Bob's hosts and may not change them; Alice (admin) may.
    assert _targets(cast, cast.charlie.token, query="web")["total"] == 0
    denied = httpx.put(
        f"{cast.url}/api/n9e/targets/note",
        json={"idents": ["web-1"], "note": "mine"},
        headers={"X-User-Token": cast.charlie.token},
    )
    assert denied.status_code == 403 and denied.json()["err"]
    assert _targets(cast, cast.alice.token, query="web-1")["list"][0]["note"] == ""
    allowed = httpx.put(
        f"{cast.url}/api/n9e/targets/note",
        json={"idents": ["web-1"], "note": "by admin"},
        headers={"X-User-Token": cast.alice.token},
    )
    assert allowed.status_code == 200
    assert _targets(cast, cast.bob.token, query="web-1")["list"][0]["note"] == "by admin"
