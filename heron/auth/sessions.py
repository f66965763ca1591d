"""Login sessions: what a JWT points to, so logout and admins can end it, and online users can be listed.

The session id inside a JWT is a random secret; the database holds its SHA-256 only, so a
copy of the metadata database does not hand out live sessions.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from heron.auth.tokens import LAST_USED_RESOLUTION, hash_secret
from heron.auth.users import aware
from heron.meta.db import MetaStore
from heron.meta.models import LoginSession, User

MAX_USER_AGENT_CHARS = 255


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: int
    user_id: int
    username: str
    ip: str
    user_agent: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def _info(row: LoginSession, username: str) -> SessionInfo:
    return SessionInfo(
        id=row.id,
        user_id=row.user_id,
        username=username,
        ip=row.ip,
        user_agent=row.user_agent,
        created_at=aware(row.created_at),
        last_seen_at=aware(row.last_seen_at),
        expires_at=aware(row.expires_at),
    )


class SessionStore:
    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta

    def open(self, user_id: int, *, ip: str, user_agent: str, ttl_seconds: float) -> tuple[int, str, datetime]:
        """A new session: (row id, the secret for the JWT, expiry)."""
        secret = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=ttl_seconds)
        with self._meta.session() as s:
            s.execute(delete(LoginSession).where(LoginSession.expires_at < now))
            row = LoginSession(
                user_id=user_id,
                secret_hash=hash_secret(secret),
                ip=ip,
                user_agent=user_agent[:MAX_USER_AGENT_CHARS],
                created_at=now,
                last_seen_at=now,
                expires_at=expires,
            )
            s.add(row)
            s.flush()
            return row.id, secret, expires

    def validate(self, secret: str) -> int | None:
        """The row id of the live session holding ``secret``, or None (ended, expired or unknown)."""
        now = datetime.now(UTC)
        with self._meta.session() as s:
            row = s.scalar(select(LoginSession).where(LoginSession.secret_hash == hash_secret(secret)))
            if row is None or aware(row.expires_at) <= now:
                return None
            if now - aware(row.last_seen_at) > LAST_USED_RESOLUTION:
                row.last_seen_at = now
            return row.id

    def extend(self, session_id: int, ttl_seconds: float) -> datetime:
        expires = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
        with self._meta.session() as s:
            row = s.get(LoginSession, session_id)
            if row is not None:
                row.expires_at = expires
        return expires

    def end(self, session_id: int) -> None:
        with self._meta.session() as s:
            s.execute(delete(LoginSession).where(LoginSession.id == session_id))

    def end_all_of(self, user_id: int, *, keep: int | None = None) -> int:
        """End every session of ``user_id`` except ``keep`` (after a password change); returns how many."""
        with self._meta.session() as s:
            q = delete(LoginSession).where(LoginSession.user_id == user_id)
            if keep is not None:
                q = q.where(LoginSession.id != keep)
            return int(s.execute(q).rowcount or 0)  # type: ignore[attr-defined]

    def end_from(self, ips: list[str]) -> int:
        with self._meta.session() as s:
            return int(s.execute(delete(LoginSession).where(LoginSession.ip.in_(ips))).rowcount or 0)  # type: ignore[attr-defined]

    def list_active(self, *, offset: int, limit: int) -> list[SessionInfo]:
        now = datetime.now(UTC)
        with self._meta.session() as s:
            rows = s.execute(
                select(LoginSession, User.username)
                .join(User, User.id == LoginSession.user_id)
                .where(LoginSession.expires_at > now)
                .order_by(LoginSession.id)
                .offset(offset)
                .limit(limit)
            )
            return [_info(r, name) for r, name in rows]

    def count_active(self) -> int:
        with self._meta.session() as s:
            q = select(func.count()).select_from(LoginSession).where(LoginSession.expires_at > datetime.now(UTC))
            return int(s.scalar(q) or 0)
