"""Users: accounts and profiles, the first admin, and password checks with a short-lived cache.

Argon2 costs tens of milliseconds by design. Push clients send Basic credentials with every
request, so a verified (username, password) pair is remembered for ``cache_seconds`` under
a keyed hash of the pair: the cache never holds a password, and a changed password misses.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import func, select

from heron.auth.passwords import hash_password, random_password, verify_password
from heron.core.errors import BadRequest, NotFound, Unauthorized
from heron.meta.db import MetaStore
from heron.meta.models import User

ROLES = ("admin", "member")
#: The role of a visitor who sent no credentials (never stored: guests have no account).
GUEST_ROLE = "guest"
#: Shortest password accepted.
MIN_PASSWORD_CHARS = 8
#: How often a user's ``last_active_at`` is written at most, so requests do not each write metadata.
LAST_ACTIVE_RESOLUTION_SECONDS = 60.0
#: Profile fields a user may change on their own account.
PROFILE_FIELDS = ("nickname", "email", "phone", "contacts", "avatar")

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking, as request handlers see it: a user, an agent, or a guest.

    ``via`` names the credential that proved it (``password``, ``jwt``, ``cookie``, ``token``,
    ``apikey``, ``agent`` or ``none`` for a guest); ``session_id`` is the login session of a JWT;
    ``scopes`` limit a scoped token to less than its owner may do.
    """

    user_id: int
    username: str
    role: str
    via: str = "password"
    session_id: int | None = None
    #: A scoped token's scopes (:mod:`heron.auth.scopes`); None for every other credential.
    scopes: tuple[str, ...] | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_guest(self) -> bool:
        return self.role == GUEST_ROLE

    @property
    def is_user(self) -> bool:
        """A person or script with an account (not a guest, not a configured push agent)."""
        return self.role in ROLES and self.user_id > 0


