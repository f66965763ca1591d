"""Nezha's ``cycle_transfer_stats`` in ``GET /api/v1/service``, on the real server and agent.

A real agent reports a few times and is stopped; more status rows of its server are written
with growing transfer counters; an admin's rule with a transfer quota then shows, under the
rule's id, the cycle, the quota and the bytes the server moved in it: its last counter less
its first (the counters only grow here). A member who cannot see that server gets no
statistics, and a server the quota ignores is not listed.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.cast import make_cast
from tests.conftest import RunningServer
from tests.inventory.test_agent_live import server_of, sql, start_agent, stop, wait_for

NS = 1_000_000_000
SUFFIX = {"DOUBLE": "", "BIGINT": "i", "UBIGINT": "u"}


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _status_rows(c: httpx.Client, sid: int) -> int:
    """The server's status rows (0 while the table does not exist yet)."""
    r = c.post(
        "/api/v1/sql",
        params={"db": "public"},
        content=f"SELECT count(*) AS n FROM server_status WHERE server_id = '{sid}'",
        headers={"Accept": "application/json"},
    )
    if r.status_code == 422 and "does not exist" in r.text:
        return 0
    assert r.status_code == 200, r.text
    return int(r.json()[0]["n"])


def _overview(c: httpx.Client) -> dict[str, Any]:
    r = c.get("/api/v1/service")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def test_a_transfer_quota_shows_its_cycle_and_the_bytes_moved(server: RunningServer, tmp_path: Path) -> None:
    cast = make_cast(server)
    agent_id = "quota-" + secrets.token_hex(4)
    agent = start_agent(server, cast.alice.token, agent_id, tmp_path)
    try:
        with server.client() as c:
            srv = wait_for(lambda: server_of(c, agent_id), timeout_s=30, what="the agent's first report")
            sid = srv["id"]
            wait_for(lambda: _status_rows(c, sid) >= 2, timeout_s=30, what="two status rows")
    finally:
        stop(agent)

    with server.client() as c:
        types = {r["column_name"]: r["column_type"] for r in sql(c, "DESCRIBE server_status")}
        last = sql(
            c,
            "SELECT epoch_ns(time) AS t, net_in_transfer AS i, net_out_transfer AS o FROM server_status"
            f" WHERE server_id = '{sid}' ORDER BY time DESC LIMIT 1",
        )[0]
        lines = "\n".join(
            f"server_status,server_id={sid},server_name={agent_id} "
            f"net_in_transfer={last['i'] + 1000 * k}{SUFFIX[types['net_in_transfer']]},"
            f"net_out_transfer={last['o'] + 300 * k}{SUFFIX[types['net_out_transfer']]} {last['t'] + k * NS}"
            for k in range(1, 6)
        )
        assert c.post("/api/v1/write", params={"db": "public"}, content=lines).status_code == 200
        first = sql(
            c,
            "SELECT net_in_transfer AS i, net_out_transfer AS o FROM server_status"
            f" WHERE server_id = '{sid}' ORDER BY time LIMIT 1",
        )[0]
        moved = (last["i"] + 5000 - first["i"]) + (last["o"] + 1500 - first["o"])

        start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
        rule = {
            "name": "monthly quota",
            "rules": [
                {
                    "type": "transfer_all_cycle",
                    "max": 10**12,
                    "min": 0,
                    "cycle_start": _rfc3339(start),
                    "cycle_interval": 1,
                    "cycle_unit": "hour",
                    "cover": 0,
                }
            ],
        }
        r = c.post("/api/v1/alert-rule", json=rule)
        assert r.status_code == 200, r.text
        rule_id = str(r.json()["data"])

        stats = _overview(c)["cycle_transfer_stats"][rule_id]
        assert stats["name"] == "monthly quota"
        assert stats["from"] == _rfc3339(start) and stats["to"] == _rfc3339(start + timedelta(hours=1))
        assert stats["max"] == 10**12 and stats["min"] == 0
        assert stats["server_name"][str(sid)] == agent_id
        assert stats["transfer"][str(sid)] == moved
        assert datetime.fromisoformat(stats["next_update"][str(sid)]) > datetime.now(UTC)

    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {cast.bob.token}"}, timeout=30) as bob:
        assert rule_id not in _overview(bob).get("cycle_transfer_stats", {})

    with server.client() as c:
        ignoring = {**rule["rules"][0], "cover": 0, "ignore": {str(sid): True}}  # type: ignore[dict-item]
        r = c.patch(f"/api/v1/alert-rule/{rule_id}", json={**rule, "rules": [ignoring]})
        assert r.status_code == 200, r.text
        assert str(sid) not in _overview(c).get("cycle_transfer_stats", {}).get(rule_id, {}).get("server_name", {})
        assert c.post("/api/v1/batch-delete/alert-rule", json=[int(rule_id)]).status_code == 200
