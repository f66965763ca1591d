"""Nezha's cycle transfer statistics: how much of each transfer quota the servers have used.

Nezha v1's ``GET /api/v1/service`` answers, beside the monitors, ``cycle_transfer_stats``:
for every alert rule with a transfer quota (``transfer_in_cycle``, ``transfer_out_cycle``,
``transfer_all_cycle``), keyed by the rule's id, the current cycle (``from``, ``to``), the
quota's bounds (``max``, ``min``) and, for each server the quota watches, its name, the
bytes it moved in the cycle and when that count is read again (``next_update``). Its status
page draws them as quota bars. The first quota of a rule is the one shown, as in Nezha.

The bytes are the ones the rule itself is evaluated on (one read of the status history per
rule and minute, shared with the evaluator), so the bar and the alert never disagree. A
caller sees only the servers it may see.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from heron.alerts.conditions import cycle_bounds
from heron.alerts.sources.servers import CYCLE_REFRESH_SECONDS, cycle_bytes

if TYPE_CHECKING:
    from heron.alerts.service import AlertService


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cycle_transfer_stats(alerts: AlertService, visible: Mapping[int, str], now: float) -> dict[str, dict[str, Any]]:
    """The statistics of every enabled server rule with a quota, limited to ``visible`` servers
    (id -> name); a rule none of whose servers is visible is left out."""
    out: dict[str, dict[str, Any]] = {}
    source = alerts.server_source
    routing_loaded = False
    for rule in alerts.current_rules():
        if rule.kind != "server" or not rule.enabled:
            continue
        found = next(((i, c) for i, c in enumerate(rule.conditions) if c.is_cycle), None)
        if found is None:
            continue
        index, cond = found
        if not routing_loaded:
            alerts.routing()  # who is an admin: their rules watch every server
            routing_loaded = True
        watched = [
            srv for srv in source.servers if srv.id in visible and cond.covers(srv.id) and alerts.may_watch(rule, srv)
        ]
        if not watched:
            continue
        read_at, moved = source.cycle_transfer(rule, index, cond, now)
        start, end = cycle_bounds(cond, datetime.fromtimestamp(now, UTC))
        next_update = _rfc3339(datetime.fromtimestamp(read_at + CYCLE_REFRESH_SECONDS, UTC))
        out[str(rule.id)] = {
            "name": rule.name,
            "from": _rfc3339(start),
            "to": _rfc3339(end),
            "max": int(cond.max),
            "min": int(cond.min),
            "server_name": {str(srv.id): visible[srv.id] for srv in watched},
            "transfer": {str(srv.id): int(cycle_bytes(cond, moved.get(srv.id, (0.0, 0.0)))) for srv in watched},
            "next_update": {str(srv.id): next_update for srv in watched},
        }
    return out