#: The principal of a request that presented no credentials.
GUEST = Principal(0, "guest", GUEST_ROLE, via="none")


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user account with its profile; never carries the password hash."""

    id: int
    username: str
    role: str
    nickname: str
    email: str
    phone: str
    contacts: dict[str, str]
    avatar: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    last_active_at: datetime | None = None
    password_change_required: bool = False


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; Heron stores UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _record(user: User) -> UserRecord:
    return UserRecord(
        id=user.id,
        username=user.username,
        role=user.role,
        nickname=user.nickname,
        email=user.email,
        phone=user.phone,
        contacts=orjson.loads(user.contacts or "{}"),
        avatar=user.avatar,
        created_at=aware(user.created_at),
        created_by=user.created_by,
        updated_at=aware(user.updated_at),
        updated_by=user.updated_by,
        last_active_at=aware(user.last_active_at) if user.last_active_at else None,
        password_change_required=bool(user.password_change_required),
    )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise BadRequest(f"a password needs at least {MIN_PASSWORD_CHARS} characters")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise BadRequest(f"invalid role '{role}': expected one of {', '.join(ROLES)}")


def _apply_profile(user: User, changes: dict[str, Any]) -> None:
    for name in PROFILE_FIELDS:
        if name not in changes or changes[name] is None:
            continue
        value = changes[name]
        if name == "contacts":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise BadRequest('contacts must be an object of strings, such as {"wecomid": "alice"}')
            encoded = orjson.dumps(value).decode()
            if len(encoded) > 4096:
                raise BadRequest("contacts may hold at most 4096 bytes of JSON")
            user.contacts = encoded
        else:
            setattr(user, name, str(value))


class UserDirectory:
    """User accounts on the metadata store."""

    def __init__(self, meta: MetaStore, *, cache_seconds: float = 60.0) -> None:
        self._meta = meta
        self._cache_seconds = cache_seconds
        self._cache: dict[bytes, tuple[float, Principal]] = {}
        self._cache_key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._touched: dict[int, float] = {}

    def count(self) -> int:
        with self._meta.session() as s:
            return int(s.scalar(select(func.count()).select_from(User)) or 0)

    def create(
        self, username: str, password: str, *, role: str = "member", created_by: str = "system", **profile: Any
    ) -> Principal:
        _check_role(role)
        if not _USERNAME.match(username or ""):
            raise BadRequest("a username needs 1 to 64 characters: letters, digits, '_', '.', '@' or '-'")
        _check_password(password)
        with self._meta.session() as s:
            if s.scalar(select(User).where(User.username == username)) is not None:
                raise BadRequest(f"user '{username}' already exists")
            user = User(
                username=username,
                password_hash=hash_password(password),
                role=role,
                created_by=created_by,
                updated_by=created_by,
            )
            _apply_profile(user, profile)
            s.add(user)
            s.flush()
            return Principal(user.id, user.username, user.role)

    def get(self, user_id: int) -> UserRecord:
        with self._meta.session() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound(f"user {user_id} does not exist")
            return _record(user)

    def principal_of(self, user_id: int, *, via: str, session_id: int | None = None) -> Principal | None:
        """The principal of an account a token or session points to, read fresh (role changes count)."""
        with self._meta.session() as s:
            user = s.get(User, user_id)
            if user is None:
                return None
            return Principal(user.id, user.username, user.role, via=via, session_id=session_id)

    def list(self, *, offset: int, limit: int) -> list[UserRecord]:
        with self._meta.session() as s:
            rows = s.scalars(select(User).order_by(User.id).offset(offset).limit(limit))
            return [_record(u) for u in rows]

    def update(self, user_id: int, changes: dict[str, Any], *, by: str) -> UserRecord:
        """Change an account as an admin would: username, role, password and profile fields."""
        with self._meta.session() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound(f"user {user_id} does not exist")
            if changes.get("username") and changes["username"] != user.username:
                if not _USERNAME.match(changes["username"]):
                    raise BadRequest("a username needs 1 to 64 characters: letters, digits, '_', '.', '@' or '-'")
                if s.scalar(select(User).where(User.username == changes["username"])) is not None:
                    raise BadRequest(f"user '{changes['username']}' already exists")
                user.username = changes["username"]
            if changes.get("role") and changes["role"] != user.role:
                _check_role(changes["role"])
                if user.role == "admin" and self._admins(s) <= 1:
                    raise BadRequest("the last admin cannot be made a member; make another user admin first")
                user.role = changes["role"]
            if changes.get("password"):
                _check_password(changes["password"])
                user.password_hash = hash_password(changes["password"])
            _apply_profile(user, changes)
            user.updated_by = by
            s.flush()
            record = _record(user)
        self.forget_all()
        return record

    def delete(self, user_id: int) -> None:
        with self._meta.session() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound(f"user {user_id} does not exist")
            if user.role == "admin" and self._admins(s) <= 1:
                raise BadRequest("the last admin cannot be deleted")
            s.delete(user)
        self.forget_all()

    @staticmethod
    def _admins(s: Any) -> int:
        return int(s.scalar(select(func.count()).select_from(User).where(User.role == "admin")) or 0)

    def set_password(self, username: str, password: str) -> None:
        _check_password(password)
        with self._meta.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound(f"user '{username}' does not exist")
            user.password_hash = hash_password(password)
            user.password_change_required = False
        self.forget_all()

    def change_own_password(self, user_id: int, original: str, new: str) -> None:
        """A user changing their password proves the old one first."""
        _check_password(new)
        with self._meta.session() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound(f"user {user_id} does not exist")
            if not verify_password(user.password_hash, original):
                raise Unauthorized("the original password is incorrect")
            user.password_hash = hash_password(new)
            user.password_change_required = False
            user.updated_by = user.username
        self.forget_all()

    def update_profile(self, user_id: int, changes: dict[str, Any]) -> UserRecord:
        with self._meta.session() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound(f"user {user_id} does not exist")
            _apply_profile(user, changes)
            user.updated_by = user.username
            s.flush()
            return _record(user)

    def touch(self, user_id: int) -> None:
        """Note that ``user_id`` was active now; writes at most once a minute per user."""
        now = time.monotonic()
        with self._lock:
            if now - self._touched.get(user_id, -1e9) < LAST_ACTIVE_RESOLUTION_SECONDS:
                return
            self._touched[user_id] = now
        with self._meta.session() as s:
            user = s.get(User, user_id)
            if user is not None:
                user.last_active_at = datetime.now(UTC)

    def ensure_admin(self, configured_password: str) -> str | None:
        """Create ``admin`` when no user exists; return the password if it was generated."""
        if self.count():
            return None
        password = configured_password or random_password()
        created = self.create("admin", password, role="admin", nickname="Administrator")
        if configured_password:
            return None
        with self._meta.session() as s:
            user = s.get(User, created.user_id)
            if user is not None:
                # Printed once on a terminal: the web UI asks for a new one at the first login.
                user.password_change_required = True
        return password

    def user_id_of(self, username: str) -> int | None:
        with self._meta.session() as s:
            return s.scalar(select(User.id).where(User.username == username))

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
