"""The monitors table: create, change, delete and list monitors, and who may do so.

Validation happens here, before anything is stored: the kind's target and options
(:func:`heron.probes.checks.validate`, each problem a 400 naming the field), the interval,
timeout and retries. Name resolution and the private-address rule need the network and the
caller's role, so the API layer does them (:func:`heron.probes.targets.check_target`) before
calling :meth:`MonitorStore.create` or :meth:`MonitorStore.update`.

Readers (the scheduler, the agent assignments, every list route) use :meth:`MonitorStore.all`,
a snapshot re-read after each change and at least every :data:`RELOAD_SECONDS`, so listing
monitors costs no query per request.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import delete, select

from heron.auth.permissions import Action, Resource, require
from heron.auth.users import Principal
from heron.core.errors import BadRequest, NotFound
from heron.meta.db import MetaStore
from heron.meta.models import Monitor
from heron.probes import checks
from heron.probes.spec import KIND_BY_NUMBER, KIND_NUMBERS, ProbeSpec

RELOAD_SECONDS = 10.0
MAX_INTERVAL_SECONDS = 86_400
MAX_TIMEOUT_SECONDS = 60.0
MAX_RETRIES = 20
MAX_BATCH = 1000
#: Nezha's cover modes: every server but the skipped ones, or only the listed ones.
COVER_ALL, COVER_LISTED = 0, 1
HERON_VANTAGES = ("always", "when_no_agent", "never")
#: How long after its period a push monitor waits for the call before it is down, by default.
DEFAULT_PUSH_GRACE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class MonitorInfo:
    id: int
    name: str
    kind: str
    target: str
    interval_seconds: int
    timeout_seconds: float
    retries: int
    min_latency_ms: float
    max_latency_ms: float
    latency_notify: bool
    notify: bool
    notification_group_id: int
    cover: int
    skip_servers: dict[int, bool]
    heron_vantage: str
    display_index: int
    hidden_for_guest: bool
    enabled: bool
    options: dict[str, Any]
    push_token: str | None
    owner_id: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def spec(self) -> ProbeSpec:
        return ProbeSpec(self.id, self.kind, self.target, self.interval_seconds, self.timeout_seconds, self.options)

    @property
    def resource(self) -> Resource:
        return Resource("service", owner_id=self.owner_id, hidden_for_guest=self.hidden_for_guest)

    def covers(self, server_id: int) -> bool:
        """Whether the agent of ``server_id`` runs this monitor (Nezha's ``cover``/``skip_servers``)."""
        if not self.enabled or self.kind == "push":
            return False
        listed = self.skip_servers.get(server_id, False)
        return not listed if self.cover == COVER_ALL else listed

    @property
    def cert_expiry_days(self) -> int:
        return int(self.options.get("cert_expiry_days", 0)) if self.kind == "http" else 0

    @property
    def push_grace_seconds(self) -> int:
        return int(self.options.get("grace_seconds", DEFAULT_PUSH_GRACE_SECONDS))


@dataclass(slots=True)
class MonitorChanges:
    """What a create or update sets; None leaves a field as it is (or takes the default on create)."""

    name: str | None = None
    kind: str | int | None = None
    target: str | None = None
    interval_seconds: int | None = None
    timeout_seconds: float | None = None
    retries: int | None = None
    min_latency_ms: float | None = None
    max_latency_ms: float | None = None
    latency_notify: bool | None = None
    notify: bool | None = None
    notification_group_id: int | None = None
    cover: int | None = None
    skip_servers: dict[int, bool] | None = None
    heron_vantage: str | None = None
    display_index: int | None = None
    hidden_for_guest: bool | None = None
    enabled: bool | None = None
    options: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def kind_name(raw: str | int | None) -> str:
    """The kind from Nezha's number (1 HTTP, 2 ICMP, 3 TCP) or Heron's name; 400 naming ``type``."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        if raw not in KIND_BY_NUMBER:
            known = ", ".join(f"{n} ({k})" for k, n in KIND_NUMBERS.items())
            raise BadRequest(f"type: unknown monitor type {raw}; known: {known}")
        return KIND_BY_NUMBER[raw]
    if isinstance(raw, str) and raw.lower() in KIND_NUMBERS:
        return raw.lower()
    raise BadRequest(f"type: unknown monitor type {raw!r}; known: {', '.join(KIND_NUMBERS)} (or Nezha's 1, 2, 3)")


def _validated(row: MonitorInfo) -> MonitorInfo:
    """The row with its target and options checked and normalised for its kind."""
    if not row.name.strip():
        raise BadRequest("name: a monitor needs a name")
    if not 1 <= row.interval_seconds <= MAX_INTERVAL_SECONDS:
        raise BadRequest(
            f"duration: the interval must be 1 to {MAX_INTERVAL_SECONDS} seconds, got {row.interval_seconds}"
        )
    if not 0 < row.timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise BadRequest(f"timeout: expected more than 0 and at most {MAX_TIMEOUT_SECONDS:g} seconds")
    if not 0 <= row.retries <= MAX_RETRIES:
        raise BadRequest(f"retries: expected 0 to {MAX_RETRIES}, got {row.retries}")
    if row.cover not in (COVER_ALL, COVER_LISTED):
        raise BadRequest(f"cover: expected 0 (all servers but skip_servers) or 1 (only skip_servers), got {row.cover}")
    if row.heron_vantage not in HERON_VANTAGES:
        raise BadRequest(f"heron_vantage: expected one of {', '.join(HERON_VANTAGES)}, got {row.heron_vantage!r}")
    if row.min_latency_ms < 0 or row.max_latency_ms < 0:
        raise BadRequest("max_latency: latencies are milliseconds, zero or more")
    if row.kind == "push":
        grace = row.options.get("grace_seconds", DEFAULT_PUSH_GRACE_SECONDS)
        if set(row.options) - {"grace_seconds"}:
            raise BadRequest("options: a push monitor has one option, grace_seconds")
        if not isinstance(grace, int) or isinstance(grace, bool) or not 0 <= grace <= MAX_INTERVAL_SECONDS:
            raise BadRequest(f"options.grace_seconds: expected 0 to {MAX_INTERVAL_SECONDS} seconds")
        return replace(row, target="", options={"grace_seconds": grace})
    target, options = checks.validate(row.kind, row.target, row.options)
    return replace(row, target=target, options=options)


def _info(m: Monitor) -> MonitorInfo:
    skip = orjson.loads(m.skip_servers or "{}")
    return MonitorInfo(
        id=m.id,
        name=m.name,
        kind=m.kind,
        target=m.target,
        interval_seconds=m.interval_seconds,
        timeout_seconds=float(m.timeout_seconds),
        retries=m.retries,
        min_latency_ms=float(m.min_latency_ms),
        max_latency_ms=float(m.max_latency_ms),
        latency_notify=bool(m.latency_notify),
        notify=bool(m.notify),
        notification_group_id=int(m.notification_group_id),
        cover=m.cover,
        skip_servers={int(k): bool(v) for k, v in skip.items()},
        heron_vantage=m.heron_vantage,
        display_index=m.display_index,
        hidden_for_guest=bool(m.hidden_for_guest),
        enabled=bool(m.enabled),
        options=orjson.loads(m.options or "{}"),
        push_token=m.push_token,
        owner_id=m.owner_id,
        created_at=_aware(m.created_at),
        updated_at=_aware(m.updated_at),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_STORED = [f.name for f in fields(MonitorInfo) if f.name not in ("id", "created_at", "updated_at", "push_token")]


def _store(m: Monitor, info: MonitorInfo) -> None:
    for name in _STORED:
        value = getattr(info, name)
        if name == "skip_servers":
            value = orjson.dumps({str(k): v for k, v in value.items()}).decode()
        elif name == "options":
            value = orjson.dumps(value).decode()
        setattr(m, name, value)


def _defaults(kind: str) -> MonitorInfo:
    now = datetime.now(UTC)
    return MonitorInfo(
        id=0, name="", kind=kind, target="", interval_seconds=30, timeout_seconds=10.0, retries=1,
        min_latency_ms=0.0, max_latency_ms=0.0, latency_notify=False, notify=False, notification_group_id=0,
        cover=COVER_ALL, skip_servers={}, heron_vantage="always", display_index=0, hidden_for_guest=False,
        enabled=True, options={}, push_token=None, owner_id=None, created_at=now, updated_at=now,
    )  # fmt: skip


def _apply(base: MonitorInfo, changes: MonitorChanges) -> MonitorInfo:
    values: dict[str, Any] = {}
    for f in fields(MonitorChanges):
        if f.name in ("extra", "kind"):
            continue
        value = getattr(changes, f.name)
        if value is not None:
            values[f.name] = value
    if changes.kind is not None:
        values["kind"] = kind_name(changes.kind)
        if values["kind"] != base.kind and changes.options is None:
            values["options"] = {}
    return replace(base, **values)


def new_push_token() -> str:
    """The secret part of a push URL (192 random bits, URL-safe)."""
    return secrets.token_urlsafe(24)


class MonitorStore:
    """Monitors in the metadata database, with an in-memory snapshot for readers."""

    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta
        self._lock = threading.Lock()
        self._snapshot: dict[int, MonitorInfo] = {}
        self._loaded = -1e9
        self.version = 0

    def all(self) -> dict[int, MonitorInfo]:
        """Every monitor by id (a snapshot: do not change it)."""
        if time.monotonic() - self._loaded >= RELOAD_SECONDS:
            self.reload()
        return self._snapshot

    def reload(self) -> None:
        with self._meta.session() as s:
            fresh = {m.id: _info(m) for m in s.scalars(select(Monitor))}
        with self._lock:
            if fresh != self._snapshot:  # a new snapshot object only for a real change (readers compare identity)
                self.version += 1
                self._snapshot = fresh
            self._loaded = time.monotonic()

    def get(self, monitor_id: int) -> MonitorInfo | None:
        return self.all().get(monitor_id)

    def by_push_token(self, token: str) -> MonitorInfo | None:
        for info in self.all().values():
            if info.push_token is not None and secrets.compare_digest(info.push_token, token):
                return info
        return None

    def prepare(self, user: Principal, changes: MonitorChanges, monitor_id: int | None = None) -> MonitorInfo:
        """The monitor as it would be stored, validated, without storing it (the API checks its target next)."""
        if monitor_id is None:
            require(user, Action.CREATE, Resource("service"))
            base = _defaults(kind_name(changes.kind if changes.kind is not None else "http"))
            return _validated(replace(_apply(base, changes), owner_id=user.user_id or None))
        current = self._owned(user, monitor_id, Action.UPDATE)
        return _validated(_apply(current, changes))

    def _owned(self, user: Principal, monitor_id: int, action: Action) -> MonitorInfo:
        current = self.all().get(monitor_id)
        if current is None:
            raise NotFound(f"no monitor with id {monitor_id}")
        require(user, action, current.resource)
        return current

    def save(self, info: MonitorInfo) -> MonitorInfo:
        """Store a prepared monitor (new when ``info.id`` is 0); push monitors get their token."""
        with self._meta.session() as s:
            m = s.get(Monitor, info.id) if info.id else Monitor()
            if m is None:
                raise NotFound(f"no monitor with id {info.id}")
            _store(m, info)
            if info.kind == "push" and not m.push_token:
                m.push_token = new_push_token()
            if info.kind != "push":
                m.push_token = None
            s.add(m)
            s.flush()
            saved = _info(m)
        self._put({saved.id: saved})
        return saved

    def _put(self, changed: dict[int, MonitorInfo], removed: tuple[int, ...] = ()) -> None:
        """Update the snapshot without re-reading every monitor (creating 2,000 stays linear)."""
        with self._lock:
            fresh = {**self._snapshot, **changed}
            for monitor_id in removed:
                fresh.pop(monitor_id, None)
            self._snapshot = fresh
            self.version += 1

    def delete(self, user: Principal, ids: list[int]) -> list[int]:
        """Delete monitors the caller may delete; all or nothing (one refused id refuses the batch)."""
        if len(ids) > MAX_BATCH:
            raise BadRequest(f"at most {MAX_BATCH} ids per request")
        wanted = sorted(set(ids))
        for monitor_id in wanted:
            self._owned(user, monitor_id, Action.DELETE)
        with self._meta.session() as s:
            s.execute(delete(Monitor).where(Monitor.id.in_(wanted)))
        self._put({}, tuple(wanted))
        return wanted


def changes_from(values: Mapping[str, Any]) -> MonitorChanges:
    known = {f.name for f in fields(MonitorChanges)}
    return MonitorChanges(**{k: v for k, v in values.items() if k in known})
