"""The live state and the views the APIs build from it, in-process: cleaning, offline sweep, history rows."""

from __future__ import annotations

from datetime import UTC, datetime

from heron.api.compat.nezha_v0 import NEVER_UNIX, _details, _summary
from heron.api.inventory.servers import NEVER_RFC3339, v1_server
from heron.inventory.live import EVENTS_TABLE, STATUS_TABLE, LiveState, clean_host, clean_status
from heron.inventory.registry import ServerInfo
from heron.inventory.view import view_of

T0 = 1_700_000_000.0


def info(**kw: object) -> ServerInfo:
    base: dict[str, object] = {
        "id": 7, "name": "web-1", "source": "agent", "created_at": datetime.fromtimestamp(T0, UTC),
        "last_active": None, "host_ip": "", "os": "", "arch": "", "cpu_num": 0, "agent_version": "",
        "clock_offset_ms": 0, "labels": {},
    }  # fmt: skip
    base.update(kw)
    return ServerInfo(**base)  # type: ignore[arg-type]


def test_a_server_that_never_reported_looks_as_in_nezha() -> None:
    view = view_of(info(), None, now=T0, offline_after_seconds=10)
    summary = _summary(view).model_dump()
    assert summary == {
        "id": 7, "name": "web-1", "tag": "", "last_active": NEVER_UNIX, "ipv4": "", "ipv6": "", "valid_ip": "",
    }  # fmt: skip
    details = _details(view).model_dump()
    assert details["host"]["CPU"] is None and details["host"]["MemTotal"] == 0
    assert set(details["status"].values()) == {0}
    v1 = v1_server(view, show_note=False)
    assert v1["last_active"] == NEVER_RFC3339 and v1["online"] is False


def test_reports_are_cleaned_to_known_keys_and_types() -> None:
    host = clean_host({"Platform": "debian", "CPU": ["x", 5], "MemTotal": "big", "Evil": "x" * 10_000})
    assert host["Platform"] == "debian" and host["CPU"] == ["x"] and host["MemTotal"] == 0 and "Evil" not in host
    status = clean_status({"CPU": 12.345678, "MemUsed": -5, "Load1": float("nan"), "Temperatures": [{"Name": "a"}]})
    assert status["CPU"] == 12.3457 and status["MemUsed"] == 0 and status["Load1"] == 0
    assert status["Temperatures"] == [{"Name": "a", "Temperature": 0}]
    assert clean_status("not a dict")["ProcessCount"] == 0


def test_silence_longer_than_the_timeout_is_offline_and_recorded() -> None:
    live = LiveState()
    live.connected(7, "web-1", clean_host({}), at=T0)
    live.report(7, clean_status({"CPU": 5.0, "MemUsed": 100}), sent_at=T0 + 1, received_at=T0 + 1)
    assert live.sweep(now=T0 + 5, offline_after_seconds=10) == []
    changes = live.sweep(now=T0 + 12, offline_after_seconds=10)
    assert [(c.server_id, c.event, c.last_active) for c in changes] == [(7, "offline", T0 + 1)]
    live.report(7, clean_status({"CPU": 6.0}), sent_at=T0 + 20, received_at=T0 + 20)
    current = live.get(7)
    assert current is not None and current.online and current.status["CPU"] == 6.0
    status, events = live.drain()
    assert status.table == STATUS_TABLE and len(status) == 2
    assert status.fields["cpu"].to_pylist() == [5.0, 6.0] and status.tags["server_id"].to_pylist() == ["7", "7"]
    assert events.table == EVENTS_TABLE and events.fields["event"].to_pylist() == ["online", "offline", "online"]
    assert live.drain() == []


def test_an_old_backlog_report_is_history_but_not_the_live_status() -> None:
    live = LiveState()
    live.connected(1, "db", clean_host({}), at=T0)
    live.report(1, clean_status({"CPU": 9.0}), sent_at=T0 + 10, received_at=T0 + 10)
    live.report(1, clean_status({"CPU": 1.0}), sent_at=T0 - 50, received_at=T0 + 11)
    current = live.get(1)
    assert current is not None and current.status["CPU"] == 9.0
    rows = live.drain()[0]
    assert rows.fields["cpu"].to_pylist() == [9.0, 1.0]
    assert rows.time.to_pylist()[1] == int((T0 - 50) * 1e9)


def test_a_heartbeat_only_server_shows_its_heartbeat_as_host() -> None:
    seen = datetime.fromtimestamp(T0, UTC)
    view = view_of(
        info(source="heartbeat", last_active=seen, host_ip="10.0.0.5", os="linux", arch="amd64", agent_version="v1"),
        None,
        now=T0 + 1,
        offline_after_seconds=10,
    )
    assert view.online and view.ipv4 == "10.0.0.5"
    assert (view.host["Platform"], view.host["Arch"], view.host["Version"]) == ("linux", "amd64", "v1")
    assert _summary(view).valid_ip == "10.0.0.5" and _summary(view).last_active == int(T0)
