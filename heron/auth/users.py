"""Users: creation, the first admin, and password checks with a short-lived cache.

Argon2 costs tens of milliseconds by design. Push clients send Basic credentials with every
request, so a verified (username, password) pair is remembered for ``cache_seconds`` under
a keyed hash of the pair: the cache never holds a password, and a changed password misses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import func, select

from heron.auth.passwords import hash_password, random_password, verify_password
from heron.core.errors import BadRequest, NotFound
from heron.meta.db import MetaStore
from heron.meta.models import User

ROLES = ("admin", "member")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user, as request handlers see it."""

    user_id: int
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class UserDirectory:
    """User accounts on the metadata store."""

    def __init__(self, meta: MetaStore, *, cache_seconds: float = 60.0) -> None:
        self._meta = meta
        self._cache_seconds = cache_seconds
        self._cache: dict[bytes, tuple[float, Principal]] = {}
        self._cache_key = secrets.token_bytes(32)
        self._lock = threading.Lock()

    def count(self) -> int:
        with self._meta.session() as s:
            return int(s.scalar(select(func.count()).select_from(User)) or 0)

    def create(self, username: str, password: str, *, role: str = "member") -> Principal:
        if role not in ROLES:
            raise BadRequest(f"invalid role '{role}': expected one of {', '.join(ROLES)}")
        if not username or len(username) > 64:
            raise BadRequest("a username needs 1 to 64 characters")
        if len(password) < 8:
            raise BadRequest("a password needs at least 8 characters")
        with self._meta.session() as s:
            if s.scalar(select(User).where(User.username == username)) is not None:
                raise BadRequest(f"user '{username}' already exists")
            user = User(username=username, password_hash=hash_password(password), role=role)
            s.add(user)
            s.flush()
            return Principal(user.id, user.username, user.role)

    def set_password(self, username: str, password: str) -> None:
        if len(password) < 8:
            raise BadRequest("a password needs at least 8 characters")
        with self._meta.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound(f"user '{username}' does not exist")
            user.password_hash = hash_password(password)
        self.forget_all()

    def ensure_admin(self, configured_password: str) -> str | None:
        """Create ``admin`` when no user exists; return the password if it was generated."""
        if self.count():
            return None
        password = configured_password or random_password()
        self.create("admin", password, role="admin")
        return None if configured_password else password

    def authenticate(self, username: str, password: str) -> Principal | None:
        """The principal for a username and password, or None."""
        key = hmac.new(self._cache_key, f"{username}\0{password}".encode(), hashlib.sha256).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._meta.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None or not verify_password(user.password_hash, password):
                return None
            principal = Principal(user.id, user.username, user.role)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now + self._cache_seconds, principal)
        return principal

    def forget_all(self) -> None:
        with self._lock:
            self._cache.clear()
