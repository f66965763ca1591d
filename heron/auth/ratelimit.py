"""Login rate limits and the WAF: bans for addresses that keep presenting wrong credentials.

Two separate defences:

* **Rate limit** (in memory, per process): at most ``login_attempts_per_minute`` logins per
  address and per username in any 60 s, right or wrong; the next one gets ``429`` with
  ``Retry-After``. Per username stops a slow guess spread over many addresses.
* **Ban** (in the metadata database, shared by every node, listed at ``GET /api/v1/waf``):
  each wrong password, unknown token or API key from an address counts; ``max_failures``
  within ``failure_window_seconds`` bans the address for ``ban_seconds`` (``403`` on every
  request that carries credentials). An admin lifts it with ``DELETE /api/v1/waf``. Bans are
  read from the database at most every :data:`BAN_REFRESH_SECONDS`, so checking costs no query.

The reasons and identifiers follow Nezha's WAF so its tooling reads the list the same way.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from sqlalchemy import delete, func, select

from heron.auth.users import aware
from heron.core.errors import Blocked, RateLimited
from heron.meta.db import MetaStore
from heron.meta.models import WafEntry

#: How stale this process's view of the ban list may get.
BAN_REFRESH_SECONDS = 2.0
#: Length of the rate-limit window.
RATE_WINDOW_SECONDS = 60.0
#: Block identifiers that are not user ids (Nezha's values).
BLOCK_ID_TOKEN = -126
BLOCK_ID_UNKNOWN_USER = -125
BLOCK_ID_MANUAL = 0
#: ``blocked_until`` of a manual block: until an admin lifts it.
PERMANENT = datetime(9999, 1, 1, tzinfo=UTC)
#: Most keys the in-memory rate limiter tracks before it forgets idle ones.
MAX_TRACKED_KEYS = 50_000


class BlockReason(IntEnum):
    LOGIN_FAIL = 1
    BRUTE_FORCE_TOKEN = 2
    AGENT_AUTH_FAIL = 3
    MANUAL = 4


@dataclass(frozen=True, slots=True)
class WafPolicy:
    max_failures: int = 10
    failure_window_seconds: float = 600.0
    ban_seconds: float = 900.0
    login_attempts_per_minute: int = 10


@dataclass(frozen=True, slots=True)
class WafEntryInfo:
    ip: str
    block_identifier: int
    block_reason: int
    block_timestamp: int
    count: int
    blocked_until: datetime | None


def _info(row: WafEntry) -> WafEntryInfo:
    return WafEntryInfo(
        ip=row.ip,
        block_identifier=row.block_identifier,
        block_reason=row.block_reason,
        block_timestamp=int(aware(row.last_failure_at).timestamp()),
        count=row.count,
        blocked_until=aware(row.blocked_until) if row.blocked_until else None,
    )


class Waf:
    """Rate limits, failure counts and bans."""

    def __init__(self, meta: MetaStore, policy: WafPolicy) -> None:
        self._meta = meta
        self.policy = policy
        self._lock = threading.Lock()
        self._attempts: dict[str, deque[float]] = {}
        self._bans: dict[str, float] = {}
        self._bans_loaded = -1e9

    # -- bans ---------------------------------------------------------------------------------

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._bans_loaded < BAN_REFRESH_SECONDS:
            return
        with self._meta.session() as s:
            rows = s.execute(
                select(WafEntry.ip, WafEntry.blocked_until).where(WafEntry.blocked_until > datetime.now(UTC))
            ).all()
        with self._lock:
            self._bans = {ip: aware(until).timestamp() for ip, until in rows if until is not None}
            self._bans_loaded = now

    def check(self, ip: str) -> None:
        """Raise :class:`Blocked` when ``ip`` is banned."""
        self._refresh()
        with self._lock:
            until = self._bans.get(ip)
        if until is not None and until > time.time():
            when = (
                "until an admin lifts it"
                if until >= PERMANENT.timestamp()
                else ("until " + datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds"))
            )
            raise Blocked(f"address {ip} is blocked after repeated failed logins, {when} (see /api/v1/waf)")

    def record_failure(self, ip: str, reason: BlockReason, identifier: int) -> bool:
        """Count a failure from ``ip``; True when it now is banned."""
        now = datetime.now(UTC)
        window = timedelta(seconds=self.policy.failure_window_seconds)
        with self._lock, self._meta.session() as s:
            row = s.get(WafEntry, ip)
            if row is None:
                row = WafEntry(ip=ip, count=0, first_failure_at=now, block_identifier=identifier, block_reason=reason)
                s.add(row)
            elif now - aware(row.last_failure_at) > window and not self._active(row, now):
                row.count, row.first_failure_at, row.blocked_until = 0, now, None
            row.count += 1
            row.last_failure_at, row.block_reason, row.block_identifier = now, int(reason), identifier
            if row.count >= self.policy.max_failures and not self._active(row, now):
                row.blocked_until = now + timedelta(seconds=self.policy.ban_seconds)
            banned = self._active(row, now)
            if banned and row.blocked_until is not None:
                self._bans[ip] = aware(row.blocked_until).timestamp()
            return banned

    @staticmethod
    def _active(row: WafEntry, now: datetime) -> bool:
        return row.blocked_until is not None and aware(row.blocked_until) > now

    def record_success(self, ip: str) -> None:
        """A correct login forgets earlier failures of an address that is not banned."""
        now = datetime.now(UTC)
        with self._meta.session() as s:
            row = s.get(WafEntry, ip)
            if row is not None and not self._active(row, now):
                s.delete(row)

    def block(self, ips: list[str], *, identifier: int = BLOCK_ID_MANUAL) -> None:
        """Ban ``ips`` until lifted (an admin's decision, ``/api/v1/online-user/batch-block``)."""
        now = datetime.now(UTC)
        with self._lock, self._meta.session() as s:
            for ip in ips:
                row = s.get(WafEntry, ip) or WafEntry(ip=ip, count=0, first_failure_at=now)
                row.block_identifier, row.block_reason = identifier, int(BlockReason.MANUAL)
                row.last_failure_at, row.blocked_until = now, PERMANENT
                s.add(row)
                self._bans[ip] = PERMANENT.timestamp()

    def lift(self, ips: list[str]) -> int:
        """Forget ``ips`` entirely (failures and bans); returns how many entries went."""
        with self._lock, self._meta.session() as s:
            removed = int(s.execute(delete(WafEntry).where(WafEntry.ip.in_(ips))).rowcount or 0)  # type: ignore[attr-defined]
            for ip in ips:
                self._bans.pop(ip, None)
        return removed

    def list(self, *, offset: int, limit: int) -> list[WafEntryInfo]:
        with self._meta.session() as s:
            rows = s.scalars(select(WafEntry).order_by(WafEntry.last_failure_at.desc()).offset(offset).limit(limit))
            return [_info(r) for r in rows]

    def count(self) -> int:
        with self._meta.session() as s:
            return int(s.scalar(select(func.count()).select_from(WafEntry)) or 0)

    # -- rate limit ---------------------------------------------------------------------------

    def check_login_rate(self, ip: str, username: str) -> None:
        """Count a login attempt; :class:`RateLimited` when the address or the username is over its rate."""
        now = time.monotonic()
        limit = self.policy.login_attempts_per_minute
        with self._lock:
            if len(self._attempts) > MAX_TRACKED_KEYS:
                self._attempts = {k: q for k, q in self._attempts.items() if q and now - q[-1] < RATE_WINDOW_SECONDS}
            waits = []
            for key in (f"ip:{ip}", f"user:{username}"):
                q = self._attempts.setdefault(key, deque())
                while q and now - q[0] >= RATE_WINDOW_SECONDS:
                    q.popleft()
                if len(q) >= limit:
                    waits.append(RATE_WINDOW_SECONDS - (now - q[0]))
            if waits:
                raise RateLimited(
                    f"too many login attempts from this address or for this user; at most {limit} per minute",
                    retry_after_seconds=max(1, int(max(waits)) + 1),
                )
            for key in (f"ip:{ip}", f"user:{username}"):
                self._attempts[key].append(now)
