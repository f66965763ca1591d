"""Live state of the servers: the latest host and status per server, online or offline, history rows.

Status arrives every few seconds from every agent, so it lives in memory and never touches
the metadata database on the report path. Each report also becomes a row of the
``server_status`` table in the TSDB, and each online/offline change a row of
``server_events``; both are buffered here and drained in batches by a background task
(:meth:`LiveState.drain`), which also runs offline detection (:meth:`LiveState.sweep`).

Reports are cleaned on arrival (:func:`clean_host`, :func:`clean_status`): only Nezha's
keys are kept, with their types, so a misbehaving agent cannot grow memory or the tables.
Nothing here does I/O.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from heron.core.batch import Batch

#: The TSDB tables (tenant cnosdb, database public) history and state changes go to.
STATUS_TABLE = "server_status"
EVENTS_TABLE = "server_events"
#: Rows kept for the TSDB when writing falls behind; the oldest are dropped beyond this.
MAX_PENDING_ROWS = 200_000
#: How far in the future an agent's timestamp may be before the server's clock is used instead.
MAX_CLOCK_SKEW_SECONDS = 60.0

#: Host keys and types (Nezha's ``host`` block, with the agent's addresses and GPUs).
HOST_FIELDS: dict[str, type] = {
    "Platform": str,
    "PlatformVersion": str,
    "CPU": list,
    "MemTotal": int,
    "DiskTotal": int,
    "SwapTotal": int,
    "Arch": str,
    "Virtualization": str,
    "BootTime": int,
    "Version": str,
    "GPU": list,
    "IPv4": str,
    "IPv6": str,
}

#: Status keys, their types and their history column (Nezha's ``status`` block).
STATUS_FIELDS: dict[str, tuple[type, str]] = {
    "CPU": (float, "cpu"),
    "MemUsed": (int, "mem_used"),
    "SwapUsed": (int, "swap_used"),
    "DiskUsed": (int, "disk_used"),
    "NetInTransfer": (int, "net_in_transfer"),
    "NetOutTransfer": (int, "net_out_transfer"),
    "NetInSpeed": (int, "net_in_speed"),
    "NetOutSpeed": (int, "net_out_speed"),
    "Uptime": (int, "uptime"),
    "Load1": (float, "load1"),
    "Load5": (float, "load5"),
    "Load15": (float, "load15"),
    "TcpConnCount": (int, "tcp_conn"),
    "UdpConnCount": (int, "udp_conn"),
    "ProcessCount": (int, "process_count"),
}
#: Longest string and list kept from a report.
MAX_TEXT_CHARS = 255
MAX_LIST_ITEMS = 64


def _number(value: Any, kind: type) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0
    if kind is int:
        return max(0, min(int(value), 2**63 - 1))
    return round(float(value), 4)


def clean_host(raw: Any) -> dict[str, Any]:
    """The known keys of a host block, typed; anything else is dropped."""
    host: dict[str, Any] = {}
    source = raw if isinstance(raw, dict) else {}
    for key, kind in HOST_FIELDS.items():
        value = source.get(key)
        if kind is str:
            host[key] = value[:MAX_TEXT_CHARS] if isinstance(value, str) else ""
        elif kind is list:
            items = value if isinstance(value, list) else []
            host[key] = [v[:MAX_TEXT_CHARS] for v in items[:MAX_LIST_ITEMS] if isinstance(v, str)]
        else:
            host[key] = _number(value, kind)
    return host


def clean_status(raw: Any) -> dict[str, Any]:
    """The known keys of a status block, typed, with temperatures and GPU usage lists."""
    source = raw if isinstance(raw, dict) else {}
    status: dict[str, Any] = {key: _number(source.get(key), kind) for key, (kind, _col) in STATUS_FIELDS.items()}
    temps = source.get("Temperatures")
    status["Temperatures"] = [
        {"Name": str(t.get("Name", ""))[:MAX_TEXT_CHARS], "Temperature": _number(t.get("Temperature"), float)}
        for t in (temps if isinstance(temps, list) else [])[:MAX_LIST_ITEMS]
        if isinstance(t, dict)
    ]
    gpu = source.get("GPU")
    status["GPU"] = [_number(g, float) for g in (gpu if isinstance(gpu, list) else [])[:MAX_LIST_ITEMS]]
    return status


def empty_status() -> dict[str, Any]:
    """A status of zeros: what a server that never reported shows (Nezha does the same)."""
    return clean_status({})


@dataclass(slots=True)
class LiveServer:
    """What is known of one server since this process started."""

    server_id: int
    name: str
    host: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=empty_status)
    status_at: float = 0.0
    last_active: float = 0.0
    online: bool = False
    connections: int = 0


@dataclass(frozen=True, slots=True)
class StateChange:
    """A server went online or offline at ``at`` (Unix seconds); alerting will read these."""

    server_id: int
    name: str
    event: str
    at: float
    last_active: float


@dataclass(slots=True)
class _Row:
    server_id: int
    name: str
    at: float
    status: dict[str, Any]


class LiveState:
    """Thread-safe: the agent endpoint writes, API readers and the background task read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[int, LiveServer] = {}
        self._rows: list[_Row] = []
        self._changes: list[StateChange] = []
        self.dropped_rows = 0

    def connected(self, server_id: int, name: str, host: dict[str, Any], *, at: float) -> None:
        """An agent connected and sent its host block: the server is online from now."""
        with self._lock:
            live = self._servers.setdefault(server_id, LiveServer(server_id, name))
            live.name, live.host = name, host
            live.connections += 1
            self._touch(live, at)

    def disconnected(self, server_id: int) -> None:
        """The agent's connection ended; the server stays online until the timeout says otherwise."""
        with self._lock:
            live = self._servers.get(server_id)
            if live is not None:
                live.connections = max(0, live.connections - 1)

    def report(self, server_id: int, status: dict[str, Any], *, sent_at: float, received_at: float) -> None:
        """A status report: the newest becomes the live status; every one becomes a history row."""
        at = sent_at if 0 < sent_at <= received_at + MAX_CLOCK_SKEW_SECONDS else received_at
        with self._lock:
            live = self._servers.get(server_id)
            if live is None:
                return
            if at >= live.status_at:
                live.status, live.status_at = status, at
            self._touch(live, received_at)
            if len(self._rows) >= MAX_PENDING_ROWS:
                del self._rows[: len(self._rows) // 10]
                self.dropped_rows += MAX_PENDING_ROWS // 10
            self._rows.append(_Row(server_id, live.name, at, status))

    def _touch(self, live: LiveServer, at: float) -> None:
        live.last_active = max(live.last_active, at)
        if not live.online:
            live.online = True
            self._changes.append(StateChange(live.server_id, live.name, "online", at, live.last_active))

    def sweep(self, *, now: float, offline_after_seconds: float) -> list[StateChange]:
        """Mark servers silent for longer than the timeout offline; returns the new changes."""
        found = []
        with self._lock:
            for live in self._servers.values():
                if live.online and now - live.last_active > offline_after_seconds:
                    live.online = False
                    change = StateChange(live.server_id, live.name, "offline", now, live.last_active)
                    self._changes.append(change)
                    found.append(change)
        return found

    def rename(self, server_id: int, name: str) -> None:
        """The server was renamed: history rows and sightings from now on carry the new name."""
        with self._lock:
            live = self._servers.get(server_id)
            if live is not None:
                live.name = name

    def forget(self, server_id: int) -> None:
        """The server was deleted: its live state goes, and reports for it are ignored."""
        with self._lock:
            self._servers.pop(server_id, None)

    def agents_connected(self) -> int:
        """Servers with at least one agent connection open now."""
        with self._lock:
            return sum(1 for live in self._servers.values() if live.connections > 0)

    def name_of(self, server_id: int) -> str | None:
        """The server's current name, or ``None`` once it was deleted (cheap: no copy)."""
        with self._lock:
            live = self._servers.get(server_id)
            return live.name if live is not None else None

    def get(self, server_id: int) -> LiveServer | None:
        """A copy of the server's live record. Its ``host`` and ``status`` dicts are shared, not
        copied: they are replaced whole by each report, never changed in place, so readers must
        not change them either (the server list reads 2,000 of them every second)."""
        with self._lock:
            live = self._servers.get(server_id)
            if live is None:
                return None
            return LiveServer(
                live.server_id, live.name, live.host, live.status, live.status_at, live.last_active,
                live.online, live.connections,
            )  # fmt: skip

    def drain(self) -> list[Batch]:
        """History rows and state changes buffered since the last call, as TSDB batches."""
        with self._lock:
            rows, self._rows = self._rows, []
            changes, self._changes = self._changes, []
        batches = []
        if rows:
            batches.append(status_batch(rows))
        if changes:
            batches.append(events_batch(changes))
        return batches

    def count_lost(self, batches: list[Batch]) -> None:
        """Count rows a failed write could not store (the live state itself is unaffected)."""
        with self._lock:
            self.dropped_rows += sum(len(b) for b in batches)


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def status_batch(rows: list[_Row]) -> Batch:
    """Rows of ``server_status``: tags ``server_id`` and ``server_name``, one field per status key."""
    fields: dict[str, pa.Array] = {}
    for key, (kind, column) in STATUS_FIELDS.items():
        arrow_type = pa.int64() if kind is int else pa.float64()
        fields[column] = pa.array([r.status.get(key, 0) for r in rows], type=arrow_type)
    fields["temperature"] = pa.array(
        [max((t["Temperature"] for t in r.status.get("Temperatures", [])), default=None) for r in rows],
        type=pa.float64(),
    )
    fields["gpu"] = pa.array([max(r.status.get("GPU", []), default=None) for r in rows], type=pa.float64())
    return Batch(
        table=STATUS_TABLE,
        time=pa.array([_ns(r.at) for r in rows], type=pa.int64()),
        tags={
            "server_id": pa.array([str(r.server_id) for r in rows], type=pa.string()),
            "server_name": pa.array([r.name for r in rows], type=pa.string()),
        },
        fields=fields,
    )


def events_batch(changes: list[StateChange]) -> Batch:
    """Rows of ``server_events``: which server went ``online`` or ``offline``, and when it last reported."""
    return Batch(
        table=EVENTS_TABLE,
        time=pa.array([_ns(c.at) for c in changes], type=pa.int64()),
        tags={
            "server_id": pa.array([str(c.server_id) for c in changes], type=pa.string()),
            "server_name": pa.array([c.name for c in changes], type=pa.string()),
        },
        fields={
            "event": pa.array([c.event for c in changes], type=pa.string()),
            "last_active": pa.array([c.last_active for c in changes], type=pa.float64()),
        },
    )
